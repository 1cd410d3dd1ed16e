"""Run transcripts: written as the run goes, listed, and read back to resume a run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agentkit import Agent, ScriptedBackend, tool
from agentkit.errors import ConfigError
from agentkit.messages import AssistantMessage, ToolMessage, UserMessage
from agentkit.store import default_runs_dir, find_run, list_runs, load_run, read_transcript


@tool
def dump() -> str:
    """Lots of text."""
    return "x" * 50_000 + "END"


async def test_a_run_writes_its_config_first_then_durable_events_and_the_whole_tool_output(
    tmp_path: Path,
) -> None:
    first = '<think>\nDump.\n</think>\n\n<tool_call>\n{"name": "dump", "arguments": {}}\n</tool_call>'
    backend = ScriptedBackend([first, "done"])
    agent = Agent(backend=backend, tools=[dump], transcripts=tmp_path, max_output_chars=1000, api_key="sk-1")
    result = await agent.run("dump it")
    assert agent.last_transcript is not None and agent.last_transcript.parent == tmp_path
    assert result.transcript == str(agent.last_transcript)
    records = read_transcript(agent.last_transcript)
    kinds = [r["type"] for r in records]
    assert kinds[0] == "run" and kinds[1] == "run_started" and kinds[-1] == "run_finished"
    assert "thinking_delta" not in kinds and "text_delta" not in kinds  # deltas are coalesced into the turn
    assert kinds.count("turn_finished") == 2 and kinds.count("step_finished") == 2
    head = records[0]
    assert head["run_id"] == result.run_id and head["task"] == "dump it" and head["pid"] == os.getpid()
    assert head["config"]["tools"] == ["dump"] and head["messages"] == [
        {"role": "user", "content": "dump it"}
    ]
    assert "sk-1" not in agent.last_transcript.read_text()
    turn = next(r for r in records if r["type"] == "turn_finished")
    assert turn["message"]["reasoning"] == "Dump." and turn["calls"][0]["kind"] == "call"
    finished = next(r for r in records if r["type"] == "tool_call_finished")
    assert len(finished["result"]["content"]) < 1200  # what the model saw
    assert finished["result"]["full_content"].endswith("END")  # what the tool said
    assert all("time" in r for r in records)
    (info,) = list_runs(tmp_path)
    assert (info.run_id, info.task, info.status, info.steps) == (result.run_id, "dump it", "answer", 2)


async def test_transcripts_go_to_the_user_runs_directory_by_default() -> None:
    agent = Agent(backend=ScriptedBackend(["hi"]))
    result = await agent.run("hello")
    assert agent.last_transcript is not None and agent.last_transcript.parent == default_runs_dir()
    assert find_run(result.run_id) == agent.last_transcript
    assert find_run(result.run_id[:5]) == agent.last_transcript


async def test_no_transcript_when_turned_off(tmp_path: Path) -> None:
    agent = Agent(backend=ScriptedBackend(["hi"]), transcripts=False)
    await agent.run("hello")
    assert agent.last_transcript is None and not list(default_runs_dir().glob("*.jsonl"))


async def test_a_torn_last_line_is_skipped_and_a_dead_writer_reads_as_killed(tmp_path: Path) -> None:
    agent = Agent(backend=ScriptedBackend(["hi"]), transcripts=tmp_path)
    await agent.run("hello")
    assert agent.last_transcript is not None
    lines = agent.last_transcript.read_text().splitlines()
    head = json.loads(lines[0])
    head["pid"] = 2**22 + 12345  # no such process
    torn = tmp_path / "20260101-000000-torn.jsonl"
    torn.write_text(json.dumps(head) + "\n" + lines[1] + '\n{"type": "step_sta')
    assert [r["type"] for r in read_transcript(torn)] == ["run", "run_started"]
    info = next(r for r in list_runs(tmp_path) if r.path == torn)
    assert info.status == "killed"


async def test_load_run_rebuilds_the_conversation_with_each_turns_exact_text(tmp_path: Path) -> None:
    first = '<think>\nDump it.\n</think>\n\n<tool_call>\n{"name": "dump", "arguments": {}}\n</tool_call>'
    agent = Agent(backend=ScriptedBackend([first, "done"]), tools=[dump], transcripts=tmp_path)
    result = await agent.run("dump it")
    saved = load_run(find_run(result.run_id, tmp_path))
    assert saved.status == "answer" and saved.task == "dump it"
    assert [type(m) for m in saved.messages] == [UserMessage, AssistantMessage, ToolMessage, AssistantMessage]
    assert saved.messages == result.messages
    assert [s.step for s in saved.resume.steps] == [1, 2]
    assert saved.resume.usage == result.usage


def test_find_run_names_the_directory_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no run 'nope' in .*agentkit runs list"):
        find_run("nope", tmp_path)
    for name in ("20260101-000000-abc111", "20260101-000001-abc222"):
        (tmp_path / f"{name}.jsonl").write_text("")
    with pytest.raises(ConfigError, match="2 runs start with 'abc'"):
        find_run("abc", tmp_path)


def test_a_file_that_is_not_a_transcript_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "20260101-000000-old.jsonl"
    path.write_text(json.dumps({"type": "run_started", "run_id": "old"}) + "\n")
    with pytest.raises(ConfigError, match="not a transcript this version of agentkit can resume"):
        load_run(path)


async def test_text_that_is_not_valid_unicode_is_kept_escaped(tmp_path: Path) -> None:
    @tool
    def odd() -> str:
        """Bytes from elsewhere."""
        return b"caf\xe9".decode("utf-8", "surrogateescape")

    script = ['<tool_call>\n{"name": "odd", "arguments": {}}\n</tool_call>', "done"]
    agent = Agent(backend=ScriptedBackend(script), tools=[odd], transcripts=tmp_path)
    await agent.run("go")
    assert agent.last_transcript is not None
    finished = next(r for r in read_transcript(agent.last_transcript) if r["type"] == "tool_call_finished")
    assert finished["result"]["content"] == "caf\udce9"


async def test_a_runs_directory_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(
        ConfigError, match=r"cannot write the run's transcript in .*pick another runs directory"
    ):
        await Agent(backend=ScriptedBackend(["hi"]), transcripts=not_a_dir).run("hello")


async def test_files_that_are_not_transcripts_are_not_listed(tmp_path: Path) -> None:
    (tmp_path / "notes.jsonl").write_text('{"hello": 1}\n')
    (tmp_path / "empty.jsonl").write_text("")
    result = await Agent(backend=ScriptedBackend(["hi"]), transcripts=tmp_path).run("hello")
    assert [r.run_id for r in list_runs(tmp_path)] == [result.run_id]
