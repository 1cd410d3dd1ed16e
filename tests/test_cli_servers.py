"""The line that shows a run's MCP servers starting (agentkit/cli.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from agentkit.cli import _Renderer
from agentkit.events import ServerStarting, ServerStatus


def renderer(terminal: bool) -> tuple[_Renderer, io.StringIO]:
    err = io.StringIO()
    console = Console(file=err, force_terminal=terminal, width=100, color_system=None)
    return _Renderer(Console(file=io.StringIO()), console, show_thinking=False), err


EVENTS = [
    ServerStarting("time", "uvx mcp-server-time"),
    ServerStarting("git", "uvx mcp-server-git"),
    ServerStarting("fetch", "uvx mcp-server-fetch"),
    ServerStatus("time", "uvx mcp-server-time", True, ("time__now", "time__convert"), 0.4, None),
    ServerStatus(
        "fetch", "uvx mcp-server-fetch", False, (), 0.0, "MCP server 'fetch': command not found: uvx"
    ),
    ServerStatus("git", "uvx mcp-server-git", True, ("git__log",), 1.25, None),
]
FINAL = "MCP: time ✓ 0.4s (2 tools) · git ✓ 1.2s (1 tool) · fetch ✗"


def test_elsewhere_than_a_terminal_one_line_is_printed_when_every_server_has_started() -> None:
    render, err = renderer(terminal=False)
    for event in EVENTS[:-1]:
        render(event)
    assert err.getvalue() == ""  # not before the last one
    render(EVENTS[-1])
    assert err.getvalue().splitlines() == [
        FINAL,
        "⚠ MCP server 'fetch': command not found: uvx (going on without it)",
    ]


def test_in_a_terminal_the_line_is_redrawn_as_each_server_changes_state() -> None:
    render, err = renderer(terminal=True)
    render(EVENTS[0])
    render(EVENTS[1])
    assert "MCP: time … · git …" in err.getvalue()
    render(EVENTS[2])
    render(EVENTS[3])
    assert "MCP: time ✓ 0.4s (2 tools) · git … · fetch …" in err.getvalue()
    render(EVENTS[4])
    render(EVENTS[5])
    assert (
        err.getvalue()
        .rstrip()
        .endswith(FINAL + "\n⚠ MCP server 'fetch': command not found: uvx (going on without it)")
    )


def test_a_status_without_a_start_is_printed_on_its_own() -> None:
    render, err = renderer(terminal=False)
    render(EVENTS[3])
    assert err.getvalue().strip() == "● MCP server time: 2 tools (0.4s)"


def test_mcp_list_warns_of_a_command_with_a_remote_type(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from agentkit.cli import app

    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"servers": {"x": {"type": "http", "command": str(tmp_path / "none")}}}))
    done = CliRunner().invoke(app, ["mcp", "list", "--mcp-config", str(config)])
    said = " ".join(done.output.split())
    assert f"warning: {config}: server 'x': has 'type': 'http' and a 'command'" in said
    assert "ignores 'type'" in said


def test_a_run_stopped_while_servers_start_leaves_the_line_as_it_stood() -> None:
    render, err = renderer(terminal=True)
    render(EVENTS[0])
    render(EVENTS[1])
    render(EVENTS[3])
    render.pause()  # the CLI's stop (Ctrl-C, SIGTERM, an error)
    assert render.servers.live is None
    assert err.getvalue().rstrip().endswith("MCP: time ✓ 0.4s (2 tools) · git …")
