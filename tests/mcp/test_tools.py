"""MCP results as the text the model reads, and MCP tools as agentkit tools."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

from mcp import types

from agentkit.defaults import TOOL_TIMEOUT_BACKSTOP
from agentkit.mcp._errors import describe_exception
from agentkit.mcp.config import ServerConfig
from agentkit.mcp.session import McpSession
from agentkit.mcp.tools import McpTool, prefixed_name, result_text, save_files
from agentkit.tools.scope import RunScope
from agentkit.tools.tool import ToolContext

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
    assert wipe.timeout == 30 + TOOL_TIMEOUT_BACKSTOP  # the session's own 30 s answers first
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


PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 2040
WAV = b"RIFF\x24\0\0\0WAVEfmt "


def media_result() -> types.CallToolResult:
    return result(
        types.TextContent(type="text", text="a chart and its sound"),
        types.ImageContent(type="image", data=base64.b64encode(PNG).decode(), mime_type="image/png"),
        types.AudioContent(type="audio", data=base64.b64encode(WAV).decode(), mime_type="audio/wav"),
        types.EmbeddedResource(
            type="resource",
            resource=types.BlobResourceContents(
                uri="file:///data/report.pdf",
                mime_type="application/pdf",
                blob=base64.b64encode(b"%PDF").decode(),
            ),
        ),
    )


def test_images_audio_and_blobs_are_saved_and_named_in_the_text(tmp_path: Path) -> None:
    files = save_files(media_result(), tmp_path, "chart", shown_from=tmp_path)
    assert [f.shown if f else None for f in files] == [None, "chart.png", "chart.wav", "report.pdf"]
    assert (tmp_path / "chart.png").read_bytes() == PNG and (tmp_path / "chart.wav").read_bytes() == WAV
    assert (tmp_path / "report.pdf").read_bytes() == b"%PDF"
    assert result_text(media_result(), files).splitlines() == [
        "a chart and its sound",
        "[image: image/png, 2.0 KB, saved as chart.png]",
        "[audio: audio/wav, 16 B, saved as chart.wav]",
        "[resource: application/pdf, 4 B, saved as report.pdf]",
    ]


def test_saving_again_never_overwrites_a_file(tmp_path: Path) -> None:
    (tmp_path / "chart.png").write_bytes(b"mine")
    files = save_files(media_result(), tmp_path / "out", "chart", shown_from=tmp_path)
    again = save_files(media_result(), tmp_path / "out", "chart", shown_from=tmp_path)
    assert files[1] and files[1].shown == "out/chart.png"
    assert (
        again[1] and again[1].shown == "out/chart-2.png" and again[3] and again[3].shown == "out/report-2.pdf"
    )
    assert (tmp_path / "chart.png").read_bytes() == b"mine"
    outside = save_files(media_result(), tmp_path / "x", "chart", shown_from=tmp_path / "y")
    assert outside[1] and outside[1].shown == str(tmp_path / "x" / "chart.png")  # not under it: in full


def test_a_block_that_cannot_be_saved_says_why(tmp_path: Path) -> None:
    bad = result(types.ImageContent(type="image", data="not base64!!", mime_type="image/png"))
    files = save_files(bad, tmp_path, "chart")
    assert result_text(bad, files) == "[image: image/png, 12 B; its data is not valid base64]"
    assert list(tmp_path.iterdir()) == []
    blocked = tmp_path / "file"
    blocked.write_text("a file where a folder should be")
    files = save_files(media_result(), blocked / "sub", "chart")
    assert files[1] and files[1].error and files[1].error.startswith("not saved: ")
    assert "not saved" in result_text(media_result(), files).splitlines()[1]


def test_odd_names_and_types_make_safe_file_names(tmp_path: Path) -> None:
    odd = result(
        types.ImageContent(type="image", data=base64.b64encode(b"x").decode(), mime_type="image/x-weird"),
        types.AudioContent(type="audio", data=base64.b64encode(b"y").decode(), mime_type="audio/mpeg"),
    )
    files = save_files(odd, tmp_path, "../../etc/passwd tool")
    assert [f.path.parent for f in files if f] == [tmp_path, tmp_path]
    assert [f.path.name for f in files if f] == ["_.._etc_passwd_tool.bin", "_.._etc_passwd_tool.mp3"]


def mcp_tool_returning(value: types.CallToolResult) -> McpTool:
    session = McpSession("media", ServerConfig(command="x"))

    async def call_tool(name: str, arguments: dict[str, Any], *, progress: Any = None) -> Any:
        return value

    session.call_tool = call_tool  # type: ignore[method-assign]
    return McpTool(session, types.Tool(name="chart", input_schema={"type": "object"}))


async def test_a_tool_saves_into_the_runs_workspace(tmp_path: Path) -> None:
    chart = mcp_tool_returning(media_result())
    answer = await chart.call({}, ToolContext(scope=RunScope(tmp_path)))
    assert "[image: image/png, 2.0 KB, saved as chart.png]" in answer.content
    assert (tmp_path / "chart.png").read_bytes() == PNG and (tmp_path / "chart.wav").is_file()


async def test_without_a_workspace_the_text_names_the_one_made_for_the_run() -> None:
    scope = RunScope()
    answer = await mcp_tool_returning(media_result()).call({}, ToolContext(scope=scope))
    root = scope.workspace
    assert root.name.startswith("agentkit-workspace-")
    assert f"saved as chart.png in the run's workspace {root}]" in answer.content
    assert (root / "chart.png").read_bytes() == PNG


async def test_a_result_without_binary_content_makes_no_workspace() -> None:
    scope = RunScope()
    text = result(types.TextContent(type="text", text="just text"))
    assert (await mcp_tool_returning(text).call({}, ToolContext(scope=scope))).content == "just text"
    assert not scope.has_workspace
