"""A minimal OpenAI-compatible stub server for benchmarks, streaming like vLLM.

It answers `/v1/completions` and `/v1/chat/completions` with a Qwen3-style turn: reasoning
and one tool call while the conversation holds fewer than `--calls` tool results, then a
final answer. Text is streamed in 4-character pieces, one SSE event and one HTTP chunk each,
spaced by `--token-delay`, as vLLM streams tokens. It runs in its own process so that its CPU is not counted against the client.

`--latency` and `--slots` make it a server of fixed capacity, as a GPU is: each generation
request holds one of `--slots` places for `--latency` seconds before its events are sent,
and requests beyond the slots wait for one (as vLLM queues past `--max-num-seqs`). Its
throughput is then `slots / latency` requests a second, whatever the client sends.

    python bench/stub_server.py --port 8765 --calls 9
    python bench/stub_server.py --port 8765 --latency 0.05 --slots 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

REASONING = "I need to call the tool again to make progress on the task."
ANSWER = "All steps are done; the final result is 42."
PIECE = 4


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


def chat(body: dict[str, Any], calls: int) -> list[bytes]:
    done = sum(1 for m in body["messages"] if m.get("role") == "tool")

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "x",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "stub",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    events = [chunk({"role": "assistant", "content": ""})]
    if done < calls:
        events += [chunk({"reasoning": p}) for p in _pieces("\n" + REASONING + "\n")]
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": f"call_{done}",
                            "type": "function",
                            "function": {"name": "step", "arguments": ""},
                        }
                    ]
                }
            )
        )
        events += [
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]})
            for p in _pieces(f'{{"n": {done + 1}}}')
        ]
        events.append(chunk({}, "tool_calls"))
    else:
        events += [chunk({"content": p}) for p in _pieces(ANSWER)]
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
                    data = (
                        chat(body, calls) if path.endswith("/chat/completions") else completions(body, calls)
                    )
                    if capacity is not None:
                        async with capacity:
                            await asyncio.sleep(latency)
                    elif latency:
                        await asyncio.sleep(latency)
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
