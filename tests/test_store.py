"""Run transcripts: JSON lines written as the run goes, whole tool output kept."""

from __future__ import annotations

import json
from pathlib import Path

from agentkit import Agent, ScriptedBackend, tool
from agentkit.store import list_runs, read_transcript


@tool
def dump() -> str:
    """Lots of text."""
    return "x" * 50_000 + "END"


async def test_a_run_writes_every_event_and_the_whole_tool_output(tmp_path: Path) -> None:
    script = ['<tool_call>\n{"name": "dump", "arguments": {}}\n</tool_call>', "done"]
    agent = Agent(backend=ScriptedBackend(script), tools=[dump], transcripts=tmp_path, max_output_chars=1000)
    result = await agent.run("dump it")
    assert agent.last_transcript is not None and agent.last_transcript.parent == tmp_path
    records = read_transcript(agent.last_transcript)
    kinds = [r["type"] for r in records]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished" and "tool_call_finished" in kinds
    finished = next(r for r in records if r["type"] == "tool_call_finished")
    assert len(finished["result"]["content"]) < 1200  # what the model saw
    assert finished["result"]["full_content"].endswith("END")  # what the tool said
    assert records[0]["run_id"] == result.run_id and all("time" in r for r in records)
    (info,) = list_runs(tmp_path)
    assert (info.run_id, info.task, info.stop_reason) == (result.run_id, "dump it", "answer")


async def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"type": "run_started", "run_id": "r", "task": "t"}) + '\n{"type": "step_sta')
    assert read_transcript(path) == [{"type": "run_started", "run_id": "r", "task": "t"}]
    assert list_runs(tmp_path)[0].stop_reason is None
