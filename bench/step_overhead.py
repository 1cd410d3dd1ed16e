"""CPU per step of a 10-step tool loop against a local stub server, both backends.

A stub server (bench/stub_server.py, in its own process) streams vLLM-shaped responses:
nine steps that each call a tool, then an answer. This process's CPU time over a whole
run, divided by its steps, is what a step costs the client: building the body, sending,
reading and parsing the stream, dispatching the tool, feeding the result back.

A third row runs the same loop over an in-memory transport that answers from the stub's
code without any I/O (the SSE bytes are still split and JSON-decoded): agentkit's own work,
free of network and scheduler noise.

Two rows put it in scale, replaying the very same request bodies:
- "floor": a bare aiohttp client that sends each body and reads the stream's bytes,
  parsing nothing: the cost of HTTP and of waking up per streamed event, which any
  client pays. agentkit's own work is its row minus the floor.
- the `openai` SDK's typed `chat.completions.create(stream=True)`, iterated to the end.

Two server modes: "burst" (events written back to back) and "paced" (one event per
0.5 ms, so that, as with a real server, each event wakes the client up on its own).

    python bench/step_overhead.py [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from agentkit import Agent, tool
from agentkit.backends.chat import ChatBackend
from agentkit.backends.completions import CompletionsBackend

WARMUP = 3

sys.path.insert(0, str(Path(__file__).parents[1]))
from bench import stub_server as stub  # noqa: E402


@tool
async def step(n: int) -> str:
    """Do one step of the task."""
    return f"step {n} done"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"stub server did not start on port {port}")


@contextlib.contextmanager
def stub_server(token_delay: float) -> Iterator[str]:
    """The stub server in its own process; yields its base URL."""
    port = free_port()
    script = str(Path(__file__).with_name("stub_server.py"))
    stub = subprocess.Popen([sys.executable, script, "--port", str(port), "--token-delay", str(token_delay)])
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stub.terminate()
        stub.wait()


def recording(kind: type[Any], bodies: list[dict[str, Any]]) -> type[Any]:
    """A backend class that also keeps every request body it sends."""

    class Recording(kind):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            send: Callable[[dict[str, Any]], bytes] = self.server.body

            def body(fields: dict[str, Any]) -> bytes:
                if fields.get("stream"):  # a model call (not a prompt measured for the budget)
                    bodies.append(fields)
                return send(fields)

            self.server.body = body

    return Recording


async def per_step(run: Callable[[], Awaitable[int]], runs: int) -> float:
    """Median CPU milliseconds per step (or per request) over `runs` runs after warm-up."""
    samples = []
    for i in range(runs + WARMUP):
        c0 = time.process_time()
        steps = await run()
        if i >= WARMUP:
            samples.append((time.process_time() - c0) / steps * 1000)
    return statistics.median(samples)


class InMemory:
    """A transport answering from the stub server's code, without sockets.

    Responses are made once per (endpoint, step) and replayed, so that the stub's own JSON
    encoding is not counted; the body is not decoded either (a server's work).
    """

    def __init__(self) -> None:
        self.cache: dict[tuple[str, int], list[bytes]] = {}

    async def stream(self, url: str, body: bytes, headers: Any) -> Any:
        from agentkit.backends._http import _SSE

        chat = url.endswith("/chat/completions")
        done = body.count(b'"role": "tool"') if chat else body.count(b"<tool_response>")
        key = (url, done)
        if key not in self.cache:
            payload = json.loads(body)
            self.cache[key] = stub.chat(payload, 9) if chat else stub.completions(payload, 9)
        events = self.cache[key]
        sse = _SSE(url)
        for chunk in events:
            for event in sse.feed(chunk):
                yield event

    async def get_json(self, url: str, headers: Any) -> Any:
        return {"data": [{"id": "stub"}]}

    async def aclose(self) -> None:
        pass


async def measure_in_memory(runs: int) -> dict[str, float]:
    rows: dict[str, float] = {}
    for name in ("completions", "chat"):
        agent = Agent(
            "stub",
            "http://in-memory/v1",
            backend=name,
            tools=[step],
            transport=InMemory(),
            system_prompt="You are a careful agent.",
        )

        async def run_agent() -> int:
            result = await agent.run("Do the ten-step task.")
            assert result.ok and len(result.steps) == 10
            return len(result.steps)

        rows[f"agentkit {name}: own work, no I/O"] = await per_step(run_agent, runs)
    return rows


async def measure(base_url: str, runs: int, with_openai: bool) -> dict[str, float]:
    rows: dict[str, float] = {}
    bodies: dict[str, list[dict[str, Any]]] = {"completions": [], "chat": []}
    for name, kind in (("completions", CompletionsBackend), ("chat", ChatBackend)):
        backend = recording(kind, bodies[name])(base_url, "stub")
        agent = Agent(
            "stub", base_url, backend=backend, tools=[step], system_prompt="You are a careful agent."
        )

        async def run_agent() -> int:
            result = await agent.run("Do the ten-step task.")
            assert result.ok and len(result.steps) == 10, result.stop_reason
            return len(result.steps)

        rows[f"agentkit {name}: whole step"] = await per_step(run_agent, runs)
        await agent.aclose()

    import aiohttp

    for name, path in (("completions", "/completions"), ("chat", "/chat/completions")):
        payloads = [json.dumps(b).encode() for b in bodies[name][:10]]

        async def run_floor() -> int:
            async with aiohttp.ClientSession() as session:
                for payload in payloads:
                    async with session.post(
                        base_url + path, data=payload, headers={"Content-Type": "application/json"}
                    ) as resp:
                        async for _ in resp.content.iter_any():
                            pass
            return len(payloads)

        rows[f"floor: bare aiohttp, same {name} requests"] = await per_step(run_floor, runs)

    if with_openai:
        import openai

        standard = {
            "model",
            "messages",
            "stream",
            "stream_options",
            "tools",
            "tool_choice",
            "temperature",
            "top_p",
        }
        chat_bodies = bodies["chat"][:10]

        async def run_sdk() -> int:
            async with openai.AsyncOpenAI(base_url=base_url, api_key="EMPTY") as client:
                for body in chat_bodies:
                    extra = {k: v for k, v in body.items() if k not in standard}
                    kwargs = {k: v for k, v in body.items() if k in standard}
                    stream = await client.chat.completions.create(**kwargs, extra_body=extra)
                    async for _ in stream:
                        pass
            return len(chat_bodies)

        rows["openai SDK create(), same chat requests"] = await per_step(run_sdk, runs)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--no-openai", action="store_true", help="skip the openai SDK row")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for mode, delay in (("burst", 0.0), ("paced", 0.0005)):
        with stub_server(delay) as base_url:
            results[mode] = asyncio.run(measure(base_url, args.runs, not args.no_openai))
    own = asyncio.run(measure_in_memory(args.runs))
    print(f"\nClient CPU per step (ms, median of {args.runs} runs), 10-step tool loop, local stub server\n")
    print(f"| {'what':<45} | burst | paced |")
    print(f"|{'-' * 47}|-------|-------|")
    for name in results["burst"]:
        print(f"| {name:<45} | {results['burst'][name]:5.2f} | {results['paced'][name]:5.2f} |")
    for name, value in own.items():
        print(f"| {name:<45} | {value:5.2f} |   -   |")


if __name__ == "__main__":
    main()
