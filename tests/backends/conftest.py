"""A model server on the wire, for each transport, driven by the same respx routes.

With the httpx transport, respx intercepts the requests inside httpx. With the aiohttp
transport (the default), a real HTTP server on 127.0.0.1 answers them by asking the same
respx router, and streams each response chunk as a separate write. Either way the tests
see the exact request bodies and feed the exact SSE bytes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx

BASE = "http://127.0.0.1:8000/v1"


class Chunks(httpx.AsyncByteStream):
    """A response body delivered in the given pieces."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


def sse(events: Iterable[dict[str, Any]], *, split: int = 0, done: bool = True) -> httpx.Response:
    """An SSE response of these events; `split` cuts the bytes every `split` bytes."""
    body = b"".join(b"data: " + json.dumps(e, ensure_ascii=False).encode() + b"\n\n" for e in events)
    if done:
        body += b"data: [DONE]\n\n"
    chunks = [body[i : i + split] for i in range(0, len(body), split)] if split else [body]
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Chunks(chunks))


def completion_events(
    pieces: list[str], *, finish: str = "stop", usage: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    """Chunks as vLLM's /v1/completions streams them: one text piece each, then usage."""
    events: list[dict[str, Any]] = [
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "text": piece, "logprobs": None, "finish_reason": None}],
        }
        for piece in pieces
    ]
    events.append(
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "text": "", "logprobs": None, "finish_reason": finish}],
        }
    )
    events.append(
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 0,
            "model": "m",
            "choices": [],
            "usage": usage
            or {"prompt_tokens": 100, "completion_tokens": len(pieces), "total_tokens": 100 + len(pieces)},
        }
    )
    return events


def chat_events(
    deltas: list[dict[str, Any]], *, finish: str = "stop", usage: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    """Chunks as /v1/chat/completions streams them: a role delta, the given deltas, the end."""

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }

    events = [chunk({"role": "assistant", "content": ""}), *(chunk(d) for d in deltas), chunk({}, finish)]
    events.append(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": [],
            "usage": usage or {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60},
        }
    )
    return events


@dataclass
class Wire:
    """The fake server of one test: respx routes, recorded requests, the transport to use."""

    router: respx.Router
    transport: str
    base_url: str

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [
            json.loads(call.request.content)
            for call in self.router.calls
            if call.request.url.path.endswith(path)
        ]


async def _loopback(router: respx.Router) -> tuple[Any, str]:
    from aiohttp import web

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        proxied = httpx.Request(
            request.method,
            BASE.rsplit("/v1", 1)[0] + request.path_qs,
            headers=dict(request.headers),
            content=body,
        )
        answer = await router.async_handler(proxied)
        response = web.StreamResponse(
            status=answer.status_code,
            headers={"content-type": answer.headers.get("content-type", "application/json")},
        )
        await response.prepare(request)
        async for chunk in answer.stream:  # type: ignore[union-attr]
            await response.write(chunk)
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/v1"


EMPTY_LISTING = {"object": "list", "data": []}


@pytest.fixture(params=["aiohttp", "httpx"])
async def wire(request: pytest.FixtureRequest) -> AsyncIterator[Wire]:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    router.get("/models").mock(return_value=httpx.Response(200, json=EMPTY_LISTING))
    if request.param == "httpx":
        with respx.mock(base_url=BASE, assert_all_called=False) as mock:
            mock.get("/models").mock(return_value=httpx.Response(200, json=EMPTY_LISTING))
            yield Wire(mock, "httpx", BASE)
    else:
        runner, url = await _loopback(router)
        try:
            yield Wire(router, "aiohttp", url)
        finally:
            await runner.cleanup()
