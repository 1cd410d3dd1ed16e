"""Tool calls a server runs as tasks (the Tasks extension), and log messages heard while a call
runs, against an SDK-built server over stdio and streamable HTTP."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, ScriptedBackend
from agentkit.events import McpLog, ToolCallFinished, ToolProgress
from agentkit.mcp.config import McpConfig, ServerConfig
from agentkit.mcp.toolset import McpToolset
from agentkit.tools.tool import ToolContext

from .conftest import http_server

SERVER = Path(__file__).with_name("mcp_tasks_server.py")
WAIT = 10.0
"""Seconds a test waits for the server to react (to a cancellation)."""


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    with http_server(SERVER) as url:
        yield url


@pytest.fixture(params=["stdio", "http"])
def server(request: pytest.FixtureRequest) -> ServerConfig:
    """The tasks server's config, over each transport (the HTTP server is shared)."""
    if request.param == "stdio":
        return ServerConfig(command=sys.executable, args=[str(SERVER)])
    return ServerConfig(url=request.getfixturevalue("http_url"))


def call(name: str, **arguments: Any) -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {json.dumps(arguments)}}}\n</tool_call>'


async def run_tool(toolset: McpToolset, name: str, **arguments: Any) -> tuple[Any, list[str | None]]:
    """The tool's result and the progress messages it reported."""
    tool = {t.name: t for t in toolset.tools()}[name]
    messages: list[str | None] = []
    context = ToolContext(on_progress=lambda _c, _d, _t, message: messages.append(message))
    return await tool.call(arguments, context), messages


async def wait_for_text(path: Path, text: str, within: float = WAIT) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if path.exists() and path.read_text() == text:
            break
        await asyncio.sleep(0.05)
    return path.read_text() if path.exists() else "(no file)"


# -- tasks -------------------------------------------------------------------------------------


async def test_a_task_is_followed_to_its_result_with_its_status_as_progress(server: ServerConfig) -> None:
    async with McpToolset(McpConfig(servers={"t": server})) as toolset:
        result, messages = await run_tool(toolset, "t__long_job", seconds=1.2, steps=3)
    assert not result.is_error and result.content == "done after 3 steps"
    steps = [m for m in messages if m and "step" in m]
    assert steps == [f"task working: step {n} of 3" for n in (1, 2, 3)]
    assert messages[-1] == "task completed: finished"


async def test_a_failed_task_is_an_error_naming_the_servers_reason(server: ServerConfig) -> None:
    async with McpToolset(McpConfig(servers={"t": server})) as toolset:
        result, messages = await run_tool(toolset, "t__failing_job")
    assert result.is_error
    assert "failed: the disk is full (MCP error -32603)" in result.content
    assert messages[-1] == "task failed: the disk is full"


async def test_a_task_that_runs_out_of_time_is_cancelled_on_the_server(
    server: ServerConfig, tmp_path: Path
) -> None:
    side = tmp_path / "side"
    config = McpConfig(servers={"t": server.model_copy(update={"tool_timeout": 1.0})})
    async with McpToolset(config) as toolset:
        began = time.monotonic()
        result, _ = await run_tool(toolset, "t__endless_job", path=str(side))
        took = time.monotonic() - began
    assert result.is_error and "did not finish within 1 s and was cancelled" in result.content
    assert took < 3.0
    assert await wait_for_text(side, "cancelled") == "cancelled"


async def test_a_cancelled_run_cancels_its_task_on_the_server(server: ServerConfig, tmp_path: Path) -> None:
    side = tmp_path / "side"
    agent = Agent(
        backend=ScriptedBackend([call("t__endless_job", path=str(side)), "done"]),
        mcp=McpConfig(servers={"t": server}),
        transcripts=False,
    )
    async with agent:
        started = asyncio.Event()

        async def run() -> None:
            async for event in agent.stream("Work."):
                if isinstance(event, ToolProgress):
                    started.set()

        task = asyncio.create_task(run())
        await asyncio.wait_for(started.wait(), WAIT)
        assert await wait_for_text(side, "started") == "started"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await wait_for_text(side, "cancelled") == "cancelled"


async def test_a_run_shows_a_tasks_status_as_tool_progress_events(server: ServerConfig) -> None:
    agent = Agent(
        backend=ScriptedBackend([call("t__long_job", seconds=0.6, steps=2), "done"]),
        mcp=McpConfig(servers={"t": server}),
        transcripts=False,
    )
    events = [e async for e in agent.stream("Work.")]
    progress = [e.message for e in events if isinstance(e, ToolProgress)]
    assert "task working: step 2 of 2" in progress
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert finished.result.content == "done after 2 steps"
