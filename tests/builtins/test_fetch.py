"""Tests of `agentkit/builtins/fetch.py` against a real HTTP server on 127.0.0.1.

No test touches real DNS: `dns` (autouse) replaces the guard's lookup with a table, and
`connects` records every socket connection the event loop makes, so a refusal can be shown
to happen before any lookup or connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import struct
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from agentkit.builtins import _address_guard
from agentkit.builtins.fetch import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_CHARS,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT,
    make_fetch_tool,
)
from agentkit.tools.tool import ToolContext, ToolError, ToolResult

PUBLIC_ONLY = "only fetches public addresses"
BIG = 20_000_000

PAGE = """<!DOCTYPE html>
<html><head>
  <title>Fish &amp; Chips — a   test</title>
  <style>body { color: red; }</style>
  <script>var secret = "script-secret";</script>
  <meta charset="utf-8">
</head>
<body>
  <nav><a href="/home">Home</a> <a href="/about">About us</a></nav>
  <main>
    <h1>Main   heading</h1>
    <p>Fish &amp; Chips &copy; 2024 &lt;tag&gt;
       caf&eacute;&nbsp;au lait</p>
    <h2>Second level</h2>
    <ul><li>first item</li><li>second item with <a href="/docs/intro">the docs</a></li></ul>
    <p>An <a href="https://example.org/abs">absolute link</a>, a <a href="#top">same-page link</a>
       and a <a href="javascript:void(0)">script link</a>.</p>
    <noscript>noscript-secret</noscript>
    <template><p>template-secret</p></template>
    <svg><title>svg-secret</title><text>svg-text-secret</text></svg>
    <script>document.write("inline-script-secret")</script>
  </main>
  <footer>footer-boilerplate</footer>
</body></html>
"""


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


PNG = _png()


@dataclass
class Server:
    """The test server: its address and what it saw."""

    base: str
    port: int
    hits: list[str] = field(default_factory=list)
    big_sent: int = 0
    big_complete: bool = False
    big_done: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return self.base + path


def _app(state: Server) -> web.Application:
    @web.middleware
    async def count(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> Any:
        state.hits.append(request.path_qs)
        return await handler(request)

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html", charset="utf-8")

    async def only_nav(request: web.Request) -> web.Response:
        body = "<html><body><nav><a href='/a'>Alpha</a><a href='/b'>Beta</a></nav></body></html>"
        return web.Response(text=body, content_type="text/html")

    async def data(request: web.Request) -> web.Response:
        doc = {"name": "agentkit", "tags": ["a", "b"], "nested": {"k": 1}, "text": "naïve"}
        return web.Response(text=json.dumps(doc, separators=(",", ":")), content_type="application/json")

    async def plain(request: web.Request) -> web.Response:
        return web.Response(text="".join(f"line {i:04d}\n" for i in range(100)), content_type="text/plain")

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.content_length = BIG
        await response.prepare(request)
        chunk = b"x" * 65536
        try:
            while state.big_sent < BIG:
                await response.write(chunk)
                state.big_sent += len(chunk)
            state.big_complete = True
        finally:
            state.big_done.set()
        return response

    async def drip(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        while True:  # headers at once, then a byte every 50 ms, forever
            await response.write(b"x")
            await asyncio.sleep(0.05)

    async def stall(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="too late")

    async def chain(request: web.Request) -> web.Response:
        left = int(request.match_info["n"])
        if left > 0:
            raise web.HTTPFound(f"/chain/{left - 1}")
        return web.Response(text="<p>end of the chain</p>", content_type="text/html")

    async def redirect_to(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["target"])

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    async def image_chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(PNG)
        await response.write_eof()
        return response

    async def octets(request: web.Request) -> web.Response:
        return web.Response(body=bytes(range(256)) * 4, content_type="application/octet-stream")

    async def latin1(request: web.Request) -> web.Response:
        body = "<p>Café crème, naïve façade</p>".encode("iso-8859-1")
        return web.Response(body=body, headers={"Content-Type": "text/html; charset=iso-8859-1"})

    async def sjis(request: web.Request) -> web.Response:
        return web.Response(
            body="日本語のテキスト".encode("shift_jis"),
            headers={"Content-Type": "text/plain; charset=shift_jis"},
        )

    async def meta_cp1251(request: web.Request) -> web.Response:
        body = '<html><head><meta charset="windows-1251"></head><body><p>Привет, мир</p></body></html>'
        return web.Response(body=body.encode("windows-1251"), headers={"Content-Type": "text/html"})

    async def bogus_charset(request: web.Request) -> web.Response:
        return web.Response(body="déjà vu".encode(), headers={"Content-Type": "text/plain; charset=x-bogus"})

    async def missing(request: web.Request) -> web.Response:
        body = "<html><body><h1>Not here</h1><p>No page called that.</p></body></html>"
        return web.Response(status=404, text=body, content_type="text/html")

    async def boom(request: web.Request) -> web.Response:
        return web.Response(status=500, text="database is down", content_type="text/plain")

    app = web.Application(middlewares=[count])
    app.router.add_get("/page.html", page)
    app.router.add_get("/only-nav.html", only_nav)
    app.router.add_get("/data.json", data)
    app.router.add_get("/plain.txt", plain)
    app.router.add_get("/big", big)
    app.router.add_get("/drip", drip)
    app.router.add_get("/stall", stall)
    app.router.add_get("/chain/{n}", chain)
    app.router.add_get("/redirect", redirect_to)
    app.router.add_get("/image.png", image)
    app.router.add_get("/image-chunked", image_chunked)
    app.router.add_get("/octets", octets)
    app.router.add_get("/latin1", latin1)
    app.router.add_get("/sjis", sjis)
    app.router.add_get("/meta-cp1251", meta_cp1251)
    app.router.add_get("/bogus-charset", bogus_charset)
    app.router.add_get("/missing", missing)
    app.router.add_get("/boom", boom)
    return app


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server(base="", port=0)
    runner = web.AppRunner(_app(state), handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.port = int(runner.addresses[0][1])
    state.base = f"http://127.0.0.1:{state.port}"
    yield state
    await runner.cleanup()


class FakeDNS:
    """Stands in for `_address_guard._getaddrinfo`: answers from a table, records every lookup.

    `table[name]` is a list of answers; lookup n gets answer n (the last one repeats).
    """

    def __init__(self) -> None:
        self.table: dict[str, list[list[str]]] = {}
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int, family: int) -> list[tuple[int, str, int]]:
        self.calls.append(host)
        answers = self.table.get(host)
        if answers is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = answers[min(self.calls.count(host), len(answers)) - 1]
        return [(socket.AF_INET6 if ":" in address else socket.AF_INET, address, 0) for address in answer]


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    fake = FakeDNS()
    monkeypatch.setattr(_address_guard, "_getaddrinfo", fake)
    return fake


@pytest.fixture
async def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address the running loop connects a socket to, in order."""
    loop = asyncio.get_running_loop()
    seen: list[Any] = []
    sock_connect, create_connection = loop.sock_connect, loop.create_connection

    async def spy_sock_connect(sock: socket.socket, address: Any) -> None:
        seen.append(tuple(address[:2]))
        await sock_connect(sock, address)

    async def spy_create_connection(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("host") is not None or (len(args) > 1 and args[1] is not None):
            seen.append((kwargs.get("host", args[1] if len(args) > 1 else None), kwargs.get("port")))
        return await create_connection(*args, **kwargs)

    monkeypatch.setattr(loop, "sock_connect", spy_sock_connect)
    monkeypatch.setattr(loop, "create_connection", spy_create_connection)
    return seen


@pytest.fixture
def loopback_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the default (guarded) tool reach 127.0.0.1 — only that one address — so that the
    checks made after the first hop can be tested against the local server."""
    original = _address_guard.address_class
    test_server = ipaddress.ip_address("127.0.0.1")
    monkeypatch.setattr(
        _address_guard, "address_class", lambda ip: None if ip == test_server else original(ip)
    )


async def _call(url: str, **settings: Any) -> ToolResult:
    start = settings.pop("start", None)
    arguments: dict[str, Any] = {"url": url} if start is None else {"url": url, "start": start}
    return await make_fetch_tool(**settings).call(arguments, ToolContext())


async def _refusal(url: str, **settings: Any) -> tuple[str, float]:
    began = time.monotonic()
    with pytest.raises(ToolError) as caught:
        await _call(url, **settings)
    return str(caught.value), time.monotonic() - began


# --- the tool ----------------------------------------------------------------------------------


def test_defaults_are_named_and_sane() -> None:
    assert DEFAULT_MAX_BYTES == 5_000_000
    assert DEFAULT_MAX_CHARS == 50_000
    assert DEFAULT_MAX_REDIRECTS == 5
    assert 0 < DEFAULT_TIMEOUT <= 60


def test_tool_is_fetch_url_taking_a_url_and_an_optional_start() -> None:
    made = make_fetch_tool()
    assert made.name == "fetch_url"
    assert made.parameters["required"] == ["url"]
    assert set(made.parameters["properties"]) == {"url", "start"}
    assert "http://" in made.parameters["properties"]["url"]["description"]
    assert "refused" in made.description
    assert made.timeout is not None and made.timeout > DEFAULT_TIMEOUT  # its own limit reports first


def test_nonsense_limits_are_rejected() -> None:
    with pytest.raises(ValueError):
        make_fetch_tool(max_bytes=0)


# --- content -----------------------------------------------------------------------------------


async def test_html_page_becomes_readable_text(server: Server) -> None:
    result = await _call(server.url("/page.html"), allow_private=True)
    assert not result.is_error
    text = result.content
    assert "Title: Fish & Chips — a test" in text
    assert "\n# Main heading\n" in text
    assert "\n## Second level\n" in text
    assert "Fish & Chips © 2024 <tag> café au lait" in text  # entities decoded, whitespace collapsed
    assert "\n- first item\n" in text
    assert f"- second item with the docs ({server.base}/docs/intro)" in text  # relative link made absolute
    assert "absolute link (https://example.org/abs)" in text
    assert "a same-page link and a script link." in text  # no noise for #top and javascript:
    for hidden in ("secret", "color: red", "footer-boilerplate", "About us"):
        assert hidden not in text, hidden


async def test_header_line_names_final_url_status_type_and_size(server: Server) -> None:
    result = await _call(server.url("/page.html"), allow_private=True)
    header, blank, _ = result.content.split("\n", 2)
    size = len(PAGE.encode())
    assert header == f"{server.url('/page.html')} | 200 OK | text/html; charset=utf-8 | {size:,} bytes"
    assert blank == ""


async def test_navigation_is_kept_when_it_is_all_the_page_has(server: Server) -> None:
    result = await _call(server.url("/only-nav.html"), allow_private=True)
    assert f"Alpha ({server.base}/a)" in result.content
    assert f"Beta ({server.base}/b)" in result.content


async def test_json_is_pretty_printed(server: Server) -> None:
    result = await _call(server.url("/data.json"), allow_private=True)
    header, body = result.content.split("\n\n", 1)
    assert "| application/json; charset=utf-8 |" in header
    assert json.loads(body) == {"name": "agentkit", "tags": ["a", "b"], "nested": {"k": 1}, "text": "naïve"}
    assert '\n  "name": "agentkit",\n' in body
    assert "naïve" in body


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/latin1", "Café crème, naïve façade"),  # charset from Content-Type
        ("/sjis", "日本語のテキスト"),
        ("/meta-cp1251", "Привет, мир"),  # charset from <meta>
        ("/bogus-charset", "déjà vu"),  # unknown charset: UTF-8
    ],
)
async def test_text_is_decoded_in_its_declared_charset(server: Server, path: str, expected: str) -> None:
    result = await _call(server.url(path), allow_private=True)
    assert expected in result.content
    assert "\ufffd" not in result.content


@pytest.mark.parametrize(("path", "mime"), [("/image.png", "image/png"), ("/image-chunked", "image/png")])
async def test_image_is_summarised_not_dumped(server: Server, path: str, mime: str) -> None:
    result = await _call(server.url(path), allow_private=True)
    assert not result.is_error
    assert f"binary file ({mime}, {len(PNG):,} bytes)" in result.content
    assert "PNG" not in result.content and "IHDR" not in result.content and "\ufffd" not in result.content
    assert len(result.content) < 300


async def test_octet_stream_is_summarised(server: Server) -> None:
    result = await _call(server.url("/octets"), allow_private=True)
    assert "binary file (application/octet-stream, 1,024 bytes)" in result.content
    assert "\x00" not in result.content


async def test_long_text_is_cut_and_start_reads_on(server: Server) -> None:
    first = await _call(server.url("/plain.txt"), allow_private=True, max_chars=300)
    assert "line 0000" in first.content and "line 0030" not in first.content
    assert "start=300" in first.content
    second = await _call(server.url("/plain.txt"), allow_private=True, max_chars=300, start=300)
    assert "[characters 300-600 of 1,000]" in second.content
    assert "line 0030" in second.content and "line 0029" not in second.content
    with pytest.raises(ToolError, match="past the end"):
        await _call(server.url("/plain.txt"), allow_private=True, start=5000)
    with pytest.raises(ToolError, match="negative"):
        await _call(server.url("/plain.txt"), allow_private=True, start=-1)


# --- budgets -----------------------------------------------------------------------------------


async def test_size_cap_stops_reading_a_20_mb_body_early(server: Server) -> None:
    result = await _call(server.url("/big"), allow_private=True, max_bytes=1_000_000, max_chars=100)
    assert "first 1,000,000 bytes only (cut at 1,000,000 bytes)" in result.content.splitlines()[0]
    assert "only its beginning was read" in result.content
    await asyncio.wait_for(server.big_done.wait(), 10)
    assert not server.big_complete  # the client hung up: the server could not send it all
    assert server.big_sent < BIG // 2


@pytest.mark.parametrize("path", ["/drip", "/stall"])
async def test_whole_fetch_has_one_time_limit(server: Server, path: str) -> None:
    # /drip sends headers at once and then a byte every 50 ms: only a total limit ends it.
    message, took = await _refusal(server.url(path), allow_private=True, timeout=0.5)
    assert "timed out after 0.5 s" in message
    assert 0.4 < took < 3


# --- redirects ---------------------------------------------------------------------------------


async def test_redirect_chain_is_followed_to_the_final_page(server: Server) -> None:
    result = await _call(server.url(f"/chain/{DEFAULT_MAX_REDIRECTS}"), allow_private=True)
    header = result.content.splitlines()[0]
    assert header.startswith(f"{server.url('/chain/0')} | 200 OK |")
    assert header.endswith(f"redirected from {server.url('/chain/5')}")
    assert "end of the chain" in result.content


async def test_more_redirects_than_the_limit_are_refused(server: Server) -> None:
    message, _ = await _refusal(server.url(f"/chain/{DEFAULT_MAX_REDIRECTS + 1}"), allow_private=True)
    assert f"redirected more than {DEFAULT_MAX_REDIRECTS} times" in message
    assert len(server.hits) == DEFAULT_MAX_REDIRECTS + 1  # the last hop was not requested


@pytest.mark.usefixtures("loopback_is_public")
@pytest.mark.parametrize(
    ("target", "named"),
    [
        ("http://10.0.0.1/", "a private-network address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://localhost:{port}/page.html", "names this machine"),
        ("http://[::1]:{port}/page.html", "a loopback address"),
        ("http://internal.example:{port}/page.html", "internal.example resolves to 10.20.30.40"),
        ("file:///etc/passwd", "only reads http:// and https://"),
    ],
)
async def test_redirect_to_a_private_address_is_refused_before_connecting(
    server: Server, dns: FakeDNS, connects: list[Any], target: str, named: str
) -> None:
    dns.table["internal.example"] = [["10.20.30.40"]]
    target = target.format(port=server.port)
    message, _ = await _refusal(server.url(f"/redirect?target={target}"))
    assert named in message
    assert "redirect" in message
    assert connects == [("127.0.0.1", server.port)]  # the first hop only
    assert len(server.hits) == 1


# --- the SSRF guard ----------------------------------------------------------------------------


async def test_default_tool_refuses_the_loopback_server_without_touching_it(
    server: Server, connects: list[Any]
) -> None:
    message, _ = await _refusal(server.url("/page.html"))
    assert "127.0.0.1 is a loopback address" in message and PUBLIC_ONLY in message
    assert server.hits == []
    assert connects == []


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://127.0.0.1/", "a loopback address"),
        ("https://127.0.0.1:8443/x", "a loopback address"),
        ("http://localhost/", "names this machine"),
        ("http://LOCALHOST./", "names this machine"),
        ("http://app.localhost:8080/", "names this machine"),
        ("http://[::1]/", "a loopback address"),
        ("http://10.0.0.1/", "a private-network address"),
        ("http://192.168.1.1/", "a private-network address"),
        ("http://172.16.5.4/", "a private-network address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local address (the cloud metadata service)"),
        ("http://2130706433/", "2130706433 (that is 127.0.0.1) is a loopback address"),
        ("http://0x7f000001/", "(that is 127.0.0.1) is a loopback address"),
        ("http://0x7f.1/", "(that is 127.0.0.1) is a loopback address"),
        ("http://0177.0.0.1/", "(that is 127.0.0.1) is a loopback address"),
        ("http://127.1/", "(that is 127.0.0.1) is a loopback address"),
        ("http://0/", "(that is 0.0.0.0)"),
        ("http://0.0.0.0/", "an unspecified address"),
        ("http://[::]/", "an unspecified address"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://240.0.0.1/", "a reserved address"),
        ("http://100.64.0.1/", "special-purpose"),
        ("http://[fe80::1]/", "a link-local address"),
        ("http://[fc00::1]/", "a private-network address"),
        ("http://[::ffff:127.0.0.1]/", "a loopback address (IPv4-mapped form of 127.0.0.1)"),
        ("http://[::ffff:a9fe:a9fe]/", "link-local address (the cloud metadata service) (IPv4-mapped"),
        ("http://[2002:7f00:1::]/", "a loopback address (6to4 form of 127.0.0.1)"),
        ("http://[2002:a00:1::]/", "a private-network address (6to4 form of 10.0.0.1)"),
        ("http://[64:ff9b::a9fe:a9fe]/", "(NAT64 form of 169.254.169.254)"),
        ("http://１２７.０.０.１/", "a loopback address"),  # fullwidth digits normalise to 127.0.0.1
    ],
)
async def test_non_public_addresses_are_refused_before_any_lookup_or_connection(
    dns: FakeDNS, connects: list[Any], url: str, named: str
) -> None:
    message, took = await _refusal(url)
    assert named in message
    assert PUBLIC_ONLY in message
    assert dns.calls == []
    assert connects == []
    assert took < 0.5


async def test_name_resolving_to_loopback_is_refused(
    server: Server, dns: FakeDNS, connects: list[Any]
) -> None:
    dns.table["public.example"] = [["127.0.0.1"]]  # a listening server: a connection would succeed
    message, _ = await _refusal(f"http://public.example:{server.port}/page.html")
    assert "public.example resolves to 127.0.0.1, a loopback address" in message and PUBLIC_ONLY in message
    assert dns.calls == ["public.example"]
    assert connects == []
    assert server.hits == []


async def test_one_private_address_among_public_ones_is_enough_to_refuse(
    dns: FakeDNS, connects: list[Any]
) -> None:
    dns.table["mixed.example"] = [["93.184.216.34", "2606:2800:220:1::1", "10.0.0.7"]]
    message, _ = await _refusal("http://mixed.example/")
    assert "resolves to 10.0.0.7, a private-network address" in message
    assert connects == []


@pytest.mark.usefixtures("loopback_is_public")
async def test_connection_goes_only_to_the_vetted_addresses(
    server: Server, dns: FakeDNS, connects: list[Any]
) -> None:
    # A rebinding name: vetted as (test-public) 127.0.0.1, private on any later lookup.
    dns.table["rebind.example"] = [["127.0.0.1"], ["10.9.9.9"]]
    result = await _call(f"http://rebind.example:{server.port}/page.html")
    assert "# Main heading" in result.content
    assert dns.calls == ["rebind.example"]  # looked up once; that answer was used to connect
    assert connects == [("127.0.0.1", server.port)]


async def test_allow_private_still_refuses_other_schemes(connects: list[Any]) -> None:
    message, _ = await _refusal("file:///etc/passwd", allow_private=True)
    assert "only reads http:// and https://" in message
    assert connects == []


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/", "javascript:alert(1)", "data:,hi"],
)
async def test_other_schemes_are_refused(connects: list[Any], url: str) -> None:
    message, _ = await _refusal(url)
    assert "only reads http:// and https://" in message
    assert connects == []


async def test_address_without_scheme_gets_a_hint() -> None:
    message, _ = await _refusal("example.com/page")
    assert "https://example.com/page" in message


async def test_public_address_in_an_unusual_numeric_form_is_refused_with_the_dotted_form(
    connects: list[Any],
) -> None:
    message, _ = await _refusal("http://134744072/")  # 8.8.8.8
    assert "http://8.8.8.8/" in message
    assert connects == []


# --- failures ----------------------------------------------------------------------------------


async def test_http_error_is_an_error_result_with_status_and_excerpt(server: Server) -> None:
    missing = await _call(server.url("/missing"), allow_private=True)
    assert missing.is_error
    assert "404 Not Found" in missing.content.splitlines()[0]
    assert "No page called that." in missing.content
    boom = await _call(server.url("/boom"), allow_private=True)
    assert boom.is_error
    assert "500 Internal Server Error" in boom.content and "database is down" in boom.content


async def test_connection_refused_is_a_clear_error(unused_port: int) -> None:
    message, _ = await _refusal(f"http://127.0.0.1:{unused_port}/", allow_private=True)
    assert f"could not connect to 127.0.0.1:{unused_port}" in message
    assert "refused" in message.lower()


async def test_dns_failure_is_a_clear_error(dns: FakeDNS) -> None:
    message, _ = await _refusal("http://no-such-host.example/")
    assert "could not find the server 'no-such-host.example'" in message
    assert dns.calls == ["no-such-host.example"]
