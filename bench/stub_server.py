"""A minimal OpenAI-compatible stub server for benchmarks, streaming like vLLM.

It answers `/v1/completions` and `/v1/chat/completions` with a Qwen3-style turn: reasoning
and one tool call while the conversation holds fewer than `--calls` tool results, then a
final answer. Text is streamed in 4-character pieces, one SSE event and one HTTP chunk each,
spaced by `--token-delay`, as vLLM streams tokens. It runs in its own process so that its CPU is not counted against the client.

`--latency` and `--slots` make it a server of fixed capacity, as a GPU is: each generation
request holds one of `--slots` places for `--latency` seconds before its events are sent,
and requests beyond the slots wait for one (as vLLM queues past `--max-num-seqs`). Its
throughput is then `slots / latency` requests a second, whatever the client sends.

For the peer frameworks (bench/peers/), a chat request is answered as vLLM would answer it:
- `"stream": false` gets one `chat.completion` object instead of an event stream;
- a request whose `tools` offer `final_answer` (smolagents) gets its answer as a call of it;
- a request with no `tools` whose prompt lists them in `<tools>` (Qwen-Agent's own
  function-calling prompt) gets the `<tool_call>` as text in `content`, as vLLM leaves it
  when the request names no tools;
- the steps done are counted from the tool results in any form: `tool` messages, or, for
  frameworks that send results as user text, the distinct `step N done` results of the
  benchmark's tool.

    python bench/stub_server.py --port 8765 --calls 9
    python bench/stub_server.py --port 8765 --latency 0.05 --slots 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from typing import Any

REASONING = "I need to call the tool again to make progress on the task."
ANSWER = "All steps are done; the final result is 42."
PIECE = 4
STEP_RESULT = re.compile(r"step (\d+) done")  # what the benchmarks' `step(n)` tool returns


def _pieces(text: str) -> list[str]:
    return [text[i : i + PIECE] for i in range(0, len(text), PIECE)]


def _sse(events: list[dict[str, Any]]) -> list[bytes]:
    return [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]


def completions(body: dict[str, Any], calls: int) -> list[bytes]:
    done = body["prompt"].count("<tool_response>")
    if done < calls:
        text = (
            f"<think>\n{REASONING}\n</think>\n\n<tool_call>\n"
            f'{{"name": "step", "arguments": {{"n": {done + 1}}}}}\n</tool_call>'
        )
    else:
        text = ANSWER
    events = [
        {
            "id": "c",
            "object": "text_completion",
            "created": 0,
            "model": "stub",
            "choices": [{"index": 0, "text": p, "logprobs": None, "finish_reason": None}],
        }
        for p in _pieces(text)
    ]
    events.append(
        {
            "id": "c",
            "object": "text_completion",
            "created": 0,
            "model": "stub",
            "choices": [{"index": 0, "text": "", "logprobs": None, "finish_reason": "stop"}],
        }
    )
    events.append(
        {
            "id": "c",
            "object": "text_completion",
            "created": 0,
            "model": "stub",
            "choices": [],
            "usage": {
                "prompt_tokens": len(body["prompt"]) // 4,
                "completion_tokens": len(events),
                "total_tokens": 0,
            },
        }
    )
    return _sse(events)


def _steps_done(messages: list[dict[str, Any]]) -> int:
    """Tool results in the conversation: `tool` messages, or results sent back as text."""
    results = sum(1 for m in messages if m.get("role") == "tool")
    if results:
        return results
    return len(set(STEP_RESULT.findall(json.dumps(messages[1:]))))


def _turn(body: dict[str, Any], calls: int) -> tuple[str, str, dict[str, Any] | None]:
    """This turn's reasoning, content and tool call (name and arguments), as vLLM parses them."""
    done = _steps_done(body["messages"])
    tools = {t["function"]["name"] for t in body.get("tools") or ()}
    if done < calls:
        call = {"id": f"call_{done}", "name": "step", "arguments": {"n": done + 1}}
    elif "final_answer" in tools:
        call = {"id": f"call_{done}", "name": "final_answer", "arguments": {"answer": ANSWER}}
    else:
        return "\n" + REASONING + "\n", ANSWER, None
    if not tools and "<tools>" in json.dumps(body["messages"][:1]):
        text = json.dumps({"name": call["name"], "arguments": call["arguments"]})
        return "\n" + REASONING + "\n", f"<tool_call>\n{text}\n</tool_call>", None
    return "\n" + REASONING + "\n", "", call


def chat_message(body: dict[str, Any], calls: int) -> bytes:
    """A whole `chat.completion` answer, for a request with `"stream": false`."""
    reasoning, content, call = _turn(body, calls)
    message: dict[str, Any] = {"role": "assistant", "content": content or None, "reasoning": reasoning}
    if call is not None:
        message["tool_calls"] = [
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
            }
        ]
    answer = {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "stub",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if call else "stop",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 30, "total_tokens": 130},
    }
    return json.dumps(answer).encode()


def chat(body: dict[str, Any], calls: int) -> list[bytes]:
    reasoning, content, call = _turn(body, calls)

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "x",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "stub",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    events = [chunk({"role": "assistant", "content": ""})]
    if call is not None:
        events += [chunk({"reasoning": p}) for p in _pieces(reasoning)]
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["name"], "arguments": ""},
                        }
                    ]
                }
            )
        )
        events += [
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]})
            for p in _pieces(json.dumps(call["arguments"]))
        ]
        events.append(chunk({}, "tool_calls"))
    elif content != ANSWER:  # a tool call as text, after the reasoning
        events += [chunk({"reasoning": p}) for p in _pieces(reasoning)]
        events += [chunk({"content": p}) for p in _pieces(content)]
        events.append(chunk({}, "stop"))
    else:
        events += [chunk({"content": p}) for p in _pieces(content)]
        events.append(chunk({}, "stop"))
    events.append(
        {
            "id": "x",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "stub",
            "choices": [],
            "usage": {"prompt_tokens": 100, "completion_tokens": len(events), "total_tokens": 0},
        }
    )
    return _sse(events)


async def serve(port: int, calls: int, token_delay: float, latency: float = 0.0, slots: int = 0) -> None:
    capacity = asyncio.Semaphore(slots) if slots else None

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                raw = await reader.readexactly(length) if length else b""
                if path.endswith("/models"):
                    payload = json.dumps({"object": "list", "data": [{"id": "stub"}]}).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                        % (len(payload), payload)
                    )
                else:
                    body = json.loads(raw)
                    is_chat = path.endswith("/chat/completions")
                    whole = chat_message(body, calls) if is_chat and not body.get("stream") else None
                    data = [] if whole else chat(body, calls) if is_chat else completions(body, calls)
                    if capacity is not None:
                        async with capacity:
                            await asyncio.sleep(latency)
                    elif latency:
                        await asyncio.sleep(latency)
                    if whole:
                        writer.write(
                            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                            % (len(whole), whole)
                        )
                        await writer.drain()
                        continue
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                    )
                    for event in data:  # one HTTP chunk per event, spaced like tokens
                        writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                        if token_delay:
                            await writer.drain()
                            await asyncio.sleep(token_delay)
                    writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--calls", type=int, default=9, help="tool-call steps before the answer")
    parser.add_argument("--token-delay", type=float, default=0.0005, help="seconds between events")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before a response's events")
    parser.add_argument("--slots", type=int, default=0, help="requests served at once (0: any number)")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.calls, args.token_delay, args.latency, args.slots))


if __name__ == "__main__":
    main()
