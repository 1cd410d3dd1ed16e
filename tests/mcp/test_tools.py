"""MCP results as the text the model reads, and MCP tools as agentkit tools."""

from __future__ import annotations

import base64
import sys
from typing import Any

from mcp import types

from agentkit.mcp.config import ServerConfig
from agentkit.mcp.session import McpSession, describe_exception
from agentkit.mcp.tools import McpTool, prefixed_name, result_text

if sys.version_info >= (3, 11):
    from builtins import BaseExceptionGroup
else:  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup


def result(*content: Any, structured: Any = None, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=list(content), structured_content=structured, is_error=error)


def test_text_blocks_are_joined() -> None:
    text = result(types.TextContent(type="text", text="a"), types.TextContent(type="text", text="b"))
    assert result_text(text) == "a\nb"


def test_structured_content_is_json_unless_the_text_says_it_already() -> None:
    assert result_text(result(structured={"t": 1})) == '{"t": 1}'
    same = result(types.TextContent(type="text", text='{"t": 1}'), structured={"t": 1})
    assert result_text(same) == '{"t": 1}'
    wrapped = result(types.TextContent(type="text", text="ok"), structured={"result": "ok"})
    assert result_text(wrapped) == "ok"
    extra = result(types.TextContent(type="text", text="3 rows"), structured={"rows": [1, 2, 3], "n": 3})
    assert result_text(extra) == '3 rows\n{"rows": [1, 2, 3], "n": 3}'


def test_binary_content_becomes_a_placeholder() -> None:
    png = base64.b64encode(b"\x89PNG" + b"\0" * 2044).decode()
    blocks = result(
        types.ImageContent(type="image", data=png, mime_type="image/png"),
        types.AudioContent(type="audio", data=base64.b64encode(b"RIFF").decode(), mime_type="audio/wav"),
        types.ResourceLink(type="resource_link", uri="file:///r.txt", name="r.txt"),
        types.EmbeddedResource(
            type="resource",
            resource=types.TextResourceContents(uri="file:///t", mime_type="text/plain", text="inline text"),
        ),
        types.EmbeddedResource(
            type="resource",
            resource=types.BlobResourceContents(uri="file:///b.bin", mime_type="application/zip", blob=png),
        ),
    )
    assert result_text(blocks).splitlines() == [
        "[image: image/png, 2.0 KB]",
        "[audio: audio/wav, 4 B]",
        "[resource link: r.txt file:///r.txt]",
        "inline text",
        "[resource: file:///b.bin, application/zip, 2.0 KB]",
    ]


def test_an_empty_result_says_so() -> None:
    assert result_text(result()) == "(the tool returned nothing)"


def test_tool_names_schemas_and_hints() -> None:
    session = McpSession("my.server", ServerConfig(command="x", require_approval=["wipe"], tool_timeout=30))
    schema = {
        "type": "object",
        "properties": {"path": {"type": "string"}},
        "required": ["path"],
        "$schema": "x",
    }
    wipe = McpTool(
        session,
        types.Tool(
            name="wipe", input_schema=schema, annotations=types.ToolAnnotations(destructive_hint=True)
        ),
    )
    read = McpTool(
        session,
        types.Tool(
            name="read",
            description="Read.",
            input_schema=schema,
            annotations=types.ToolAnnotations(read_only_hint=True),
        ),
    )
    plain = McpTool(session, types.Tool(name="plain", input_schema={"type": "object"}))
    assert wipe.name == "my_server__wipe" == prefixed_name("my.server", "wipe")
    assert wipe.parameters is schema or wipe.parameters == schema  # passed to the model as is
    assert (wipe.destructive, wipe.read_only, wipe.requires_approval) == (True, False, True)
    assert (read.destructive, read.read_only, read.requires_approval) == (False, True, False)
    assert not plain.destructive and plain.approval == "auto"  # not marked: no question asked
    assert wipe.approval == "ask" and read.approval == "auto"
    assert plain.description == "The plain tool of my.server."
    assert wipe.timeout == 35
    assert read.spec() == {
        "type": "function",
        "function": {"name": "my_server__read", "description": "Read.", "parameters": schema},
    }


def test_exception_groups_are_unwrapped() -> None:
    from mcp.shared.exceptions import MCPError

    group = BaseExceptionGroup(
        "outer", [BaseExceptionGroup("inner", [MCPError(-32001, "Request 'initialize' timed out")])]
    )
    assert describe_exception(group) == "Request 'initialize' timed out (MCP error -32001)"
    assert describe_exception(FileNotFoundError(2, "No such file", "npx")) == "command not found: npx"
