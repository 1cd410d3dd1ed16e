"""Lean async HTTP for model servers: POST a ready JSON body, read SSE or JSON back.

Two transports with one contract. `AiohttpTransport` is the default: measured on this
project's 2-core box (bench/transport.py), it spends the least CPU per streamed request.
`HttpxTransport` serves users who bring an httpx client (proxies, custom TLS) and lets respx
intercept requests in tests.

Both turn every failure into a `ModelError` in plain words, marked retryable when sending
the request again may help (see `retry.py`), and both refuse to take a broken response for
an answer: a 200 that is empty or not an event stream, and a stream that ends without
`[DONE]`, are errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import errno
import functools
import json
import json.scanner
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, NamedTuple, Protocol, Union

from agentkit.defaults import DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS
from agentkit.errors import ContextOverflow, ModelError, ModelTimeout, ModelUnreachable, StreamBroken

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_IDLE_TIMEOUT",
    "AiohttpTransport",
    "HttpxTransport",
    "Transport",
    "make_transport",
]


DRAIN_TIMEOUT = 1.0
"""Seconds to wait for the end of a body after `[DONE]` before giving its connection up."""

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
"""HTTP statuses that say "try again": timeout, overload, and server or gateway faults."""

_SSE_FIELDS = (b"data:", b":", b"event:", b"id:", b"retry:")


class EmptyBody(ModelError):
    """A 200 whose body is empty."""


class Transport(Protocol):
    """Moves request bodies to a server and decoded JSON back."""

    def stream(self, url: str, body: bytes, headers: Mapping[str, str]) -> AsyncIterator[dict[str, Any]]:
        """POST `body`; yield each server-sent event's JSON until `[DONE]`.

        Raises `StreamBroken` when the stream ends without `[DONE]`.
        """
        ...

    async def get_json(self, url: str, headers: Mapping[str, str]) -> Any:
        """GET `url`; return its decoded JSON body."""
        ...

    async def post_json(self, url: str, body: bytes, headers: Mapping[str, str]) -> Any:
        """POST `body`; return the decoded JSON answer."""
        ...

    async def aclose(self) -> None: ...


class _SSE:
    """Server-sent events from a byte stream: each event's data, decoded, until `[DONE]`."""

    __slots__ = ("data", "done", "lines", "rest", "started", "url")

    def __init__(self, url: str) -> None:
        self.url = url
        self.rest = b""
        self.data: list[bytes] = []
        self.done = False
        self.started = False
        self.lines = 0  # complete lines read: a stream that completes none is stalled

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        """Read more bytes; return the events they complete (none once `[DONE]` came)."""
        if chunk.startswith(b"data: ") and chunk.endswith(b"\n\n") and self.started:
            # The usual chunk, one whole event of one data line: read without splitting lines.
            data = chunk[6:-2]
            if not (self.rest or self.data or self.done or b"\n" in data or data.endswith(b"\r")):
                self.lines += 2
                if data == b"[DONE]":
                    self.done = True
                    return []
                return [_decode(data, self.url)]
        lines = (self.rest + chunk if self.rest else chunk).split(b"\n")
        self.rest = lines.pop()
        if not self.started:
            self._check_start(lines)
        self.lines += len(lines)
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

    def _check_start(self, lines: list[bytes]) -> None:
        """Refuse a body that does not open like an event stream (an HTML error page)."""
        head = b"\n".join([*lines, self.rest]).lstrip()
        if not head:
            return
        if head.startswith(_SSE_FIELDS):
            self.started = True
        elif not any(field.startswith(head) for field in _SSE_FIELDS):  # else: too short to tell
            raise ModelError(
                f"the server at {self.url} answered 200 with something that is not an event stream: "
                f"{_snippet(head)}",
                url=self.url,
                retryable=True,
            )

    def close(self) -> list[dict[str, Any]]:
        """End of the body: an event without its closing blank line still counts; a body
        that never said `[DONE]` is a broken stream."""
        started = self.started or bool(self.rest.strip())
        events = self.feed(b"\n\n") if (self.rest or self.data) and not self.done else []
        if not self.done:
            if not started:
                raise EmptyBody(
                    f"the server at {self.url} answered 200 with an empty body", url=self.url, retryable=True
                )
            raise StreamBroken(
                f"the stream from {self.url} ended before the server finished it (no [DONE])",
                url=self.url,
                retryable=True,
            )
        return events


def _snippet(text: bytes, limit: int = 160) -> str:
    line = " ".join(text.decode("utf-8", "replace").split())
    return repr(line if len(line) <= limit else line[: limit - 1] + "…")


# One JSON value from a position: the core of json.loads (typeshed types the decoder wrong).
_scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def _loads(text: str) -> Any:
    """`json.loads` of an event's data, taking the short way when the data is one value
    with nothing around it (as servers send it)."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        end = -1
    return value if end == len(text) else json.loads(text)


def _decode(data: bytes, url: str) -> dict[str, Any]:
    try:
        event = _loads(data.decode("utf-8", "surrogatepass"))
    except ValueError:
        raise ModelError(
            f"the server at {url} sent an event that is not JSON: {_snippet(data)}", url=url, retryable=True
        ) from None
    if isinstance(event, dict) and "error" in event and "choices" not in event:
        # vLLM reports engine failures this way, mid-stream, with its own status code
        code = event["error"].get("code") if isinstance(event["error"], dict) else None
        status = code if isinstance(code, int) else None
        raise ModelError(
            f"the server at {url} reported an error mid-stream: {_error_text(event)}",
            url=url,
            status=status,
            retryable=status is None or status in RETRYABLE_STATUS,
        )
    if not isinstance(event, dict):
        raise ModelError(
            f"the server at {url} sent an event that is not a JSON object: {_snippet(data)}", url=url
        )
    return event


def _error_text(payload: Any) -> str:
    if isinstance(payload, dict):
        err = payload.get("error", payload)
        if isinstance(err, dict):
            return str(err.get("message") or err)
        if isinstance(payload.get("message"), str):
            return str(payload["message"])
        return str(err)
    return str(payload)


_CONTEXT_WORDS = ("maximum context length", "context length", "context window", "too long", "exceed")


def http_error(url: str, status: int, body: bytes, retry_after: str | None = None) -> ModelError:
    """A `ModelError` for a non-2xx response, with the server's own message and what to do."""
    try:
        detail = _error_text(json.loads(body))
    except ValueError:
        detail = " ".join(body.decode("utf-8", "replace").split())[:500]
    detail = detail.rstrip(".") or "no message"
    message = f"the server at {url} answered HTTP {status}: {detail}."
    lowered = detail.lower()
    if status in (400, 413) and any(word in lowered for word in _CONTEXT_WORDS):
        return ContextOverflow(message, url=url, status=status)
    if status == 404 and "model" in lowered:
        message += " Check --model: GET /v1/models lists the names this server serves."
    elif status in (404, 405) and url.endswith("/v1/completions"):
        message += " This server may not serve /v1/completions: try --backend chat."
    elif status in (404, 405):
        message += " Check --base-url: it should be the server's API root (ending in /v1)."
    elif status in (401, 403):
        message += (
            " The server wants an API key: pass --api-key KEY or set AGENTKIT_API_KEY "
            "(Agent(api_key=...) in Python)."
        )
    return ModelError(
        message,
        url=url,
        status=status,
        retryable=status in RETRYABLE_STATUS,
        retry_after=_retry_after(retry_after),
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _os_reason(exc: BaseException | None) -> str | None:
    """An OS-level cause in plain words, if the exception chain holds one."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused"
        if isinstance(exc, ConnectionResetError) or getattr(exc, "errno", None) == errno.ECONNRESET:
            return "the connection was reset"
        if isinstance(exc, OSError) and exc.strerror and "Connect call failed" not in exc.strerror:
            return exc.strerror.lower()
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _unreachable(url: str, exc: BaseException) -> ModelUnreachable:
    reason = _os_reason(exc) or str(exc) or type(exc).__name__
    return ModelUnreachable(reason, url=url, retryable=True)


def _stalled(url: str, idle: float, what: str = "nothing") -> ModelTimeout:
    return ModelTimeout(
        f"the server at {url} sent {what} for {idle:g} s (idle timeout; --idle-timeout changes it)",
        url=url,
        retryable=True,
    )


def _broken(url: str, what: str) -> ModelError:
    return StreamBroken(f"the exchange with {url} broke: {what}", url=url, retryable=True)


# What went wrong with an exchange, in the transports' shared words. Each transport says
# which of its library's exceptions is which (`_failures`); `_LibraryTransport` words them once.
_CONNECT_TIMEOUT, _STALLED, _UNREACHABLE, _CLOSED, _CUT_OFF, _FAILED = range(6)
_FailureTable = tuple[tuple[Union[type[BaseException], tuple[type[BaseException], ...]], int], ...]


class _LibraryErrors(NamedTuple):
    """A transport library's exceptions: those to catch, and the kind each is (most specific
    first; one that is none of them is worded as a plain failure)."""

    caught: tuple[type[BaseException], ...]
    kinds: _FailureTable


_BROKEN_BECAUSE = {
    _CLOSED: "the server closed the connection",
    _CUT_OFF: "the response was cut off in the middle",
    _FAILED: "the connection failed",
}


class _LibraryTransport:
    """What the transports share: GET and POST of JSON over their `_json`, and the one
    mapping of their library's exceptions (`_failures`) to `ModelError`s."""

    connect_timeout: float
    idle_timeout: float

    async def get_json(self, url: str, headers: Mapping[str, str]) -> Any:
        return await self._json("GET", url, None, headers)

    async def post_json(self, url: str, body: bytes, headers: Mapping[str, str]) -> Any:
        return await self._json("POST", url, body, headers)

    async def _json(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> Any:
        raise NotImplementedError

    def _failures(self) -> _LibraryErrors:
        raise NotImplementedError

    @contextlib.contextmanager
    def _worded(self, url: str) -> Iterator[None]:
        """Raise what the library raises inside as a `ModelError` in plain words."""
        try:
            yield
        except self._failures().caught as exc:
            raise self._error(url, exc) from None

    def _error(self, url: str, exc: BaseException) -> ModelError:
        kinds = self._failures().kinds
        kind = next((kind for types, kind in kinds if isinstance(exc, types)), None)
        if kind == _CONNECT_TIMEOUT:
            return ModelUnreachable(
                f"no connection within {self.connect_timeout:g} s (connect timeout)", url=url, retryable=True
            )
        if kind == _STALLED:
            return _stalled(url, self.idle_timeout)
        if kind == _UNREACHABLE:
            return _unreachable(url, getattr(exc, "os_error", None) or exc)
        if kind is not None:
            return _broken(url, _os_reason(exc) or _BROKEN_BECAUSE[kind])
        return ModelError(f"the exchange with {url} failed: {type(exc).__name__}: {exc}", url=url)


@functools.cache
def _aiohttp_failures() -> _LibraryErrors:
    import aiohttp

    kinds: _FailureTable = (
        (aiohttp.ConnectionTimeoutError, _CONNECT_TIMEOUT),
        (aiohttp.ServerTimeoutError, _STALLED),
        (aiohttp.ClientConnectorError, _UNREACHABLE),
        (aiohttp.ServerDisconnectedError, _CLOSED),
        (aiohttp.ClientPayloadError, _CUT_OFF),
        (aiohttp.ClientOSError, _FAILED),
        (asyncio.TimeoutError, _STALLED),
    )
    return _LibraryErrors((aiohttp.ClientError, asyncio.TimeoutError), kinds)


@functools.cache
def _httpx_failures() -> _LibraryErrors:
    import httpx

    kinds: _FailureTable = (
        (httpx.ConnectTimeout, _CONNECT_TIMEOUT),
        (httpx.TimeoutException, _STALLED),
        (httpx.ConnectError, _UNREACHABLE),
        (httpx.RemoteProtocolError, _CLOSED),
        ((httpx.ReadError, httpx.WriteError), _FAILED),
    )
    return _LibraryErrors((httpx.HTTPError,), kinds)


class _Reader:
    """Reads one streamed response body into events, and notices a stall."""

    __slots__ = ("idle", "sse", "url")

    def __init__(self, url: str, idle: float) -> None:
        self.url = url
        self.idle = idle
        self.sse = _SSE(url)

    async def events(
        self, chunks: AsyncIterator[bytes], ended: Callable[[], bool] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The body's events; `ended` says whether the body has been read to its end (then
        nothing is left to drain after `[DONE]`)."""
        sse = self.sse
        loop = asyncio.get_running_loop()
        last = loop.time()
        async for chunk in chunks:
            lines = sse.lines
            for event in sse.feed(chunk):
                yield event
            if sse.done:
                # Read the body's end too, so that the connection goes back to the pool
                # (servers write the chunked terminator after [DONE], often separately).
                if ended is None or not ended():
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(_drain(chunks), DRAIN_TIMEOUT)
                return
            if sse.lines != lines:
                last = loop.time()
            elif loop.time() - last > self.idle:  # bytes trickle in, but no line completes
                raise _stalled(self.url, self.idle, "no complete line")
        for event in sse.close():
            yield event


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    async for _ in chunks:
        pass


class AiohttpTransport(_LibraryTransport):
    """The default transport (aiohttp), one connection pool per event loop.

    Args:
        connect_timeout: Seconds to open a connection.
        idle_timeout: Seconds a response may go without completing a line.
        max_connections: Connections open at once at most (None: no limit; the runs at once
            bound them).
    """

    def __init__(
        self,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_connections: int | None = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self._session: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> Any:
        import aiohttp

        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=self.connect_timeout, sock_read=self.idle_timeout
            )
            connector = aiohttp.TCPConnector(limit=self.max_connections or 0)  # 0: no limit
            self._session = aiohttp.ClientSession(
                timeout=timeout, connector=connector, skip_auto_headers=("User-Agent",)
            )
            self._loop = loop
        return self._session

    async def stream(
        self, url: str, body: bytes, headers: Mapping[str, str]
    ) -> AsyncIterator[dict[str, Any]]:
        session = self._client()
        with self._worded(url):
            async with session.post(url, data=body, headers=headers) as resp:
                if resp.status >= 300:
                    raise http_error(url, resp.status, await resp.read(), resp.headers.get("Retry-After"))
                reader = _Reader(url, self.idle_timeout)
                async for event in reader.events(resp.content.iter_any(), resp.content.at_eof):
                    yield event

    async def _json(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> Any:
        session = self._client()
        with self._worded(url):
            async with session.request(method, url, data=body, headers=headers) as resp:
                payload = await resp.read()
                if resp.status >= 300:
                    raise http_error(url, resp.status, payload, resp.headers.get("Retry-After"))
        return _json_body(url, payload)

    def _failures(self) -> _LibraryErrors:
        return _aiohttp_failures()

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()


def _json_body(url: str, payload: bytes) -> Any:
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        raise ModelError(
            f"the server at {url} answered with something that is not JSON: {_snippet(payload)}",
            url=url,
            retryable=True,
        ) from None


class HttpxTransport(_LibraryTransport):
    """A transport over an `httpx.AsyncClient` (yours, or one it makes).

    Args:
        client: A configured client; the transport does not close a client it was given
            (its own timeouts apply).
        connect_timeout: Seconds to open a connection (for a client it makes).
        idle_timeout: Seconds a response may go without completing a line.
        max_connections: Connections open at once at most, for a client it makes (None: no
            limit; the runs at once bound them).
    """

    def __init__(
        self,
        client: Any = None,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_connections: int | None = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self._given = client
        self._client_obj = client
        self._loop: asyncio.AbstractEventLoop | None = None
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections

    def _client(self) -> Any:
        import httpx

        if self._given is not None:
            return self._given
        loop = asyncio.get_running_loop()
        if self._client_obj is None or self._client_obj.is_closed or self._loop is not loop:
            timeout = httpx.Timeout(self.idle_timeout, connect=self.connect_timeout)
            # httpx's default pool (100) would make request 101 wait, then fail at the timeout
            limits = httpx.Limits(max_connections=self.max_connections, max_keepalive_connections=None)
            self._client_obj = httpx.AsyncClient(timeout=timeout, limits=limits)
            self._loop = loop
        return self._client_obj

    async def stream(
        self, url: str, body: bytes, headers: Mapping[str, str]
    ) -> AsyncIterator[dict[str, Any]]:
        client = self._client()
        with self._worded(url):
            async with client.stream("POST", url, content=body, headers=headers) as resp:
                if resp.status_code >= 300:
                    raise http_error(
                        url, resp.status_code, await resp.aread(), resp.headers.get("Retry-After")
                    )
                async for event in _Reader(url, self.idle_timeout).events(resp.aiter_bytes()):
                    yield event

    async def _json(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> Any:
        client = self._client()
        with self._worded(url):
            resp = await client.request(method, url, content=body, headers=headers)
        if resp.status_code >= 300:
            raise http_error(url, resp.status_code, resp.content, resp.headers.get("Retry-After"))
        return _json_body(url, resp.content)

    def _failures(self) -> _LibraryErrors:
        return _httpx_failures()

    async def aclose(self) -> None:
        if self._given is None and self._client_obj is not None:
            if self._loop is asyncio.get_running_loop():
                await self._client_obj.aclose()
            self._client_obj = None


def make_transport(
    kind: str | Transport | None,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
) -> Transport:
    """A transport from a name ("aiohttp", "httpx"), an instance, or None (the default)."""
    if kind is None or kind == "aiohttp":
        return AiohttpTransport(connect_timeout=connect_timeout, idle_timeout=idle_timeout)
    if kind == "httpx":
        return HttpxTransport(connect_timeout=connect_timeout, idle_timeout=idle_timeout)
    if isinstance(kind, str):
        raise ValueError(f"unknown transport {kind!r}: use 'aiohttp' or 'httpx'")
    return kind
