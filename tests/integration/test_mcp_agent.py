"""MCP tools in the agent loop and on the command line, with real servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, ScriptedBackend
from agentkit.events import RunFinished, ServerStatus, ToolCallFinished, ToolProgress
from agentkit.mcp.config import parse_mcp_config

from .conftest import NOTES, NPM_PREFIX, ROOT, processes_with

AGENTKIT = [sys.executable, "-m", "agentkit.cli"]


def notes_server(tmp_path: Path) -> dict[str, Any]:
    """agentkit's notes MCP server over stdio, keeping its notes in tmp_path."""
    return {"command": sys.executable, "args": [str(NOTES)], "env": {"NOTES_FILE": str(tmp_path / "n.json")}}


def call(name: str, **arguments: Any) -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {json.dumps(arguments)}}}\n</tool_call>'


async def test_a_run_uses_mcp_tools_and_goes_on_without_a_broken_server(tmp_path: Path) -> None:
    config = parse_mcp_config(
        {
            "mcpServers": {
                "notes": notes_server(tmp_path),
                "ghost": {"command": "agentkit-no-such-server"},
            }
        }
    )
    script = [
        "<think>\nSave it, then read it back.\n</think>\n\n"
        + call("notes__add_note", title="plan", text="ship it"),
        call("notes__summarize_notes", delay=0.01),
        "Saved: the plan is to ship it.",
    ]
    agent = Agent(backend=ScriptedBackend(script), mcp=config)
    events = [e async for e in agent.stream("Save a note that the plan is to ship it.")]
    statuses = {e.name: e for e in events if isinstance(e, ServerStatus)}
    assert statuses["notes"].ok and "notes__add_note" in statuses["notes"].tools
    assert not statuses["ghost"].ok and "command not found" in (statuses["ghost"].error or "")
    results = [e.result.content for e in events if isinstance(e, ToolCallFinished)]
    assert results == ["saved note 'plan' (7 characters)", "1 notes, 2 words"]
    assert [e.message for e in events if isinstance(e, ToolProgress)] == ["read 'plan'"]
    assert isinstance(events[-1], RunFinished)
    assert events[-1].result.output == "Saved: the plan is to ship it."
    assert processes_with(str(NOTES)) == []  # the run stopped its servers


async def test_an_agent_in_a_with_block_keeps_its_servers_across_runs(tmp_path: Path) -> None:
    config = parse_mcp_config({"mcpServers": {"notes": notes_server(tmp_path)}})
    script = [call("notes__add_note", title="a", text="1"), "one", call("notes__list_notes"), "two"]
    async with Agent(backend=ScriptedBackend(script), mcp=config) as agent:
        first = await agent.run("first")
        assert processes_with(str(NOTES))  # still up between runs
        second = await agent.run("second")
    assert first.output == "one" and second.output == "two"
    assert json.loads(second.steps[0].tool_results[0].content)["notes"] == [{"title": "a", "text": "1"}]
    assert processes_with(str(NOTES)) == []


async def test_variables_in_mcp_args_stay_out_of_events_transcripts_and_mcp_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-var-secret-4711"
    monkeypatch.setenv("AGENTKIT_TEST_SECRET", secret)
    notes = notes_server(tmp_path)
    servers = {
        "notes": {**notes, "args": [*notes["args"], "--host", "${AGENTKIT_TEST_SECRET}"]},
        "broken": {"command": sys.executable, "args": [str(NOTES), "--port", "${AGENTKIT_TEST_SECRET}"]},
    }
    agent = Agent(
        backend=ScriptedBackend(["done"]), mcp=parse_mcp_config({"mcpServers": servers}), transcripts=tmp_path
    )
    events = [e async for e in agent.stream("hello")]
    statuses = {e.name: e for e in events if isinstance(e, ServerStatus)}
    assert statuses["notes"].ok and statuses["notes"].target.endswith(f"{NOTES} --host ***")
    assert "invalid int value: '***'" in (statuses["broken"].error or "")
    assert agent.last_transcript is not None
    assert secret not in repr(events) and secret not in agent.last_transcript.read_text()

    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}))
    for json_flag in (["--json"], []):
        listed = subprocess.run(
            [*AGENTKIT, "mcp", "list", "--mcp-config", str(path), *json_flag],
            capture_output=True, text=True, env={**os.environ, "AGENTKIT_TEST_SECRET": secret}, cwd=ROOT,
            timeout=120,
        )  # fmt: skip
        assert listed.returncode == 1, listed.stderr  # "broken" failed
        assert "***" in listed.stdout and secret not in listed.stdout + listed.stderr


def test_mcp_tool_names_colliding_with_a_function_tool_are_refused(tmp_path: Path) -> None:
    from agentkit import tool
    from agentkit.errors import ConfigError

    @tool(name="notes__list_notes")
    def clash() -> str:
        """Same name as the MCP tool."""
        return ""

    config = parse_mcp_config({"mcpServers": {"notes": notes_server(tmp_path)}})
    agent = Agent(backend=ScriptedBackend(["x"]), tools=[clash], mcp=config)
    with pytest.raises(ConfigError, match="rename the server in the MCP config or the other tool"):
        agent.run_sync("go")
    assert processes_with(str(NOTES)) == []


# -- every shipped config, on the command line -------------------------------------------------

# (config, a tool it offers, arguments for it, text the result holds)
SHIPPED = [
    ("notes.json", "notes__list_notes", {}, '"notes"'),
    ("notes_http.json", "notes__add_note", {"title": "t", "text": "x"}, "saved note"),
    ("time.json", "time__get_current_time", {"timezone": "UTC"}, '"timezone": "UTC"'),
    ("git.json", "git__git_status", {"repo_path": str(ROOT)}, "branch"),
    ("filesystem.json", "filesystem__list_allowed_directories", {}, "Allowed directories"),
]


@pytest.fixture
def shipped_env(tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "NOTES_FILE": str(tmp_path / "notes.json")}
    # The configs start "python" and console scripts from PATH, as in an activated venv.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["GIT_REPOSITORY"] = str(ROOT)
    env["FS_ROOT"] = str(tmp_path)
    env["AGENTKIT_NPM_PREFIX"] = str(NPM_PREFIX)
    return env


def _needs(config: str) -> None:
    if config == "time.json":
        pytest.importorskip("mcp_server_time")
    if config == "git.json":
        pytest.importorskip("mcp_server_git")
    if (
        config == "filesystem.json"
        and not (NPM_PREFIX / "node_modules" / ".bin" / "mcp-server-filesystem").exists()
    ):
        pytest.skip("npm install --prefix .mcp-npm @modelcontextprotocol/server-filesystem has not run")


@pytest.mark.parametrize(("config", "tool", "arguments", "expect"), SHIPPED, ids=[c for c, *_ in SHIPPED])
def test_shipped_configs_list_and_run_with_a_scripted_model(
    config: str, tool: str, arguments: dict[str, Any], expect: str,
    shipped_env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    _needs(config)
    if config == "notes_http.json":
        url = request.getfixturevalue("notes_http")
        shipped_env["NOTES_PORT"] = url.rsplit(":", 1)[1].split("/")[0]
    path = ROOT / "mcp_configs" / config
    listed = subprocess.run(
        [*AGENTKIT, "mcp", "list", "--mcp-config", str(path), "--json"],
        capture_output=True, text=True, env=shipped_env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stdout + listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["status"] == "ready" and tool in row["tools"]

    script = tmp_path / "script.json"
    script.write_text(json.dumps([call(tool, **arguments), "done"]))
    ran = subprocess.run(
        [*AGENTKIT, "run", "use the tool", "--backend", "scripted", "--script", str(script),
         "--mcp-config", str(path)],
        capture_output=True, text=True, env=shipped_env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "done"
    assert f"→ {tool}" in ran.stderr and expect in ran.stderr.replace("⏎ ", "")
