"""Lean async HTTP for model servers: POST a ready JSON body, read SSE or JSON back.

Two transports with one contract. `AiohttpTransport` is the default: measured on this
project's 2-core box (bench/transport.py), it spends the least CPU per streamed request.
`HttpxTransport` serves users who bring an httpx client (proxies, custom TLS) and lets respx
intercept requests in tests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from agentkit.errors import ModelError, ModelTimeout, ModelUnreachable

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "AiohttpTransport",
    "HttpxTransport",
    "Transport",
    "make_transport",
]

DEFAULT_CONNECT_TIMEOUT = 10.0
"""Seconds to open a connection to the model server."""

DEFAULT_READ_TIMEOUT = 600.0
"""Seconds to wait for the next bytes of a response (a long prefill on a busy GPU is slow)."""


class Transport(Protocol):
    """Moves request bodies to a server and decoded JSON back."""

    def stream(self, url: str, body: bytes, headers: Mapping[str, str]) -> AsyncIterator[dict[str, Any]]:
        """POST `body`; yield each server-sent event's JSON until `[DONE]`."""
        ...

    async def get_json(self, url: str, headers: Mapping[str, str]) -> Any:
        """GET `url`; return its decoded JSON body."""
        ...

    async def aclose(self) -> None: ...


class _SSE:
    """Server-sent events from a byte stream: each event's data, decoded, until `[DONE]`."""

    __slots__ = ("data", "done", "rest", "url")

    def __init__(self, url: str) -> None:
        self.url = url
        self.rest = b""
        self.data: list[bytes] = []
        self.done = False

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        """Read more bytes; return the events they complete (none once `[DONE]` came)."""
        lines = (self.rest + chunk if self.rest else chunk).split(b"\n")
        self.rest = lines.pop()
        out: list[dict[str, Any]] = []
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if line.startswith(b"data:"):
                self.data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif not line and self.data:  # a blank line ends an event
                data = self.data[0] if len(self.data) == 1 else b"\n".join(self.data)
                self.data = []
                if data == b"[DONE]":
                    self.done = True
                    break
                out.append(_decode(data, self.url))
            # other fields (event:, id:, retry:) and comments are not used by these APIs
        return out

    def close(self) -> list[dict[str, Any]]:
        """End of stream: an event without its closing blank line still counts."""
        return self.feed(b"\n\n") if (self.rest or self.data) and not self.done else []


def _decode(data: bytes, url: str) -> dict[str, Any]:
    try:
        event = json.loads(data.decode("utf-8", "surrogatepass"))
    except ValueError:
        raise ModelError(
            f"the server at {url} sent an event that is not JSON: {data[:200]!r}", url=url
        ) from None
    if isinstance(event, dict) and "error" in event and "choices" not in event:
        raise ModelError(f"the server at {url} reported an error mid-stream: {_error_text(event)}", url=url)
    return event  # type: ignore[no-any-return]


def _error_text(payload: Any) -> str:
    if isinstance(payload, dict):
        err = payload.get("error", payload)
        if isinstance(err, dict):
            return str(err.get("message") or err)
        if isinstance(payload.get("message"), str):
            return str(payload["message"])
        return str(err)
    return str(payload)


def _reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words."""
    for cause in (exc, exc.__cause__, exc.__context__, *getattr(exc, "args", ())):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, OSError) and cause.strerror and "Connect call failed" not in cause.strerror:
            return cause.strerror.lower()
    return str(exc) or type(exc).__name__


def http_error(url: str, status: int, body: bytes) -> ModelError:
    """A `ModelError` for a non-2xx response, with the server's own message."""
    try:
        detail = _error_text(json.loads(body))
    except ValueError:
        detail = body.decode("utf-8", "replace").strip()[:500]
    hint = ""
    if status == 404 and "model" in detail.lower():
        hint = " Check --model: GET /v1/models lists the names this server serves."
    return ModelError(
        f"the server at {url} answered HTTP {status}: {detail.rstrip('.')}.{hint}", url=url, status=status
    )


class AiohttpTransport:
    """The default transport (aiohttp), one connection pool per event loop.

    Args:
        connect_timeout: Seconds to open a connection.
        read_timeout: Seconds to wait for more bytes of a response.
    """

    def __init__(
        self,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._session: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> Any:
        import aiohttp

        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=self.connect_timeout, sock_read=self.read_timeout
            )
            self._session = aiohttp.ClientSession(timeout=timeout, skip_auto_headers=("User-Agent",))
            self._loop = loop
        return self._session

    async def stream(
        self, url: str, body: bytes, headers: Mapping[str, str]
    ) -> AsyncIterator[dict[str, Any]]:
        import aiohttp

        session = self._client()
        try:
            async with session.post(url, data=body, headers=headers) as resp:
                if resp.status >= 400:
                    raise http_error(url, resp.status, await resp.read())
                sse = _SSE(url)
                async for chunk in resp.content.iter_any():
                    for event in sse.feed(chunk):
                        yield event
                    if sse.done:
                        return
                for event in sse.close():
                    yield event
        except aiohttp.ClientConnectorError as exc:
            raise ModelUnreachable(_reason(exc.os_error or exc), url=url) from None
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            raise ModelTimeout(
                f"the server at {url} sent nothing for {self.read_timeout:g} s (read timeout)", url=url
            ) from None
        except aiohttp.ClientError as exc:
            raise ModelError(f"the connection to {url} failed: {exc}", url=url) from None

    async def get_json(self, url: str, headers: Mapping[str, str]) -> Any:
        import aiohttp

        session = self._client()
        try:
            async with session.get(url, headers=headers) as resp:
                payload = await resp.read()
                if resp.status >= 400:
                    raise http_error(url, resp.status, payload)
                return json.loads(payload) if payload else None
        except aiohttp.ClientConnectorError as exc:
            raise ModelUnreachable(_reason(exc.os_error or exc), url=url) from None
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            raise ModelTimeout(f"the server at {url} did not answer in time", url=url) from None
        except aiohttp.ClientError as exc:
            raise ModelError(f"the connection to {url} failed: {exc}", url=url) from None

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()


class HttpxTransport:
    """A transport over an `httpx.AsyncClient` (yours, or one it makes).

    Args:
        client: A configured client; the transport does not close a client it was given.
        connect_timeout: Seconds to open a connection (for a client it makes).
        read_timeout: Seconds to wait for more bytes (for a client it makes).
    """

    def __init__(
        self,
        client: Any = None,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self._given = client
        self._client_obj = client
        self._loop: asyncio.AbstractEventLoop | None = None
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout

    def _client(self) -> Any:
        import httpx

        if self._given is not None:
            return self._given
        loop = asyncio.get_running_loop()
        if self._client_obj is None or self._client_obj.is_closed or self._loop is not loop:
            timeout = httpx.Timeout(self.read_timeout, connect=self.connect_timeout)
            self._client_obj = httpx.AsyncClient(timeout=timeout)
            self._loop = loop
        return self._client_obj

    async def stream(
        self, url: str, body: bytes, headers: Mapping[str, str]
    ) -> AsyncIterator[dict[str, Any]]:
        import httpx

        client = self._client()
        try:
            async with client.stream("POST", url, content=body, headers=headers) as resp:
                if resp.status_code >= 400:
                    raise http_error(url, resp.status_code, await resp.aread())
                sse = _SSE(url)
                async for chunk in resp.aiter_bytes():
                    for event in sse.feed(chunk):
                        yield event
                    if sse.done:
                        return
                for event in sse.close():
                    yield event
        except httpx.ConnectError as exc:
            raise ModelUnreachable(_reason(exc), url=url) from None
        except httpx.TimeoutException:
            raise ModelTimeout(f"the server at {url} did not answer in time", url=url) from None
        except httpx.HTTPError as exc:
            raise ModelError(f"the connection to {url} failed: {exc}", url=url) from None

    async def get_json(self, url: str, headers: Mapping[str, str]) -> Any:
        import httpx

        client = self._client()
        try:
            resp = await client.get(url, headers=headers)
        except httpx.ConnectError as exc:
            raise ModelUnreachable(_reason(exc), url=url) from None
        except httpx.TimeoutException:
            raise ModelTimeout(f"the server at {url} did not answer in time", url=url) from None
        except httpx.HTTPError as exc:
            raise ModelError(f"the connection to {url} failed: {exc}", url=url) from None
        if resp.status_code >= 400:
            raise http_error(url, resp.status_code, resp.content)
        return resp.json() if resp.content else None

    async def aclose(self) -> None:
        if self._given is None and self._client_obj is not None:
            if self._loop is asyncio.get_running_loop():
                await self._client_obj.aclose()
            self._client_obj = None


def make_transport(kind: str | Transport | None) -> Transport:
    """A transport from a name ("aiohttp", "httpx"), an instance, or None (the default)."""
    if kind is None or kind == "aiohttp":
        return AiohttpTransport()
    if kind == "httpx":
        return HttpxTransport()
    if isinstance(kind, str):
        raise ValueError(f"unknown transport {kind!r}: use 'aiohttp' or 'httpx'")
    return kind
