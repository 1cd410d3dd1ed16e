"""Resuming runs: a run stopped at any point goes on from its last finished step, sends the
prompt the stopped run would have sent, and runs no finished tool call again."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, Limits, ScriptedBackend, tool
from agentkit.errors import ConfigError
from agentkit.events import RunFinished, RunStarted
from agentkit.store import find_run, load_run, read_transcript

from .fault_server import ANSWER, FaultServer


class Effects:
    """A tool whose every run leaves a mark."""

    def __init__(self) -> None:
        self.done: list[int] = []

        @tool
        def step(n: int) -> str:
            """Do step n."""
            self.done.append(n)
            return f"step {n} done"

        self.tool = step


def agent_for(server: FaultServer, effects: Effects, runs: Path, backend: str) -> Agent:
    return Agent(server.model, server.base_url, backend=backend, tools=[effects.tool], transcripts=runs)


def prompts(server: FaultServer, since: int = 0) -> list[Any]:
    """What each model request sent: the prompt, or the chat messages."""
    posts = [r.body for r in server.requests[since:] if r.method == "POST"]
    return [b.get("prompt", b.get("messages")) for b in posts]


@pytest.mark.parametrize("backend", ["completions", "chat"])
async def test_a_run_killed_after_any_record_resumes_exactly(tmp_path: Path, backend: str) -> None:
    effects = Effects()
    async with FaultServer(calls=3) as server:
        original = await agent_for(server, effects, tmp_path / "first", backend).run("Do three steps.")
        sent = prompts(server)
        assert original.ok and effects.done == [1, 2, 3]
        path = find_run(original.run_id, tmp_path / "first")
        lines = path.read_text().splitlines(keepends=True)
        steps_of = [r for r in read_transcript(path) if r["type"] == "step_started"]
        assert len(steps_of) == len(sent) == 4

        for cut in range(2, len(lines)):  # a kill after each record (the first two: config, start)
            runs = tmp_path / f"cut{cut}"
            runs.mkdir()
            # The kill tore the next line in half, as a kill -9 mid-write would.
            (runs / path.name).write_text("".join(lines[:cut]) + lines[cut][: len(lines[cut]) // 2])
            before = load_run(runs / path.name)
            finished = {
                r["call"]["arguments"]["n"] for r in before.records if r["type"] == "tool_call_finished"
            }
            started = {
                r["call"]["arguments"]["n"] for r in before.records if r["type"] == "tool_call_started"
            }
            unfinished = started - finished

            again = Effects()
            since = len(server.requests)
            resumed = await agent_for(server, again, runs, backend).resume(original.run_id)
            context = f"killed after record {cut} ({json.loads(lines[cut - 1])['type']})"
            assert resumed.ok and resumed.output == ANSWER, context
            assert resumed.run_id == original.run_id
            # Finished calls never run again; calls that started and never finished are
            # answered as interrupted, not run again silently.
            assert not set(again.done) & (finished | unfinished), context
            assert sorted([*finished, *again.done]) == sorted(set(finished) | set(again.done)), context
            # The next request is the one the killed run would have sent: the same step again
            # if the model's turn was cut, else the next one; when a call was interrupted, its
            # answer differs, but the prompt still extends the one before.
            posts = prompts(server, since)
            turn = before.resume.turn
            turn_done = turn is not None
            done = before.resume.steps
            if (turn is not None and not turn.calls) or (done and not done[-1].tool_results):
                # the answer was written: nothing to ask
                assert posts == [], context
                continue
            first = posts[0]
            step = len(before.resume.steps) + (1 if turn_done else 0)
            if not (turn_done and unfinished):
                assert first == sent[step], context
            elif backend == "completions":
                assert first.startswith(sent[step - 1]), context
            assert load_run(runs / path.name).status == "answer", context  # and reads back so


async def test_a_resumed_run_continues_its_transcript_and_step_numbers(tmp_path: Path) -> None:
    effects = Effects()
    async with FaultServer(calls=3) as server:
        agent = Agent(
            server.model,
            server.base_url,
            tools=[effects.tool],
            transcripts=tmp_path,
            limits=Limits(max_steps=2),
        )
        first = await agent.run("Do three steps.")
        assert first.stop_reason == "max_steps" and effects.done == [1, 2]
        agent.limits = Limits(max_steps=10)
        events = [e async for e in agent.resume_stream(first.run_id)]
    started = events[0]
    assert isinstance(started, RunStarted) and started.resumed and started.first_step == 3
    assert isinstance(events[-1], RunFinished)
    result = events[-1].result
    assert result.ok and [s.step for s in result.steps] == [1, 2, 3, 4] and effects.done == [1, 2, 3]
    records = read_transcript(find_run(first.run_id, tmp_path))
    kinds = [r["type"] for r in records]
    assert kinds.count("run") == 1 and kinds.count("run_resumed") == 1 and kinds[-1] == "run_finished"


async def test_a_cancelled_run_records_the_interruption_and_resumes(tmp_path: Path) -> None:
    gate = asyncio.Event()

    @tool
    async def slow() -> str:
        """Takes a while."""
        gate.set()
        await asyncio.sleep(30)
        return "late"

    script = ['<tool_call>\n{"name": "slow", "arguments": {}}\n</tool_call>', "finished"]
    agent = Agent(backend=ScriptedBackend(script), tools=[slow], transcripts=tmp_path)
    task = asyncio.ensure_future(agent.run("go"))
    await gate.wait()
    task.cancel("SIGTERM")
    with pytest.raises(asyncio.CancelledError):
        await task
    assert agent.last_transcript is not None
    records = read_transcript(agent.last_transcript)
    assert records[-1]["type"] == "run_interrupted" and records[-1]["reason"] == "SIGTERM"
    run_id = records[0]["run_id"]
    assert load_run(agent.last_transcript).status == "interrupted"

    again = Agent(backend=ScriptedBackend(script), tools=[slow], transcripts=tmp_path)
    result = await again.resume(run_id)
    assert result.ok and result.output == "finished"
    answer = result.steps[0].tool_results[0]
    assert answer.is_error and "was interrupted" in answer.content


async def test_an_answered_run_is_not_resumed(tmp_path: Path) -> None:
    agent = Agent(backend=ScriptedBackend(["hi"]), transcripts=tmp_path)
    result = await agent.run("hello")
    with pytest.raises(ConfigError, match="already answered; continue the conversation with history"):
        await agent.resume(result.run_id)


@pytest.mark.parametrize("task", ["", "   \n", "caf\udce9"])
async def test_an_unusable_task_is_a_clear_error(task: str) -> None:
    with pytest.raises(ConfigError, match=r"the task is (empty|not valid UTF-8)"):
        await Agent(backend=ScriptedBackend(["x"]), transcripts=False).run(task)


async def test_a_resumed_run_remembers_the_calls_it_was_repeating(tmp_path: Path) -> None:
    ran: list[int] = []

    @tool
    def status() -> str:
        """The job's status."""
        ran.append(1)
        return "pending"

    again = '<tool_call>\n{"name": "status", "arguments": {}}\n</tool_call>'
    agent = Agent(
        backend=ScriptedBackend([again] * 2), tools=[status], transcripts=tmp_path, limits=Limits(max_steps=2)
    )
    first = await agent.run("wait for it")
    assert first.stop_reason == "max_steps" and len(ran) == 2
    resumed = Agent(
        backend=ScriptedBackend([again] * 5),
        tools=[status],
        transcripts=tmp_path,
        limits=Limits(max_steps=20),
    )
    result = await resumed.resume(first.run_id)
    assert result.stop_reason == "repetition" and len(ran) == 3  # the streak went on across the resume


async def test_a_call_that_finished_while_the_model_still_wrote_is_kept_when_the_run_stops(
    tmp_path: Path,
) -> None:
    ran: list[int] = []

    @tool
    def quick() -> str:
        """Done at once."""
        ran.append(1)
        return "quick result"

    # The call is complete early; the model goes on writing for a while after it.
    turn = '<tool_call>\n{"name": "quick", "arguments": {}}\n</tool_call>' + " and more" * 40
    agent = Agent(
        backend=ScriptedBackend([turn], chunk_size=4, delay=0.01), tools=[quick], transcripts=tmp_path
    )
    task = asyncio.ensure_future(agent.run("go"))
    for _ in range(300):  # bounded: until the call's result is in the transcript
        await asyncio.sleep(0.01)
        path = agent.last_transcript
        if path is not None and any(r["type"] == "tool_call_finished" for r in read_transcript(path)):
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert agent.last_transcript is not None
    kinds = [r["type"] for r in read_transcript(agent.last_transcript)]
    assert "tool_call_finished" in kinds and "turn_finished" not in kinds  # recorded mid-stream
    run_id = read_transcript(agent.last_transcript)[0]["run_id"]

    again = Agent(backend=ScriptedBackend([turn, "done"]), tools=[quick], transcripts=tmp_path)
    result = await again.resume(run_id)
    assert result.ok and ran == [1]  # not run again
    answer = result.steps[0].tool_results[0]
    assert not answer.is_error and answer.content == "quick result"  # its result, not "interrupted"


async def test_resuming_with_an_agent_that_lacks_the_runs_tools_is_refused(tmp_path: Path) -> None:
    @tool
    def lookup() -> str:
        """Look it up."""
        return "x"

    turn = '<tool_call>\n{"name": "lookup", "arguments": {}}\n</tool_call>'
    agent = Agent(
        backend=ScriptedBackend([turn]), tools=[lookup], transcripts=tmp_path, limits=Limits(max_steps=1)
    )
    first = await agent.run("go")
    with pytest.raises(ConfigError, match="used tools this agent lacks: lookup"):
        await Agent(backend=ScriptedBackend(["done"]), transcripts=tmp_path).resume(first.run_id)
