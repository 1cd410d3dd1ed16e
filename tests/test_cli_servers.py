"""The line that shows a run's MCP servers starting (agentkit/cli.py)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from rich.console import Console

from agentkit.cli import _Renderer
from agentkit.events import Event, ServerStarting, ServerStatus


def renderer(terminal: bool) -> tuple[_Renderer, io.StringIO]:
    err = io.StringIO()
    console = Console(file=err, force_terminal=terminal, width=100, color_system=None)
    return _Renderer(Console(file=io.StringIO()), console, show_thinking=False), err


EVENTS: list[Event] = [
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
        "⚠ MCP server 'fetch': command not found: uvx",
        "  (going on without it)",  # not glued to the end of the server's last stderr line
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
        .endswith(FINAL + "\n⚠ MCP server 'fetch': command not found: uvx\n  (going on without it)")
    )


def test_a_status_without_a_start_is_printed_in_the_same_line_format() -> None:
    render, err = renderer(terminal=False)
    render(EVENTS[3])
    assert err.getvalue().strip() == "MCP: time ✓ 0.4s (2 tools)"


def test_with_mcp_strict_the_line_says_nothing_of_going_on() -> None:
    err = io.StringIO()
    console = Console(file=err, force_terminal=False, width=100, color_system=None)
    render = _Renderer(Console(file=io.StringIO()), console, show_thinking=False, mcp_strict=True)
    for event in EVENTS:
        render(event)
    assert err.getvalue().splitlines() == [FINAL]  # why fetch failed: in the run's one error


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


# -- the CLI: a failed server shows with --attach/--prompt, --mcp-strict, no MCP config ---------------

BROKEN = {"command": sys.executable, "args": ["-c", "import sys; sys.exit('no notes folder')"], "timeout": 20}
"""An MCP server that exits at once, saying why on stderr."""


@pytest.fixture
def broken(tmp_path: Path) -> list[str]:
    """The options of a scripted run with one MCP server, which fails to start."""
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"notes": BROKEN}}))
    script = tmp_path / "script.json"
    script.write_text(json.dumps(["Done."]))
    return ["--backend", "scripted", "--script", str(script), "--mcp-config", str(config)]


def test_attach_shows_the_servers_start_and_why_one_failed_as_a_plain_run_does(broken: list[str]) -> None:
    from typer.testing import CliRunner

    from agentkit.cli import app

    runner = CliRunner()
    plain = runner.invoke(app, ["run", "x", *broken])
    attached = runner.invoke(app, ["run", "x", *broken, "--attach", "notes:file:///a.md"])
    prompted = runner.invoke(app, ["run", *broken, "--prompt", "notes/summarize"])
    assert plain.exit_code == 0, plain.output
    for done in (plain, attached, prompted):
        lines = done.stderr.splitlines()
        assert lines[0] == "MCP: notes ✗", done.stderr
        assert lines[1].startswith("⚠ MCP server 'notes'") and "no notes folder" in done.stderr
        assert "  (going on without it)" in lines
    assert attached.exit_code == prompted.exit_code == 2  # then: the server is not running
    assert "MCP server 'notes' is not running" in attached.stderr


@pytest.mark.parametrize("attach", [[], ["--attach", "notes:file:///a.md"]])
def test_mcp_strict_fails_once_with_exit_2_and_no_resume_advice(broken: list[str], attach: list[str]) -> None:
    from typer.testing import CliRunner

    from agentkit.cli import app

    done = CliRunner().invoke(app, ["run", "x", *broken, "--mcp-strict", *attach])
    assert done.exit_code == 2, done.output
    said = done.stderr
    assert said.count("its stderr ends with") == 1, said
    assert "going on without it" not in said and "resume" not in said
    assert "--mcp-strict stops when an MCP server does not start" in said


def test_a_prompt_without_an_mcp_config_says_none_was_found_and_how_to_give_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from agentkit.cli import app

    monkeypatch.delenv("AGENTKIT_MCP_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    script = tmp_path / "script.json"
    script.write_text(json.dumps(["Done."]))
    runner = CliRunner()
    default = tmp_path / "config" / "agentkit" / "mcp.json"
    scripted = ["--backend", "scripted", "--script", str(script)]
    for command in (
        ["run", *scripted, "--prompt", "docs/summarize", "-a", "topic=MCP"],
        ["run", "x", *scripted, "--attach", "docs:file:///a.md"],
        ["mcp", "list"],
    ):
        done = runner.invoke(app, command, env={"COLUMNS": "500"})
        said = " ".join(done.stderr.split())
        assert done.exit_code == 2, said
        assert "no MCP config was found: give one with --mcp-config FILE" in said
        assert f"$AGENTKIT_MCP_CONFIG, or write {default}" in said
    monkeypatch.setenv("AGENTKIT_MCP_CONFIG", "")
    done = runner.invoke(app, ["mcp", "list"], env={"COLUMNS": "500"})
    assert "$AGENTKIT_MCP_CONFIG is set empty, which turns the default config off" in done.stderr


def test_chat_shows_its_servers_start_in_the_runs_line_format(broken: list[str]) -> None:
    from typer.testing import CliRunner

    from agentkit.cli import app

    done = CliRunner().invoke(app, ["chat", *broken], input="")
    assert done.exit_code == 0, done.output
    lines = done.stderr.splitlines()
    assert lines[0] == "MCP: notes ✗", done.stderr
    assert lines[1].startswith("⚠ MCP server 'notes'") and "  (going on without it)" in lines
    assert not [x for x in lines if x.startswith("● MCP server")]


def test_batch_shows_its_servers_start_once_in_the_runs_line_format(
    broken: list[str], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from agentkit.cli import app

    tasks = tmp_path / "tasks.txt"
    tasks.write_text("one\n")
    done = CliRunner().invoke(app, ["batch", str(tasks), *broken, "--output", str(tmp_path / "out.jsonl")])
    assert done.exit_code == 0, done.output
    lines = done.stderr.splitlines()
    assert lines[0] == "MCP: notes ✗", done.stderr
    assert lines[1].startswith("⚠ MCP server 'notes'") and "  (going on without it)" in lines
    assert done.stderr.count("MCP: notes") == 1
    strict = CliRunner().invoke(
        app, ["batch", str(tasks), *broken, "--mcp-strict", "--output", str(tmp_path / "strict.jsonl")]
    )
    assert strict.exit_code == 2 and "no notes folder" in strict.stderr, strict.output
