"""Names a person mistypes on the command line (a server, a tool, a tool filter): what is
wrong and the name meant."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from types import SimpleNamespace

from mcp.types import Tool
from typer.testing import CliRunner

from agentkit.cli import _no_such_tool, app
from agentkit.mcp.config import McpConfigWarning, ServerConfig
from agentkit.mcp.session import McpSession


def test_a_tool_name_is_matched_by_its_words_not_only_its_letters() -> None:
    names = ["convert_time", "get_current_time"]
    assert "Did you mean 'get_current_time'?" in _no_such_tool("time", "get_time", names)
    assert "Did you mean 'convert_time'?" in _no_such_tool("time", "convert_tim", names)


def test_a_mistyped_server_name_gets_the_one_meant(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"docs": {"command": "srv"}, "git": {"command": "g"}}}))
    result = CliRunner().invoke(app, ["mcp", "prompts", "doc", "--mcp-config", str(path)])
    assert result.exit_code == 2
    assert f"no MCP server named 'doc' in {path}; did you mean 'docs'?; the servers are: docs, git" in (
        result.stderr
    )


async def test_a_tool_filter_naming_no_tool_warns_once_naming_the_tools() -> None:
    config = ServerConfig(command="x", include_tools=["get_time"])
    session = McpSession("time", config)
    page = SimpleNamespace(
        tools=[
            Tool(name=name, input_schema={"type": "object"}) for name in ("convert_time", "get_current_time")
        ],
        next_cursor=None,
    )

    async def list_tools(cursor: str | None = None) -> SimpleNamespace:
        return page

    client = SimpleNamespace(list_tools=list_tools)
    with warnings.catch_warnings(record=True) as noted:
        warnings.simplefilter("always")
        assert await session._list_tools(client) == []
        await session._list_tools(client)  # a tools/list_changed: told once already
    (note,) = noted
    assert note.category is McpConfigWarning
    assert str(note.message) == (
        "MCP server 'time': include_tools names 'get_time', which is not one of its tools "
        "(did you mean 'get_current_time'?); its tools: convert_time, get_current_time"
    )
