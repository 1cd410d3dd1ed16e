"""Tool calls a server runs as tasks (the Tasks extension), and log messages heard while a call
runs, against an SDK-built server over stdio and streamable HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, ScriptedBackend
from agentkit.events import (
    McpLog,
    RunStarted,
    ServerStarting,
    ServerStatus,
    StepStarted,
    ToolCallFinished,
    ToolCallStarted,
    ToolProgress,
)
from agentkit.mcp.config import McpConfig, ServerConfig
from agentkit.mcp.toolset import McpToolset
from agentkit.tools.tool import ToolContext

from .conftest import http_server
from .mcp_calls import call, cancel_run_mid_call, wait_for_text

SERVER = Path(__file__).with_name("mcp_tasks_server.py")
LEGACY = Path(__file__).with_name("mcp_legacy_tasks_server.py")
"""A server of protocol 2025-11-25, where the client asks for tasks (`taskSupport`)."""


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    with http_server(SERVER) as url:
        yield url


def config_for(kind: str, request: pytest.FixtureRequest) -> ServerConfig:
    if kind == "stdio":
        return ServerConfig(command=sys.executable, args=[str(SERVER)])
    if kind == "http":
        return ServerConfig(url=request.getfixturevalue("http_url"))  # the shared HTTP server
    return ServerConfig(command=sys.executable, args=[str(LEGACY)])


@pytest.fixture(params=["stdio", "http"])
def server(request: pytest.FixtureRequest) -> ServerConfig:
    """The tasks server's config, over each transport."""
    return config_for(request.param, request)


@pytest.fixture(params=["stdio", "http", "2025-11-25"])
def task_server(request: pytest.FixtureRequest) -> ServerConfig:
    """A server with task tools: the Tasks extension over each transport, and a 2025-11-25 one
    whose tools say `taskSupport: "required"`."""
    return config_for(request.param, request)


async def run_tool(toolset: McpToolset, name: str, **arguments: Any) -> tuple[Any, list[str | None]]:
    """The tool's result and the progress messages it reported."""
    tool = {t.name: t for t in toolset.tools()}[name]
    messages: list[str | None] = []
    context = ToolContext(on_progress=lambda _c, _d, _t, message: messages.append(message))
    return await tool.call(arguments, context), messages


# -- tasks -------------------------------------------------------------------------------------


async def test_a_task_is_followed_to_its_result_with_its_status_as_progress(
    task_server: ServerConfig,
) -> None:
    async with McpToolset(McpConfig(servers={"t": task_server})) as toolset:
        result, messages = await run_tool(toolset, "t__long_job", seconds=1.2, steps=3)
    assert not result.is_error and result.content == "done after 3 steps"
    steps = [m for m in messages if m and "step" in m]
    assert steps == [f"task working: step {n} of 3" for n in (1, 2, 3)]
    assert messages[-1] == "task completed: finished"


async def test_a_failed_task_is_an_error_naming_the_servers_reason(task_server: ServerConfig) -> None:
    async with McpToolset(McpConfig(servers={"t": task_server})) as toolset:
        result, messages = await run_tool(toolset, "t__failing_job")
    assert result.is_error
    assert "failed: the disk is full (MCP error -32603)" in result.content
    assert messages[-1] == "task failed: the disk is full"


async def test_a_task_that_runs_out_of_time_is_cancelled_on_the_server(
    task_server: ServerConfig, tmp_path: Path
) -> None:
    side = tmp_path / "side"
    config = McpConfig(servers={"t": task_server.model_copy(update={"tool_timeout": 1.0})})
    async with McpToolset(config) as toolset:
        began = time.monotonic()
        result, _ = await run_tool(toolset, "t__endless_job", path=str(side))
        took = time.monotonic() - began
    assert result.is_error and "did not finish within 1 s and was cancelled" in result.content
    assert took < 3.0
    assert await wait_for_text(side, "cancelled") == "cancelled"


async def test_a_cancelled_run_cancels_its_task_on_the_server(
    task_server: ServerConfig, tmp_path: Path
) -> None:
    await cancel_run_mid_call(task_server, "endless_job", tmp_path / "side", ToolProgress)


async def test_a_run_shows_a_tasks_status_as_tool_progress_events(task_server: ServerConfig) -> None:
    agent = Agent(
        backend=ScriptedBackend([call("t__long_job", seconds=0.6, steps=2), "done"]),
        mcp=McpConfig(servers={"t": task_server}),
        transcripts=False,
    )
    events = [e async for e in agent.stream("Work.")]
    progress = [e.message for e in events if isinstance(e, ToolProgress)]
    assert "task working: step 2 of 2" in progress
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert finished.result.content == "done after 2 steps"


async def test_a_tool_for_which_a_task_is_optional_is_called_plainly() -> None:
    config = McpConfig(servers={"t": ServerConfig(command=sys.executable, args=[str(LEGACY)])})
    async with McpToolset(config) as toolset:
        result, messages = await run_tool(toolset, "t__either")
    assert result.content == "answered plainly" and messages == []


# -- log messages during a call ------------------------------------------------------------------


async def test_log_messages_reach_the_stream_and_transcript_while_the_call_runs(
    server: ServerConfig, tmp_path: Path
) -> None:
    agent = Agent(
        backend=ScriptedBackend([call("t__noisy", seconds=2.0), "done"]),
        mcp=McpConfig(servers={"t": server}),
        transcripts=tmp_path,
    )
    heard: list[tuple[str, float]] = []
    in_transcript_then = ""
    async for event in agent.stream("Work."):
        if isinstance(event, (ToolCallStarted, McpLog, ToolCallFinished)):
            heard.append((type(event).__name__, time.monotonic()))
        if isinstance(event, McpLog) and event.data == "starting the work":
            assert agent.last_transcript is not None
            in_transcript_then = agent.last_transcript.read_text()
    kinds = [kind for kind, _ in heard]
    assert kinds == ["ToolCallStarted", "McpLog", "McpLog", "ToolCallFinished"]
    started, first_log, _, finished = (at for _, at in heard)
    assert first_log - started < 1.0  # heard while the tool still works (2 s)
    assert finished - first_log > 1.5
    assert '"starting the work"' in in_transcript_then and "finished the work" not in in_transcript_then


# -- servers starting --------------------------------------------------------------------------------


async def test_a_run_tells_as_each_server_starts_and_as_each_is_up_or_failed(tmp_path: Path) -> None:
    servers = {
        "t": ServerConfig(command=sys.executable, args=[str(SERVER)]),
        "gone": ServerConfig(command=str(tmp_path / "no-such-server")),
    }
    agent = Agent(backend=ScriptedBackend(["done"]), mcp=McpConfig(servers=servers), transcripts=False)
    events = [e async for e in agent.stream("Hi.")]
    order = [
        (type(e).__name__, getattr(e, "name", None))
        for e in events
        if isinstance(e, (RunStarted, ServerStarting, ServerStatus, StepStarted))
    ]
    assert order == [
        ("RunStarted", None),
        ("ServerStarting", "t"),
        ("ServerStarting", "gone"),
        ("ServerStatus", "gone"),  # it failed at once; "t" took a while
        ("ServerStatus", "t"),
        ("StepStarted", None),
    ]
    statuses = {e.name: e for e in events if isinstance(e, ServerStatus)}
    assert statuses["t"].ok and "t__long_job" in statuses["t"].tools
    assert not statuses["gone"].ok and "command not found" in (statuses["gone"].error or "")


def test_the_cli_shows_the_servers_starting_on_one_line(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "t": {"command": sys.executable, "args": [str(SERVER)]},
                    "gone": {"command": str(tmp_path / "no-such-server")},
                }
            }
        )
    )
    script = tmp_path / "script.json"
    script.write_text(json.dumps(["done"]))
    ran = subprocess.run(
        [sys.executable, "-m", "agentkit.cli", "run", "hi", "--backend", "scripted", "--script", str(script),
         "--mcp-config", str(config), "--runs-dir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    lines = ran.stderr.splitlines()
    line = next(x for x in lines if x.startswith("MCP: "))
    assert re.fullmatch(r"MCP: t ✓ \d+\.\ds \(4 tools\) · gone ✗", line), line
    assert any(x.startswith("⚠") and "command not found" in x for x in lines[lines.index(line) :])
    assert not [x for x in lines if x.startswith("● MCP server")]  # the one line, not one per server
