"""Resources without a server: bounded listing, the tools' names and texts, contents as text
and files, and `--attach` references."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from mcp.types import (
    BlobResourceContents,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    TextResourceContents,
    Tool,
)

from agentkit.errors import ConfigError
from agentkit.mcp.catalog import Catalog, read_pages
from agentkit.mcp.config import ServerConfig
from agentkit.mcp.resources import (
    Attachment,
    catalog_text,
    contents_text,
    resource_tools,
    running_session,
    save_contents,
)

PNG = b"\x89PNG\r\n\x1a\nfake"


def session(catalog: Catalog, *, tools: Sequence[str] = (), **config: Any) -> Any:
    return SimpleNamespace(
        name="docs",
        config=ServerConfig(command="x", **config),
        catalog=catalog,
        tools=[Tool(name=name, input_schema={"type": "object"}) for name in tools],
        status="ready",
        error=None,
    )


def resources(count: int) -> list[Resource]:
    return [Resource(name=f"r{i}", uri=f"docs://r{i}", mime_type="text/plain") for i in range(count)]


async def test_listing_stops_at_the_page_limit_and_says_it_was_cut() -> None:
    asked: list[str | None] = []

    async def endless(cursor: str | None) -> Any:
        asked.append(cursor)
        return SimpleNamespace(items=[len(asked)], next_cursor=f"c{len(asked)}")

    items, complete = await read_pages(endless, "items", max_pages=3)
    assert (items, complete, asked) == ([1, 2, 3], False, [None, "c1", "c2"])


async def test_listing_follows_cursors_to_the_last_page() -> None:
    pages = {None: ([1, 2], "next"), "next": ([3], None)}

    async def fetch(cursor: str | None) -> Any:
        items, after = pages[cursor]
        return SimpleNamespace(items=items, next_cursor=after)

    assert await read_pages(fetch, "items") == ([1, 2, 3], True)


def test_a_server_with_resources_gets_two_tools_named_after_it() -> None:
    tools = resource_tools(session(Catalog(resources=resources(1))))
    assert [t.name for t in tools] == ["docs__list_resources", "docs__read_resource"]
    assert all(t.approval == "auto" for t in tools)
    assert tools[1].parameters["required"] == ["uri"]


def test_no_resource_tools_when_turned_off_or_when_there_are_no_resources() -> None:
    assert resource_tools(session(Catalog(resources=resources(1)), resources=False)) == []
    assert resource_tools(session(Catalog())) == []


def test_a_server_tool_of_the_same_name_wins() -> None:
    tools = resource_tools(session(Catalog(resources=resources(1)), tools=["read_resource"]))
    assert [t.name for t in tools] == ["docs__list_resources"]


def test_the_read_tool_names_resources_and_templates_up_to_a_limit() -> None:
    catalog = Catalog(
        resources=resources(3),
        templates=[ResourceTemplate(name="note", uri_template="docs://note/{title}", description="A note.")],
    )
    full = catalog_text(session(catalog), limit=None)
    assert "- docs://r0 — r0 (text/plain)" in full
    assert "replace each {placeholder}" in full and "- docs://note/{title} — note: A note." in full
    cut = catalog_text(session(catalog), limit=2)
    assert "docs://r1" in cut and "docs://r2" not in cut and "note/{title}" not in cut
    assert "(2 more: docs__list_resources lists them all)" in cut


def test_a_listing_cut_at_the_page_limit_says_so() -> None:
    catalog = Catalog(resources=resources(1), cut={"resources"})
    assert "more than the" in catalog_text(session(catalog), limit=None)


def test_text_contents_are_text_and_binary_ones_are_saved_and_named(tmp_path: Path) -> None:
    result = ReadResourceResult(
        contents=[
            TextResourceContents(uri="docs://a", mime_type="text/plain", text="hello"),
            BlobResourceContents(
                uri="docs://logo", mime_type="image/png", blob=base64.b64encode(PNG).decode()
            ),
        ]
    )
    files = save_contents(result, tmp_path, shown_from=tmp_path)
    assert files[0] is None and files[1] is not None
    assert (tmp_path / "logo.png").read_bytes() == PNG
    text = contents_text(result, files, framed=True)
    assert text == (
        '<resource uri="docs://a" mime="text/plain">\nhello\n</resource>\n'
        '<resource uri="docs://logo" mime="image/png">\n'
        "[binary: image/png, 12 B, saved as logo.png]\n</resource>"
    )
    assert contents_text(ReadResourceResult(contents=result.contents[:1])) == "hello"


def test_an_unsaved_blob_is_described_without_a_file() -> None:
    result = ReadResourceResult(
        contents=[
            BlobResourceContents(uri="docs://x", mime_type=None, blob=base64.b64encode(b"abc").decode())
        ]
    )
    assert contents_text(result) == "[binary: application/octet-stream, 3 B]"


def test_attach_references_split_at_the_first_colon() -> None:
    assert Attachment.parse("docs:file:///a.md") == Attachment("docs", "file:///a.md")
    for bad in ("file", ":x", "docs:"):
        with pytest.raises(ConfigError, match="give it as SERVER:URI"):
            Attachment.parse(bad)


def test_a_uri_without_its_server_is_told_to_put_the_server_first() -> None:
    with pytest.raises(ConfigError) as info:
        Attachment.parse("file:///a.md")
    assert "give it as SERVER:URI, e.g. --attach SERVER:file:///a.md" in str(info.value)
    assert "file:///a.md is a URI with no server before it" in str(info.value)


def test_a_template_not_filled_in_names_its_placeholder() -> None:
    with pytest.raises(ConfigError) as info:
        Attachment.parse("docs:docs://page/{n}")
    assert "{n} is a placeholder of the server's URI template; put the n you want in its place" in str(
        info.value
    )
    assert "--attach docs:docs://page/VALUE" in str(info.value)
    assert Attachment.parse("docs:docs://page/7") == Attachment("docs", "docs://page/7")


def test_an_unknown_server_is_named_with_the_running_ones() -> None:
    toolset = SimpleNamespace(sessions={"docs": session(Catalog())})
    with pytest.raises(ConfigError, match=r"'wiki' is not in the MCP config; the running servers: docs"):
        running_session(toolset, "wiki", "--attach wiki:x")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="the agent has no MCP servers"):
        running_session(None, "wiki", "--attach wiki:x")


def test_long_descriptions_are_cut_in_the_tools_texts() -> None:
    catalog = Catalog(resources=[Resource(name="r", uri="docs://r", description="word " * 100)])
    line = catalog_text(session(catalog), limit=None).splitlines()[1]
    assert line.endswith("…") and len(line) < 160
