"""`fetch_url`: read a public web page as text, never an address on the machine or its network.

The guard against server-side request forgery works in two places:

1. Before any lookup, the URL itself: only http and https; no `localhost` names; an IP
   literal (also in the legacy forms `2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`) must be
   public, including the IPv4 address inside an IPv4-mapped, 6to4, Teredo or NAT64 one.
2. At connection time, names: the session's resolver looks the name up once, refuses it if
   ANY address is not public, and hands exactly those vetted addresses to the connector. No
   second lookup happens, so a name cannot re-bind to a private address between check and
   connect.

Redirects are followed by hand, up to `DEFAULT_MAX_REDIRECTS`, and every hop passes both
checks again. The body is read in chunks and cut at `max_bytes`; the whole fetch, redirects
included, has one time limit.
"""

from __future__ import annotations

import asyncio
import codecs
import ipaddress
import json
import os
import re
import socket
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal, Union
from urllib.parse import urljoin

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from agentkit.tools.tool import FunctionTool, ToolError, ToolResult

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_CHARS",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_TIMEOUT",
    "make_fetch_tool",
]

DEFAULT_TIMEOUT = 30.0
"""Seconds one fetch may take in all: lookups, connections, redirects and the body."""

DEFAULT_MAX_BYTES = 5_000_000
"""Bytes of body read at most (after decompression); the rest of a bigger page is not read."""

DEFAULT_MAX_CHARS = 50_000
"""Characters of text shown per call; the model reads on with `start`."""

DEFAULT_MAX_REDIRECTS = 5
"""Redirects followed before giving up."""

_USER_AGENT = "Mozilla/5.0 (compatible; agentkit-fetch/0.1)"
_ACCEPT = "text/html,application/xhtml+xml,application/json;q=0.9,text/plain;q=0.8,*/*;q=0.5"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
_ERROR_EXCERPT = 600
_PUBLIC_ONLY = (
    "This tool only fetches public addresses (internet sites), never this machine or a private network."
)

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


class _Refused(ToolError):
    """A URL or address the SSRF guard refuses; raised from inside the resolver too."""


# --- addresses -------------------------------------------------------------------------------

_METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _address_class(ip: IPAddress) -> str | None:
    """Why `ip` is not a public address (e.g. "a loopback address"), or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            form, inner = embedded
            reason = _address_class(inner)
            if reason is not None:
                return f"{reason} ({form} form of {inner})"
            if form == "IPv4-mapped":
                return None
    if ip in _METADATA:
        return "a link-local address (the cloud metadata service)"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private-network address"
    if not ip.is_global:
        return "a special-purpose (non-public) address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address stands for, with the name of the form."""
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    if ip.teredo is not None:
        return "Teredo", ip.teredo[1]
    if ip in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


_LEGACY_IPV4 = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]*|[0-9]+)){0,3}")


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """A host in the numeric forms browsers and `inet_aton` accept (`2130706433`, `0x7f.1`,
    `0177.0.0.1`, `127.1`) as the address it means; None if it is not such a form."""
    if not _LEGACY_IPV4.fullmatch(host):
        return None
    parts = host.split(".")
    numbers = []
    for part in parts:
        if part[:2].lower() == "0x":
            number = int(part[2:] or "0", 16)
        elif len(part) > 1 and part.startswith("0"):
            if any(digit in "89" for digit in part):
                raise _Refused(f"the host {host!r} is not a valid address; write the address in full")
            number = int(part, 8)
        else:
            number = int(part)
        numbers.append(number)
    *leading, last = numbers
    if any(number > 255 for number in leading) or last >= 256 ** (5 - len(numbers)):
        raise _Refused(f"the host {host!r} is not a valid IPv4 address; write the address in full")
    value = last
    for index, number in enumerate(leading):
        value |= number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _check_host(host: str, allow_private: bool, what: str) -> None:
    """Refuse `localhost` names and IP literals that are not public (before any lookup).

    Args:
        host: The URL's host, as the connection will use it (IDNA-decoded, no brackets).
        allow_private: Skip the address checks.
        what: How the refusal names the URL (e.g. "http://x/" or "the redirect to http://x/").
    """
    bare = host.rstrip(".").lower()
    try:
        literal: IPAddress | None = ipaddress.ip_address(bare)
        legacy = False
    except ValueError:
        literal = _legacy_ipv4(bare)
        legacy = literal is not None
    if not allow_private:
        if bare == "localhost" or bare.endswith(".localhost"):
            raise _Refused(
                f"{what} is refused: {host!r} names this machine (a loopback address). {_PUBLIC_ONLY}"
            )
        reason = _address_class(literal) if literal is not None else None
        if reason is not None:
            spelled = str(literal) if bare == str(literal) else f"{host} (that is {literal})"
            raise _Refused(f"{what} is refused: {spelled} is {reason}. {_PUBLIC_ONLY}")
    if legacy:
        raise ToolError(
            f"{what} writes the address {literal} in an unusual numeric form ({host}); "
            f"use the usual dotted form, e.g. http://{literal}/"
        )


async def _getaddrinfo(host: str, port: int, family: int) -> list[tuple[int, str, int]]:
    """The (family, address, scope id) of every address `host` resolves to."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    found = []
    for info_family, _, _, _, sockaddr in infos:
        scope = int(sockaddr[3]) if info_family == socket.AF_INET6 and len(sockaddr) > 3 else 0
        found.append((int(info_family), str(sockaddr[0]), scope))
    return found


class _VettedResolver(AbstractResolver):
    """Looks a name up once, refuses it if any address is not public, and gives the connector
    exactly the addresses it checked."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = list(dict.fromkeys(await _getaddrinfo(host, port, family)))
        if not addresses:
            raise OSError(f"{host} has no addresses")
        results: list[ResolveResult] = []
        for address_family, address, scope in addresses:
            if not self._allow_private:
                reason = _address_class(ipaddress.ip_address(address.split("%")[0]))
                if reason is not None:
                    raise _Refused(f"{host} resolves to {address}, {reason}. {_PUBLIC_ONLY}")
            results.append(
                ResolveResult(
                    hostname=host,
                    host=f"{address}%{scope}" if scope else address,
                    port=port,
                    family=address_family,
                    proto=0,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        return results

    async def close(self) -> None:
        return None


def _parse_url(text: str, allow_private: bool, what: str) -> URL:
    """The URL `text` if the guard lets it through (see the module docstring)."""
    try:
        url = URL(text.strip())
    except (ValueError, TypeError):
        raise ToolError(
            f"{what} is not a valid URL; give a full address such as https://example.com/page"
        ) from None
    if not url.scheme:
        raise ToolError(
            f"{what} has no scheme; write the full address, e.g. https://{text.strip().lstrip('/')}"
        )
    if url.scheme not in ("http", "https"):
        raise _Refused(
            f"{what} uses {url.scheme}:, which is refused: fetch_url only reads http:// and https:// "
            "addresses of public web sites."
        )
    if not url.host:
        raise ToolError(f"{what} has no host name; give a full address such as https://example.com/page")
    _check_host(url.host, allow_private, what)
    return url


# --- reading ---------------------------------------------------------------------------------

Kind = Literal["html", "json", "text", "binary"]

_TEXT_TYPES = frozenset(
    {
        "application/xml",
        "application/javascript",
        "application/ecmascript",
        "application/x-javascript",
        "application/yaml",
        "application/x-yaml",
        "application/toml",
        "application/x-sh",
        "application/csv",
        "application/sql",
        "application/graphql",
        "application/x-ndjson",
        "application/jsonl",
        "application/x-www-form-urlencoded",
    }
)
_BINARY_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"%PDF", b"PK\x03\x04", b"\x1f\x8b", b"RIFF", b"OggS")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def _kind(mime: str, head: bytes) -> Kind:
    """What the body is, from its content type and, when that says nothing, its first bytes."""
    if mime in ("text/html", "application/xhtml+xml"):
        return "html"
    if mime in ("application/json", "text/json") or mime.endswith("+json"):
        return "json"
    if mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith("+xml"):
        return "text"
    if mime or head.startswith(_BINARY_MAGIC):
        return "binary"
    sample = head[:512].lstrip().lower()
    if sample.startswith((b"<!doctype html", b"<html")) or b"<body" in sample:
        return "html"
    if b"\0" in head[:1024]:
        return "binary"
    return "text"


def _decode(body: bytes, charset: str | None, kind: Kind) -> str:
    """The body as text, in the charset the server named (or an HTML page declares), else UTF-8."""
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if body.startswith(bom):
            charset = codec
            break
    if charset is None and kind == "html":
        declared = _META_CHARSET.search(body[:4096])
        charset = declared.group(1).decode("ascii") if declared else None
    try:
        return body.decode(charset or "utf-8", "replace")
    except LookupError:  # an unknown or non-text codec
        return body.decode("utf-8", "replace")


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of the body, and whether there was more (left unread)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        room = limit - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            response.close()  # drop the connection instead of reading on
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


# --- HTML to text ----------------------------------------------------------------------------

_SKIP = frozenset(
    {"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "canvas", "select", "head"}
)
_BOILERPLATE = frozenset({"nav", "footer"})
_IN_HEAD = frozenset({"title", "meta", "link", "base", "script", "style", "noscript", "template"})
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_PARAGRAPHS = frozenset({"p", "pre", "blockquote", "table", "ul", "ol", "dl", "figure", "hr"})
_BREAKS = frozenset(
    {
        "address", "article", "aside", "body", "br", "caption", "center", "dd", "details", "dialog",
        "div", "dt", "fieldset", "figcaption", "footer", "form", "header", "html", "legend", "li",
        "main", "nav", "section", "summary", "tr",
    }
)  # fmt: skip
_LINK_SCHEMES = ("http:", "https:", "mailto:", "ftp:")
_SPACES = re.compile(r"\s+")


class _HtmlText(HTMLParser):
    """Readable text of an HTML page: headings as `#`, list items as `-`, links as
    "text (url)", table cells split by `|`; scripts, styles and other non-text dropped."""

    def __init__(self, base_url: str, drop: frozenset[str]) -> None:
        super().__init__(convert_charrefs=True)
        self._base = base_url
        self._base_set = False
        self._drop = drop
        self._skipping: list[str] = []
        self._title_parts: list[str] | None = None
        self.title = ""
        self._lines: list[str] = []
        self._parts: list[str] = []
        self._space = False
        self._blank_due = False
        self._prefix = ""
        self._pre = 0
        self._lists: list[int | None] = []  # None for <ul>, the next number for <ol>
        self._cells = 0
        self._link: tuple[str, list[str]] | None = None

    # structure

    def _newline(self, blank: bool = False) -> None:
        if self._parts:
            self._lines.append("".join(self._parts).rstrip())
            self._parts = []
        self._space = False
        self._prefix = ""
        self._blank_due = self._blank_due or blank

    def _emit(self, text: str) -> None:
        if not self._parts:
            if self._blank_due and self._lines and self._lines[-1]:
                self._lines.append("")
            self._blank_due = False
            self._parts.append(self._prefix)
            self._prefix = ""
            self._space = False
        elif self._space and not self._parts[-1].endswith((" ", "\n")):
            self._parts.append(" ")
        self._parts.append(text)
        self._space = False
        if self._link is not None:
            self._link[1].append(text)

    def text(self) -> str:
        self._newline()
        lines: list[str] = []
        for line in self._lines:
            if line or (lines and lines[-1]):
                lines.append(line)
        return "\n".join(lines).strip("\n")

    # parser callbacks

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skipping == ["head"] and tag not in _IN_HEAD:
            self._skipping.clear()  # a page without </head>: the body has begun
        if (
            tag == "title"
            and self._title_parts is None
            and not self.title
            and not set(self._skipping) - {"head"}
        ):
            self._title_parts = []
            return
        if tag == "base" and not self._base_set:
            href = dict(attrs).get("href")
            if href:
                self._base, self._base_set = urljoin(self._base, href), True
        if tag in _SKIP or tag in self._drop:
            if tag != "head" or not self._skipping:
                self._skipping.append(tag)
            return
        if self._skipping:
            return
        self._open(tag, dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._title_parts is not None:
            self.title = _SPACES.sub(" ", "".join(self._title_parts)).strip()
            self._title_parts = None
            return
        if tag in self._skipping:
            while self._skipping.pop() != tag:
                pass
            return
        if self._skipping:
            return
        self._close(tag)

    def handle_data(self, data: str) -> None:
        if self._title_parts is not None:
            self._title_parts.append(data)
            return
        if self._skipping:
            return
        if self._pre:
            first, *rest = data.split("\n")
            if first:
                self._emit(first)
            for line in rest:
                if not self._parts:
                    self._lines.append("")
                self._newline()
                if line:
                    self._emit(line)
            return
        text = _SPACES.sub(" ", data)
        if not text.strip():
            self._space = self._space or (bool(text) and bool(self._parts))
            return
        if text.startswith(" "):
            self._space = True
        self._emit(text.strip())
        self._space = text.endswith(" ")

    def _open(self, tag: str, attrs: dict[str, str | None]) -> None:
        if tag in _HEADINGS:
            self._newline(blank=True)
            self._prefix = "#" * _HEADINGS[tag] + " "
        elif tag == "li":
            self._newline()
            depth = max(len(self._lists), 1)
            numbering = self._lists[-1] if self._lists else None
            if numbering is None:
                marker = "-"
            else:
                marker = f"{numbering}."
                self._lists[-1] = numbering + 1
            self._prefix = "  " * (depth - 1) + marker + " "
        elif tag in ("ul", "ol"):
            self._newline(blank=not self._lists)
            self._lists.append(None if tag == "ul" else _start(attrs.get("start")))
        elif tag == "p" and self._lists:
            self._newline()
        elif tag in _PARAGRAPHS:
            self._newline(blank=True)
            self._pre += tag == "pre"
        elif tag in _BREAKS:
            self._newline()
            if tag == "tr":
                self._cells = 0
        elif tag in ("td", "th"):
            if self._cells:
                self._space = True
                self._emit("|")
                self._space = True
            self._cells += 1
        elif tag == "a" and self._link is None:
            href = (attrs.get("href") or "").strip()
            if href and not href.startswith("#"):
                target = urljoin(self._base, href)
                self._link = (target if target.startswith(_LINK_SCHEMES) else "", [])
        elif tag == "img":
            alt = _SPACES.sub(" ", attrs.get("alt") or "").strip()
            if alt:
                self._space = self._space or bool(self._parts)
                self._emit(f"[image: {alt}]")

    def _close(self, tag: str) -> None:
        if tag in _HEADINGS:
            self._newline(blank=True)
        elif tag in ("ul", "ol"):
            if self._lists:
                self._lists.pop()
            self._newline(blank=not self._lists)
        elif tag == "p" and self._lists:
            self._newline()
        elif tag in _PARAGRAPHS:
            self._newline(blank=True)
            if tag == "pre" and self._pre:
                self._pre -= 1
        elif tag in _BREAKS:
            self._newline()
        elif tag == "a" and self._link is not None:
            target, words = self._link
            self._link = None
            label = " ".join(words).strip()
            if target and label and label not in (target, target.split("://", 1)[-1]):
                self._space = True
                self._emit(f"({target})")


def _start(value: str | None) -> int:
    try:
        return int(value or 1)
    except ValueError:
        return 1


def _html_to_text(html: str, base_url: str) -> tuple[str, str]:
    """The title and readable text of a page; navigation and footers are left out unless
    they are all the page has."""
    for drop in (_BOILERPLATE, frozenset[str]()):
        parser = _HtmlText(base_url, drop)
        parser.feed(html)
        parser.close()
        text = parser.text()
        if text:
            break
    return parser.title, text


# --- the tool --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Page:
    """What one fetch found, before it is shown."""

    url: URL
    status: int
    reason: str
    mime: str
    content_type: str
    size: int
    cut: bool
    kind: Kind
    text: str
    redirected_from: URL | None


def _size(count: int) -> str:
    return f"{count:,} bytes"


def _header(page: _Page, max_bytes: int) -> str:
    parts = [str(page.url), f"{page.status} {page.reason}".strip(), page.content_type or "no content type"]
    parts.append(
        f"first {_size(page.size)} only (cut at {_size(max_bytes)})" if page.cut else _size(page.size)
    )
    if page.redirected_from is not None:
        parts.append(f"redirected from {page.redirected_from}")
    return " | ".join(parts)


def _body_text(kind: Kind, raw: bytes, charset: str | None, url: URL) -> str:
    if kind == "binary":
        return ""
    text = _decode(raw, charset, kind)
    if kind == "html":
        title, body = _html_to_text(text, str(url))
        if not body:
            body = "(no readable text on this page; it may need JavaScript to show its content)"
        return f"Title: {title}\n\n{body}" if title else body
    if kind == "json":
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            return text
    return text


async def _fetch(url: str, *, allow_private: bool, max_bytes: int) -> _Page:
    first = current = _parse_url(url, allow_private, url)
    connector = aiohttp.TCPConnector(resolver=_VettedResolver(allow_private), use_dns_cache=False)
    async with aiohttp.ClientSession(
        connector=connector, trust_env=False, timeout=aiohttp.ClientTimeout(total=None)
    ) as session:
        for _ in range(DEFAULT_MAX_REDIRECTS + 1):
            location = await _get(session, current, first, max_bytes)
            if isinstance(location, _Page):
                return location
            try:
                target = current.join(URL(location))
            except ValueError:
                raise ToolError(f"{current} redirected to an invalid URL {location!r}") from None
            current = _parse_url(str(target), allow_private, f"the redirect from {current} to {target}")
    raise ToolError(
        f"{first} redirected more than {DEFAULT_MAX_REDIRECTS} times (last to {current}); "
        "give the final address directly or try another page."
    )


async def _get(session: aiohttp.ClientSession, url: URL, first: URL, max_bytes: int) -> _Page | str:
    """One GET: the page, or where it redirects to; connection failures as `ToolError`s."""
    try:
        async with session.get(
            url, headers={"User-Agent": _USER_AGENT, "Accept": _ACCEPT}, allow_redirects=False
        ) as response:
            location = response.headers.get("Location")
            if response.status in _REDIRECT_STATUSES and location:
                return location
            return await _read(response, url, max_bytes, first if url != first else None)
    except _Refused as exc:  # from the resolver
        prefix = f"{url} is refused" if url == first else f"{first} redirected to {url}, which is refused"
        raise _Refused(f"{prefix}: {exc}") from None
    except aiohttp.ClientConnectorDNSError:
        raise ToolError(
            f"could not find the server {url.host!r}: the name does not resolve (DNS lookup failed). "
            "Check the address for typos."
        ) from None
    except aiohttp.ClientConnectorCertificateError as exc:
        raise ToolError(f"{url.host} has an invalid TLS certificate: {exc.certificate_error}") from None
    except aiohttp.ClientConnectorError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc.os_error) or type(exc.os_error).__name__
        raise ToolError(f"could not connect to {url.host}:{url.port}: {reason}") from None
    except aiohttp.ClientError as exc:
        raise ToolError(f"fetching {url} failed: {type(exc).__name__}: {exc}") from None


async def _read(response: aiohttp.ClientResponse, url: URL, max_bytes: int, origin: URL | None) -> _Page:
    mime = response.content_type if "Content-Type" in response.headers else ""
    declared = response.content_length
    if _kind(mime, b"") == "binary" and declared is not None:
        raw, size, cut = b"", declared, False  # the size is known; the bytes would not be shown
        response.close()
    else:
        raw, cut = await _read_capped(response, max_bytes)
        size = len(raw)
    kind = _kind(mime, raw[:1024])
    return _Page(
        url=url,
        status=response.status,
        reason=response.reason or "",
        mime=mime,
        content_type=response.headers.get("Content-Type", ""),
        size=size,
        cut=cut,
        kind=kind,
        text=_body_text(kind, raw, response.charset, url),
        redirected_from=origin,
    )


def _show(page: _Page, start: int, max_chars: int, max_bytes: int) -> ToolResult:
    header = _header(page, max_bytes)
    if page.status >= 400:
        excerpt = page.text.strip()
        if len(excerpt) > _ERROR_EXCERPT:
            excerpt = excerpt[:_ERROR_EXCERPT] + " …"
        return ToolResult(
            f"{header}\nThe server answered {page.status} {page.reason}; the page was not fetched."
            + (f"\n\n{excerpt}" if excerpt else ""),
            is_error=True,
        )
    if page.kind == "binary":
        what = page.mime or "unknown type"
        return ToolResult(
            f"{header}\nThis is a binary file ({what}, {_size(page.size)}), not text; "
            "fetch_url cannot show its contents."
        )
    text = page.text
    if not text.strip():
        return ToolResult(f"{header}\n(the page is empty)")
    if start >= len(text):
        raise ToolError(
            f"start={start} is past the end: the text has {len(text):,} characters; use a smaller start"
        )
    end = min(start + max_chars, len(text))
    shown = text[start:end]
    notes = []
    if start:
        notes.append(f"[characters {start:,}-{end:,} of {len(text):,}]")
    notes.append(shown)
    if end < len(text):
        notes.append(
            f"[cut: showed characters {start:,}-{end:,} of {len(text):,}. "
            f"To read on, call fetch_url again with the same url and start={end}]"
        )
    if page.cut:
        notes.append(f"[the page is larger than {_size(max_bytes)}; only its beginning was read]")
    return ToolResult(header + "\n\n" + "\n".join(notes))


def make_fetch_tool(
    *,
    allow_private: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> FunctionTool:
    """The `fetch_url` tool: GET an http(s) URL and answer with its text.

    Args:
        allow_private: Also reach loopback, private-network, link-local and other non-public
            addresses (off: an agent should not probe the machine or its network).
        max_bytes: Bytes of body read at most; a bigger page is cut, and said to be.
        timeout: Seconds the whole fetch may take, redirects included.
        max_chars: Characters of text per answer; the model pages on with `start`.
    """
    if max_bytes <= 0 or max_chars <= 0 or timeout <= 0:
        raise ValueError("max_bytes, max_chars and timeout must be positive")

    async def fetch_url(url: str, start: int = 0) -> ToolResult:
        """Download a public web page or file by its URL and return it as readable text.

        The answer starts with one line: final URL | status | content type | size. Web
        pages are turned into plain text: headings start with #, list items with -, and links
        look like "text (url)". Long pages are cut; the note at the end says which `start`
        reads the next part. Only http:// and https:// addresses of public internet sites
        work; local and private-network addresses are refused.

        Args:
            url: The full address, starting with http:// or https://, e.g. "https://example.com/page".
            start: Character offset to begin at: 0 for the start of the page; to read more of a
                cut page, the number given in its "cut" note.
        """
        if start < 0:
            raise ToolError(f"start={start} is negative; use 0 for the beginning of the page")
        try:
            page = await asyncio.wait_for(
                _fetch(url, allow_private=allow_private, max_bytes=max_bytes), timeout
            )
        except asyncio.TimeoutError:
            raise ToolError(
                f"fetching {url} timed out after {timeout:g} s (the server is slow or not answering); "
                "try again later or use another source."
            ) from None
        return _show(page, start, max_chars, max_bytes)

    return FunctionTool(fetch_url, timeout=timeout + 10)
