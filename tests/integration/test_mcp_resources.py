"""Resources and prompts against real servers: agentkit's own SDK-built server over stdio and
streamable HTTP (resources, a template, a binary resource, prompts, lists that change), the
npm server-everything, and the CLI (`mcp prompts`, `mcp resources`, `run --prompt/--attach`)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agentkit import Agent, ScriptedBackend
from agentkit.cli import app
from agentkit.errors import ConfigError
from agentkit.mcp.config import McpConfig, ServerConfig
from agentkit.mcp.prompts import get_prompt
from agentkit.mcp.resources import attach_resources
from agentkit.mcp.toolset import McpToolset
from agentkit.messages import AssistantMessage, SystemMessage, UserMessage
from agentkit.tools.scope import RunScope
from agentkit.tools.tool import ToolContext

from .conftest import NPM_PREFIX, http_server

SHELF = Path(__file__).with_name("mcp_resources_server.py")
PNG_SIZE = 70
WAIT = 10.0
"""Seconds a test waits for a server's list change to arrive."""


@pytest.fixture(scope="module")
def shelf_url() -> Iterator[str]:
    """The shelf server over streamable HTTP, shared by the module's tests."""
    with http_server(SHELF) as url:
        yield url


@pytest.fixture(params=["stdio", "http"])
def shelf(request: pytest.FixtureRequest) -> ServerConfig:
    if request.param == "stdio":
        return ServerConfig(command=sys.executable, args=[str(SHELF)])
    return ServerConfig(url=request.getfixturevalue("shelf_url"))


def servers(config: ServerConfig) -> McpConfig:
    return McpConfig(servers={"shelf": config})


async def call(toolset: McpToolset, name: str, workspace: Path, **arguments: Any) -> Any:
    tool = {t.name: t for t in toolset.tools()}[name]
    return await tool.call(arguments, ToolContext(scope=RunScope(workspace)))


async def test_resources_are_offered_read_and_followed_when_they_change(
    shelf: ServerConfig, tmp_path: Path
) -> None:
    changes: list[str] = []
    toolset = McpToolset(servers(shelf), on_change=lambda t: changes.append("changed"))
    async with toolset:
        names = {t.name for t in toolset.tools()}
        assert {"shelf__list_resources", "shelf__read_resource"} <= names
        read = {t.name: t for t in toolset.tools()}["shelf__read_resource"]
        assert "- shelf://readme — readme (text/markdown): What the shelf is." in read.description
        assert "- note://{title} — note (text/plain)" in read.description

        text = await call(toolset, "shelf__read_resource", tmp_path, uri="shelf://readme")
        assert text.content.startswith("# Shelf") and not text.is_error
        note = await call(toolset, "shelf__read_resource", tmp_path, uri="note://milk")
        assert note.content == "The note 'milk' says: remember the milk."
        logo = await call(toolset, "shelf__read_resource", tmp_path, uri="shelf://logo")
        assert logo.content == f"[binary: image/png, {PNG_SIZE} B, saved as logo.png]"
        assert (tmp_path / "logo.png").stat().st_size == PNG_SIZE
        missing = await call(toolset, "shelf__read_resource", tmp_path, uri="shelf://nothing")
        assert missing.is_error and "shelf://readme, shelf://logo, note://{title}" in missing.content

        title = f"t{time.monotonic_ns()}"  # the HTTP server is shared: a name of this test's own
        await call(toolset, "shelf__add_note", tmp_path, title=title)
        session = toolset.sessions["shelf"]
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and not (
            any(str(r.uri).endswith(title) for r in session.catalog.resources)
            and any(p.name == f"about_{title}" for p in session.catalog.prompts)
        ):
            await asyncio.sleep(0.05)
        assert any(str(r.uri) == f"shelf://notes/{title}" for r in session.catalog.resources)
        assert any(p.name == f"about_{title}" for p in session.catalog.prompts)
        assert changes  # the agent is told, and offers the new list
        read = {t.name: t for t in toolset.tools()}["shelf__read_resource"]
        assert f"shelf://notes/{title}" in read.description
        listed = await call(toolset, "shelf__list_resources", tmp_path)
        assert f"- shelf://notes/{title} — {title} (text/plain)" in listed.content


async def test_a_prompt_starts_a_run_and_resources_are_attached(shelf: ServerConfig, tmp_path: Path) -> None:
    backend = ScriptedBackend(["Your name is Ann."])
    async with Agent(backend=backend, mcp=servers(shelf), workspace=tmp_path, transcripts=False) as agent:
        start = await get_prompt(agent.mcp, "shelf/dialogue", {"name": "Ann"}, workspace=tmp_path)
        task = await attach_resources(
            agent.mcp, start.task, ["shelf:note://milk", "shelf:shelf://logo"], tmp_path
        )
        result = await agent.run(task, history=start.history)
        with pytest.raises(ConfigError, match=r"it needs topic.*-a topic=VALUE"):
            await get_prompt(agent.mcp, "shelf/summarize", {}, workspace=tmp_path)
        with pytest.raises(ConfigError, match=r"Its resources and templates: shelf://readme"):
            await attach_resources(agent.mcp, "x", ["shelf:shelf://nothing"], tmp_path)
    assert result.output == "Your name is Ann."
    sent = backend.requests[0].messages
    assert sent[-3:-1] == [UserMessage("My name is Ann."), AssistantMessage("Hello Ann.")]
    assert sent[-1] == UserMessage(
        "What is my name?\n\n"
        '<resource server="shelf" uri="note://milk">\n'
        "The note 'milk' says: remember the milk.\n</resource>\n\n"
        '<resource server="shelf" uri="shelf://logo">\n'
        f"[binary: image/png, {PNG_SIZE} B, saved as logo.png]\n</resource>"
    )
    assert (tmp_path / "logo.png").is_file()


async def test_the_model_reads_a_resource_through_its_tool_unless_the_config_says_not(tmp_path: Path) -> None:
    call_read = (
        '<tool_call>\n{"name": "shelf__read_resource", "arguments": {"uri": "shelf://logo"}}\n</tool_call>'
    )
    config: dict[str, Any] = {"mcpServers": {"shelf": {"command": sys.executable, "args": [str(SHELF)]}}}
    agent = Agent(
        backend=ScriptedBackend([call_read, "saved"]), mcp=config, workspace=tmp_path, transcripts=False
    )
    result = await agent.run("Get the logo.")
    assert result.steps[0].tool_results[0].content == f"[binary: image/png, {PNG_SIZE} B, saved as logo.png]"
    assert (tmp_path / "logo.png").is_file()

    config["mcpServers"]["shelf"]["resources"] = False
    backend = ScriptedBackend(["no resources"])
    await Agent(backend=backend, mcp=config, transcripts=False).run("x")
    offered = {spec["function"]["name"] for spec in backend.requests[0].tools}
    assert "shelf__add_note" in offered and not offered & {"shelf__read_resource", "shelf__list_resources"}


# -- the CLI ------------------------------------------------------------------------------------


@pytest.fixture
def cli_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGENTKIT_RUNS_DIR", str(tmp_path / "runs"))
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"shelf": {"command": sys.executable, "args": [str(SHELF)]}}}))
    return path


def test_mcp_prompts_and_resources_list_what_the_servers_offer(cli_config: Path) -> None:
    runner = CliRunner()
    prompts = runner.invoke(app, ["mcp", "prompts", "--mcp-config", str(cli_config)], env={"COLUMNS": "80"})
    assert prompts.exit_code == 0, prompts.output
    assert (
        "shelf/summarize\n  arguments: topic (required), style\n  Ask for a summary of a topic."
        in prompts.stdout
    )
    listed = runner.invoke(app, ["mcp", "resources", "shelf", "--mcp-config", str(cli_config), "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert {r.get("uri") or r.get("uri_template") for r in rows} >= {
        "shelf://readme",
        "shelf://logo",
        "note://{title}",
    }


def test_run_starts_from_a_prompt_with_a_resource_attached(cli_config: Path, tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(["summarized"]))
    workspace = tmp_path / "ws"
    common = ["run", "--backend", "scripted", "--script", str(script), "--mcp-config", str(cli_config)]
    runner = CliRunner()
    result = runner.invoke(
        app,
        [*common, "--prompt", "shelf/summarize", "-a", "topic=MCP", "--attach", "shelf:shelf://logo",
         "--workspace", str(workspace), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["type"] for e in events[:3]] == ["server_starting", "server_status", "run_started"]
    assert events[1]["name"] == "shelf" and events[1]["ok"]  # started before the run, to read from
    started = events[2]
    assert started["task"].startswith(
        'Summarize MCP in a short style.\n\n<resource server="shelf" uri="shelf://logo">'
    )
    assert (workspace / "logo.png").stat().st_size == PNG_SIZE

    missing = runner.invoke(app, [*common, "--prompt", "shelf/summarize"])
    assert missing.exit_code == 2
    assert "it needs topic" in missing.output and "-a topic=VALUE" in missing.output
    shown = runner.invoke(app, [*common, "x", "--attach", "shelf:shelf://readme"])
    assert shown.exit_code == 0, shown.output
    assert re.fullmatch(r"MCP: shelf ✓ \d+\.\ds \(\d+ tools\)", shown.stderr.splitlines()[0]), shown.stderr
    wrong = runner.invoke(app, [*common, "x", "--attach", "wiki:file:///a"])
    assert (
        wrong.exit_code == 2 and "'wiki' is not in the MCP config; the running servers: shelf" in wrong.output
    )


# -- a third-party server ---------------------------------------------------------------------------


async def test_server_everything_resources_and_prompts(tmp_path: Path, report: Any) -> None:
    if not (NPM_PREFIX / "node_modules" / ".bin" / "mcp-server-everything").exists():
        pytest.skip("npm install --prefix .mcp-npm @modelcontextprotocol/server-everything has not run")
    config = ServerConfig(
        command="npx", args=["--offline", "--prefix", str(NPM_PREFIX), "mcp-server-everything"], timeout=60
    )
    async with McpToolset(McpConfig(servers={"everything": config})) as toolset:
        (status,) = toolset.reports
        assert status.ok, status.error
        doc = await call(
            toolset, "everything__read_resource", tmp_path, uri="demo://resource/static/document/features.md"
        )
        assert not doc.is_error and "#" in doc.content
        blob = await call(
            toolset, "everything__read_resource", tmp_path, uri="demo://resource/dynamic/blob/1"
        )
        assert not blob.is_error and "saved as" in blob.content, blob.content
        start = await get_prompt(toolset, "everything/args-prompt", {"city": "Lyon"}, workspace=tmp_path)
        assert "Lyon" in start.task
        embedded = await get_prompt(
            toolset,
            "everything/resource-prompt",
            {"resourceType": "Text", "resourceId": "2"},
            workspace=tmp_path,
        )
        assert '<resource uri="demo://resource/dynamic/text/2"' in embedded.task
    report(
        "mcp_everything_start",
        f"MCP start to ready, resources and prompts listed, server-everything (npm): {status.seconds:.2f} s",
    )


def test_chat_opens_with_a_prompt_and_a_resource(cli_config: Path, tmp_path: Path) -> None:
    from agentkit.store import find_run, load_run

    script = tmp_path / "script.json"
    script.write_text(json.dumps(["Your name is Ann.", "Bye."]))
    done = subprocess.run(
        [sys.executable, "-m", "agentkit.cli", "chat", "--backend", "scripted", "--script", str(script),
         "--mcp-config", str(cli_config), "--prompt", "shelf/dialogue", "-a", "name=Ann",
         "--attach", "shelf:note://milk"],
        input="thanks\n", capture_output=True, text=True, timeout=120,
        env={**os.environ, "AGENTKIT_RUNS_DIR": str(tmp_path / "runs")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"MCP: shelf ✓ \d+\.\ds \(\d+ tools\)", done.stderr.splitlines()[0]), done.stderr
    (path,) = (tmp_path / "runs").glob("*.jsonl")
    saved = load_run(find_run(path.stem.rsplit("-", 1)[-1], tmp_path / "runs"))
    said = [(type(m).__name__, m.content) for m in saved.messages if not isinstance(m, SystemMessage)]
    assert said[:2] == [("UserMessage", "My name is Ann."), ("AssistantMessage", "Hello Ann.")]
    assert said[2][1].startswith('What is my name?\n\n<resource server="shelf" uri="note://milk">')
    assert said[3:] == [
        ("AssistantMessage", "Your name is Ann."),
        ("UserMessage", "thanks"),
        ("AssistantMessage", "Bye."),
    ]
