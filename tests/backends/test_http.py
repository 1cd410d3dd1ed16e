"""The transports' one mapping of their library's exceptions to `ModelError`s."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import httpx
import pytest

from agentkit.backends._http import AiohttpTransport, HttpxTransport
from agentkit.errors import ModelError, ModelTimeout, ModelUnreachable, StreamBroken

STALLED = "the server at u sent nothing for 7 s (idle timeout; --idle-timeout changes it)"
NO_CONNECTION = "no connection within 3 s (connect timeout)"


def _reset() -> Exception:
    error = aiohttp.ClientPayloadError("cut")
    error.__cause__ = ConnectionResetError(104, "Connection reset by peer")
    return error


AIOHTTP: list[tuple[Callable[[], Exception], type[ModelError], str]] = [
    (lambda: aiohttp.ConnectionTimeoutError("t"), ModelUnreachable, NO_CONNECTION),
    (lambda: aiohttp.SocketTimeoutError("t"), ModelTimeout, STALLED),
    (lambda: asyncio.TimeoutError(), ModelTimeout, STALLED),
    (
        lambda: aiohttp.ServerDisconnectedError(),
        StreamBroken,
        "the exchange with u broke: the server closed the connection",
    ),
    (
        lambda: aiohttp.ClientPayloadError("cut"),
        StreamBroken,
        "the exchange with u broke: the response was cut off in the middle",
    ),
    (_reset, StreamBroken, "the exchange with u broke: the connection was reset"),
    (
        lambda: aiohttp.ClientOSError(32, "Broken pipe"),
        StreamBroken,
        "the exchange with u broke: broken pipe",
    ),
    (lambda: aiohttp.InvalidURL("x"), ModelError, "the exchange with u failed: InvalidURL: x"),
]
HTTPX: list[tuple[Callable[[], Exception], type[ModelError], str]] = [
    (lambda: httpx.ConnectTimeout("c"), ModelUnreachable, NO_CONNECTION),
    (lambda: httpx.ReadTimeout("r"), ModelTimeout, STALLED),
    (
        lambda: httpx.ConnectError("All connection attempts failed"),
        ModelUnreachable,
        "All connection attempts failed",
    ),
    (
        lambda: httpx.RemoteProtocolError("peer closed"),
        StreamBroken,
        "the exchange with u broke: the server closed the connection",
    ),
    (lambda: httpx.WriteError("w"), StreamBroken, "the exchange with u broke: the connection failed"),
    (lambda: httpx.DecodingError("d"), ModelError, "the exchange with u failed: DecodingError: d"),
]


CASES = [(AiohttpTransport, *case) for case in AIOHTTP] + [(HttpxTransport, *case) for case in HTTPX]


@pytest.mark.parametrize(("transport_type", "make", "kind", "words"), CASES)
def test_each_library_failure_is_worded_once_for_both_transports(
    transport_type: type[AiohttpTransport | HttpxTransport],
    make: Callable[[], Exception],
    kind: type[ModelError],
    words: str,
) -> None:
    error = make()
    transport = transport_type(connect_timeout=3, idle_timeout=7)
    with pytest.raises(ModelError) as raised, transport._worded("u"):
        raise error
    assert type(raised.value) is kind
    assert str(raised.value) == words
    assert raised.value.__suppress_context__  # the library's traceback is not the user's


def test_an_exception_of_another_library_is_not_caught() -> None:
    with pytest.raises(httpx.ReadError), AiohttpTransport()._worded("u"):
        raise httpx.ReadError("not aiohttp's")
