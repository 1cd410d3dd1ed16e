"""`fetch_url`: read a public web page as text, never an address on the machine or its network.

Which addresses a fetch may reach is `_address_guard`'s concern; how a page becomes text is
`_html_text`'s. This module fetches: redirects are followed by hand, up to
`DEFAULT_MAX_REDIRECTS`, and every hop passes the guard again. The body is read in chunks and
cut at `max_bytes`; the whole fetch, redirects included, has one time limit.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import os
import re
from dataclasses import dataclass
from typing import Literal

import aiohttp
from yarl import URL

from agentkit.builtins._address_guard import Refused, VettedResolver, check_url
from agentkit.builtins._html_text import html_to_text
from agentkit.defaults import TOOL_TIMEOUT_BACKSTOP
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
        title, body = html_to_text(text, str(url))
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
    first = current = check_url(url, allow_private, url)
    connector = aiohttp.TCPConnector(resolver=VettedResolver(allow_private), use_dns_cache=False)
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
            current = check_url(str(target), allow_private, f"the redirect from {current} to {target}")
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
    except Refused as exc:  # from the resolver
        prefix = f"{url} is refused" if url == first else f"{first} redirected to {url}, which is refused"
        raise Refused(f"{prefix}: {exc}") from None
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

    return FunctionTool(fetch_url, timeout=timeout + TOOL_TIMEOUT_BACKSTOP)
