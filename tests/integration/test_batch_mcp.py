"""A batch's MCP servers, with real ones: a shared server starts once for the whole batch, a
server marked `per_run` starts once for each run, and none is left when the batch ends."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from agentkit import Agent, ScriptedBackend
from agentkit.backends.base import ModelRequest
from agentkit.mcp.config import parse_mcp_config

from .conftest import NOTES, processes_with

RUNS = 3


async def test_shared_servers_start_once_per_batch_and_per_run_servers_once_per_run(tmp_path: Path) -> None:
    def notes(name: str, **more: Any) -> dict[str, Any]:
        return {
            "command": sys.executable,
            "args": [str(NOTES)],
            "env": {"NOTES_FILE": str(tmp_path / name)},
            **more,
        }

    config = parse_mcp_config(
        {"mcpServers": {"shared": notes("s.json"), "mine": notes("m.json", per_run=True)}}
    )
    together = asyncio.Event()  # set when every run is at its first step (asyncio.Barrier needs 3.11)
    seen: list[int] = []
    tools: list[set[str]] = []

    async def turn(request: ModelRequest) -> str:
        tools.append({spec["function"]["name"] for spec in request.tools})
        if len(tools) == RUNS:
            together.set()
        await asyncio.wait_for(together.wait(), 60)  # every run is at its first step
        seen.append(len(processes_with(str(NOTES))))
        return "done"

    agent = Agent(backend=ScriptedBackend(turn), mcp=config, transcripts=False)
    results = [r async for r in agent.batch([f"task {i}" for i in range(RUNS)], concurrency=RUNS)]
    assert [r.output for r in results] == ["done"] * RUNS
    assert seen == [1 + RUNS] * RUNS  # one shared server and one of its own per run
    assert all({"shared__add_note", "mine__add_note"} <= names for names in tools)
    assert "mine__add_note" not in agent.toolbox  # the per-run tools were the runs' alone
    assert processes_with(str(NOTES)) == []
