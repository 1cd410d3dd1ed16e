"""Built-ins in an agent run: a per-run workspace, approval through the API callback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentkit import Agent, ScriptedBackend
from agentkit.events import RunFinished, RunStarted
from agentkit.messages import ToolCall


def call(name: str, **arguments: object) -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {json.dumps(arguments)}}}\n</tool_call>'


async def test_the_callback_decides_each_risky_call(tmp_path: Path) -> None:
    asked: list[str] = []

    def approve(tool_call: ToolCall, tool: Any) -> bool:
        asked.append(tool_call.name)
        return tool_call.name == "run_python"

    script = [
        call("write_file", path="a.txt", content="x") + "\n" + call("list_files"),
        call("run_python", code="import os\nsorted(os.listdir('.'))"),
        "ok",
    ]
    agent = Agent(
        backend=ScriptedBackend(script), builtins=["files", "python"], workspace=tmp_path, approve=approve
    )
    result = await agent.run("go")
    write, listing = result.steps[0].tool_results
    assert write.is_error and "did not allow" in write.content
    assert listing.content == "the workspace is empty"
    assert result.steps[1].tool_results[0].content == "[]"
    assert sorted(asked) == ["run_python", "write_file"]  # list_files did not ask
    assert not (tmp_path / "a.txt").exists()


async def test_each_run_gets_a_fresh_workspace_unless_one_is_given() -> None:
    agent = Agent(
        backend=ScriptedBackend(
            [call("write_file", path="f.txt", content="1"), "a", call("list_files"), "b"]
        ),
        builtins=["files"],
        approval={"write_file": "auto"},
    )
    first = [e async for e in agent.stream("one")]
    second = [e async for e in agent.stream("two")]
    one, two = (next(e for e in events if isinstance(e, RunStarted)).workspace for events in (first, second))
    assert one and two and one != two
    assert (Path(one) / "f.txt").read_text() == "1"
    assert isinstance(second[-1], RunFinished)
    assert second[-1].result.steps[0].tool_results[0].content == "the workspace is empty"


async def test_fetch_refuses_this_machine_unless_allowed() -> None:
    agent = Agent(
        backend=ScriptedBackend([call("fetch_url", url="http://127.0.0.1:9/"), "done"]), builtins=["fetch"]
    )
    result = await agent.run("fetch")
    refused = result.steps[0].tool_results[0]
    assert refused.is_error and "only fetches public addresses" in refused.content
