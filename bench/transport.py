"""Which HTTP client to stream with: CPU per streamed chat request, by client.

Replays one chat request (22 messages of history) against the local stub server and reads
its SSE stream to the end, decoding each event's JSON. Rows: agentkit's two transports and,
for scale, the `openai` SDK's typed `create()` and its low-level `post()` with a ready body.

    python bench/transport.py [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).parents[1]))

from agentkit.backends._http import AiohttpTransport, HttpxTransport, Transport
from bench.step_overhead import stub_server

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam


def history(n: int) -> list[ChatCompletionMessageParam]:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "You are a careful agent. " * 10}
    ]
    for i in range(n // 2):
        messages.append({"role": "user", "content": f"Question {i}: " + "lorem ipsum " * 20})
        messages.append({"role": "assistant", "content": "Answer " + "dolor sit amet " * 20})
    return messages[:n]


async def cpu_per_request(send: Callable[[], Awaitable[None]], requests: int) -> float:
    for _ in range(5):
        await send()
    samples = []
    for _ in range(5):
        c0 = time.process_time()
        for _ in range(requests // 5):
            await send()
        samples.append((time.process_time() - c0) / (requests // 5) * 1000)
    return statistics.median(samples)


async def measure(base_url: str, requests: int) -> list[tuple[str, float]]:
    import openai

    messages = history(22)
    body = {"model": "stub", "messages": messages, "stream": True, "temperature": 0.7}
    raw = json.dumps(body).encode()
    url = base_url + "/chat/completions"
    headers = {"Content-Type": "application/json"}
    rows = []
    for name, transport in (
        ("agentkit AiohttpTransport (default)", AiohttpTransport()),
        ("agentkit HttpxTransport", HttpxTransport()),
    ):

        async def send(t: Transport = transport) -> None:
            async for _ in t.stream(url, raw, headers):
                pass

        rows.append((name, await cpu_per_request(send, requests)))
        await transport.aclose()
    client = openai.AsyncOpenAI(base_url=base_url, api_key="EMPTY")

    async def sdk_create() -> None:
        stream = await client.chat.completions.create(
            model="stub", messages=messages, temperature=0.7, stream=True
        )
        async for _ in stream:
            pass

    async def sdk_post() -> None:
        stream = await client.post(
            "/chat/completions",
            cast_to=object,
            content=raw,
            options={"headers": headers},
            stream=True,
            stream_cls=openai.AsyncStream[object],
        )
        async for _ in stream:
            pass

    rows.append(("openai SDK chat.completions.create()", await cpu_per_request(sdk_create, requests)))
    rows.append(("openai SDK client.post() with a ready body", await cpu_per_request(sdk_post, requests)))
    await client.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with stub_server(token_delay=0) as base_url:
        rows = asyncio.run(measure(base_url, args.requests))
    print("\nCPU per streamed chat request (22-message history, ~25 SSE events), median\n")
    print(f"| {'client':<45} | CPU ms/request |")
    print(f"|{'-' * 47}|----------------|")
    for name, value in rows:
        print(f"| {name:<45} | {value:14.3f} |")


if __name__ == "__main__":
    main()
