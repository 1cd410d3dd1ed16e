"""What the MCP client tests share: a model's tool call as text, waiting for what a server's
tool writes to a side file, and a run cancelled while its call runs on the server."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, ScriptedBackend
from agentkit.events import Event
from agentkit.mcp.config import McpConfig, ServerConfig

WAIT = 10.0
"""Seconds a test waits for the server to react (to a cancellation)."""


def call(name: str, **arguments: Any) -> str:
    """A `<tool_call>` block, as the model writes one."""
    return f'<tool_call>\n{{"name": "{name}", "arguments": {json.dumps(arguments)}}}\n</tool_call>'


async def wait_for_text(path: Path, text: str, within: float = WAIT) -> str:
    """What `path` holds once it holds `text`, or after `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if path.exists() and path.read_text() == text:
            break
        await asyncio.sleep(0.05)
    return path.read_text() if path.exists() else "(no file)"


async def cancel_run_mid_call(server: ServerConfig, tool: str, side: Path, running: type[Event]) -> None:
    """Run an agent whose model calls `tool` of `server` (named "s"; the tool writes "started"
    to `side`, then "cancelled" when cancelled), cancel the run once the call runs (an event
    of type `running` came and the server wrote "started"), and check that the server, still
    up (the agent keeps it), heard the cancellation."""
    agent = Agent(
        backend=ScriptedBackend([call(f"s__{tool}", path=str(side)), "done"]),
        mcp=McpConfig(servers={"s": server}),
        transcripts=False,
    )
    async with agent:
        started = asyncio.Event()

        async def run() -> None:
            async for event in agent.stream("Work."):
                if isinstance(event, running):
                    started.set()

        task = asyncio.create_task(run())
        await asyncio.wait_for(started.wait(), WAIT)
        assert await wait_for_text(side, "started") == "started"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await wait_for_text(side, "cancelled") == "cancelled"
