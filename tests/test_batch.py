"""Batches (`agentkit/batch.py`, `Agent.batch`): one result per task on disk as each ends, a
restart skips what is done, a failure does not stop the batch, the concurrency bound holds
and no connection pool caps it, per-task options, MCP servers started once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, BatchProgress, BatchTask, Limits, ScriptedBackend, tool
from agentkit.backends.base import ModelRequest
from agentkit.batch import ResultsFile, TaskLike, read_tasks, task_list
from agentkit.errors import ConfigError, ModelError
from agentkit.messages import SystemMessage, UserMessage
from agentkit.store import read_transcript

from .fault_server import ANSWER, FaultServer

CALL = '<tool_call>\n{"name": "step", "arguments": {"n": 1}}\n</tool_call>'


@tool
def step(n: int) -> str:
    """Do step n."""
    return f"step {n} done"


def task_of(request: ModelRequest) -> str:
    return next(m.content for m in request.messages if isinstance(m, UserMessage))


def answering(delay: float = 0.0, steps: int = 1) -> tuple[ScriptedBackend, dict[str, int]]:
    """A backend that calls `step` until a run has made `steps` model calls, then answers
    "done: TASK"; a task containing "boom" makes it fail. Counts calls per task."""
    calls: dict[str, int] = {}

    async def turn(request: ModelRequest) -> str:
        task = task_of(request)
        calls[task] = calls.get(task, 0) + 1
        if delay:
            await asyncio.sleep(delay)
        if "boom" in task:
            raise ModelError("the server at http://127.0.0.1:9/v1 answered HTTP 400: no.", status=400)
        done = sum(1 for m in request.messages if m.role == "tool")
        return CALL if done + 1 < steps else f"done: {task}"

    return ScriptedBackend(turn), calls


def agent_of(backend: ScriptedBackend, **options: Any) -> Agent:
    return Agent(backend=backend, tools=[step], transcripts=False, **options)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_each_task_gets_one_result_line_with_its_outcome(tmp_path: Path) -> None:
    backend, _ = answering(steps=2)
    results = tmp_path / "out" / "results.jsonl"
    tasks: list[TaskLike] = [{"id": "a", "task": "first", "meta": {"row": 1}}, "second"]
    got = [r async for r in agent_of(backend).batch(tasks, results=results)]
    assert sorted(r.output for r in got) == ["done: first", "done: second"]
    written = {r["id"]: r for r in lines(results)}
    made = task_list(["second"])[0].id
    assert set(written) == {"a", made}
    first = written["a"]
    assert first["output"] == "done: first" and first["stop_reason"] == "answer" and first["steps"] == 2
    assert first["error"] is None and first["meta"] == {"row": 1} and first["task"] == "first"
    assert first["duration"] >= 0 and first["run_id"]


async def test_a_restart_skips_the_tasks_already_in_the_results(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    tasks = [f"task {i}" for i in range(6)]
    backend, _ = answering(delay=0.01)
    batch = agent_of(backend).batch(tasks, concurrency=2, results=results)
    first = [await batch.__anext__(), await batch.__anext__()]
    await batch.aclose()  # stopped part way, as a kill would (runs in progress are lost)
    kept = {r["id"] for r in lines(results)}
    assert {r.id for r in first} <= kept and len(kept) < 6
    with results.open("ab") as file:
        file.write(b'{"id": "cut sho')  # a line a kill cut in the middle
    backend, again = answering()
    progress = BatchProgress()
    again_batch = agent_of(backend).batch(tasks, concurrency=2, results=results, progress=progress)
    rest = [r async for r in again_batch]
    assert progress.skipped == len(kept) and len(rest) == 6 - len(kept)
    kept_lines = [line for line in results.read_text().splitlines() if not line.startswith('{"id": "cut')]
    final = [json.loads(line) for line in kept_lines]
    assert not set(again) & {r["task"] for r in final if r["id"] in kept}  # not run again
    assert sorted(r["task"] for r in final) == tasks  # each task once, the cut line left alone


async def test_a_failed_task_does_not_stop_the_batch_and_can_be_retried(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    backend, _ = answering()
    tasks = ["one", "boom", "   ", "two"]
    got = {r.task: r async for r in agent_of(backend).batch(tasks, results=results)}
    assert got["one"].ok and got["two"].ok
    boom = got["boom"]
    assert boom.failed and boom.stop_reason == "error" and "HTTP 400" in (boom.error or "")
    assert boom.error_type == "ModelError"
    assert got["   "].error_type == "ConfigError" and "empty" in (got["   "].error or "")
    backend, calls = answering()
    again = [r async for r in agent_of(backend).batch(tasks, results=results, retry_failed=True)]
    assert sorted(r.task for r in again) == ["   ", "boom"] and "one" not in calls


async def test_no_more_runs_than_the_concurrency_at_once() -> None:
    now = 0
    most = 0

    async def turn(request: ModelRequest) -> str:
        nonlocal now, most
        now += 1
        most = max(most, now)
        await asyncio.sleep(0.01)
        now -= 1
        return "ok"

    tasks = [f"t{i}" for i in range(20)]
    got = [r async for r in agent_of(ScriptedBackend(turn)).batch(tasks, concurrency=4)]
    assert len(got) == 20 and most == 4


class Gathering(FaultServer):
    """Holds each generation request until `expected` are in flight at once (or `WAIT`
    seconds pass): how many it saw at once is `peak`."""

    WAIT = 10.0

    def __init__(self, expected: int, **options: Any) -> None:
        super().__init__(**options)
        self.expected = expected
        self.in_flight = 0
        self.peak = 0
        self.full: asyncio.Event | None = None

    async def _respond(self, request: Any, writer: Any, connection: int) -> bool:
        if not request.path.endswith("/completions"):
            return await super()._respond(request, writer, connection)
        self.full = self.full or asyncio.Event()
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        if self.in_flight >= self.expected:
            self.full.set()
        try:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.full.wait(), self.WAIT)
            return await super()._respond(request, writer, connection)
        finally:
            self.in_flight -= 1


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_150_runs_at_once_are_not_capped_by_the_connection_pool(transport: str) -> None:
    async with Gathering(150, calls=0) as server:
        agent = Agent(server.model, server.base_url, transport=transport, transcripts=False)
        started = time.monotonic()
        got = [r async for r in agent.batch([f"task {i}" for i in range(150)], concurrency=150)]
        took = time.monotonic() - started
    assert [r.output for r in got] == [ANSWER] * 150
    assert server.peak == 150  # a pool of 100 would hold 50 back until others are done
    assert took < Gathering.WAIT  # none waited for the server to give up


async def test_per_task_options_apply_to_their_run_alone() -> None:
    backend, _ = answering(steps=3)
    agent = agent_of(backend, system_prompt="Agent's own.", limits=Limits(max_steps=5))
    tasks: list[TaskLike] = [
        BatchTask("short", id="s", max_steps=1, system_prompt="Be brief.", thinking="off"),
        {"id": "w", "task": "whole", "sampling": {"temperature": 0.1}},
    ]
    got = {r.id: r async for r in agent.batch(tasks)}
    assert got["s"].stop_reason == "max_steps" and got["s"].steps == 1
    assert got["w"].ok and got["w"].steps == 3
    by_task = {task_of(r): r for r in backend.requests}
    short, whole = by_task["short"], by_task["whole"]
    assert short.messages[0] == SystemMessage("Be brief.") and not short.decision.think
    assert whole.messages[0] == SystemMessage("Agent's own.") and whole.sampling.temperature == 0.1
    assert short.sampling.temperature != 0.1  # the other run kept the agent's presets
    assert agent.limits.max_steps == 5 and agent.system_prompt == "Agent's own."


async def test_the_mcp_servers_start_once_for_the_whole_batch() -> None:
    class Servers:  # the agent's MCP toolset, counting its starts and stops
        starts = stops = 0
        reports: tuple[Any, ...] = ()

        async def start(self, watch: Any = None) -> list[Any]:
            self.starts += 1
            await asyncio.sleep(0.01)
            return []

        def tools(self) -> list[Any]:
            return []

        def instructions(self) -> dict[str, str]:
            return {}

        async def close(self) -> None:
            self.stops += 1

    backend, _ = answering(delay=0.005)
    agent = agent_of(backend)
    agent.mcp = servers = Servers()  # type: ignore[assignment]
    got = [r async for r in agent.batch([f"t{i}" for i in range(10)], concurrency=5)]
    assert len(got) == 10 and (servers.starts, servers.stops) == (1, 1)
    # runs on one agent started together, outside a batch, start them once too
    await asyncio.gather(*(agent.run(f"u{i}") for i in range(3)))
    assert servers.starts == 2


def test_made_ids_stay_the_same_when_tasks_move_and_copies_are_numbered() -> None:
    one = task_list(["a", "b", {"task": "a", "max_steps": 2}, "a"])
    two = task_list(["x", "a", {"task": "a", "max_steps": 2}, "b", "a"])
    ids_one = [t.id for t in one]
    assert len(set(ids_one)) == 4 and ids_one[3] == f"{ids_one[0]}-2"
    assert {t.id for t in one} <= {t.id for t in two}
    assert all(t.id and t.id.startswith("t") for t in one)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"id": "a", "task": "x"}, {"id": "a", "task": "y"}], "tasks 1 and 2 have the same id 'a'"),
        ([{"task": "x", "max_step": 3}], "did you mean 'max_steps'"),
        ([{"task": "x", "thinking": "maybe"}], "thinking is 'maybe'"),
        ([{"id": "a"}], 'no "task" string'),
        ([{"task": "x", "sampling": {"temperature": -1}}], "sampling: "),
        ([3], "a task is a string or an object"),
    ],
)
def test_a_task_that_is_not_understood_is_named(entries: list[Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        task_list(entries)


def test_a_tasks_file_takes_text_lines_json_strings_and_objects(tmp_path: Path) -> None:
    file = tmp_path / "tasks.jsonl"
    file.write_text('plain text task\n\n"a JSON string"\n{"id": 7, "task": "an object"}\n')
    assert [(t.id, t.task) for t in read_tasks(file)] == [
        (None, "plain text task"),
        (None, "a JSON string"),
        ("7", "an object"),
    ]
    file.write_text('ok\n{"task": "x",\n')
    with pytest.raises(ConfigError, match=r"tasks.jsonl, line 2: not valid JSON"):
        read_tasks(file)
    with pytest.raises(ConfigError, match="cannot read the tasks file"):
        read_tasks(tmp_path / "missing.jsonl")


def test_a_results_file_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot write the results file"):
        ResultsFile(blocker / "results.jsonl")


def test_batch_sync_returns_the_results() -> None:
    backend, _ = answering()
    got = agent_of(backend).batch_sync(["a", "b"], concurrency=2)
    assert sorted(r.output for r in got) == ["done: a", "done: b"]


async def test_an_answer_goes_to_its_output_file_beside_the_results(tmp_path: Path) -> None:
    backend, _ = answering()
    (tmp_path / "out" / "blocked").mkdir(parents=True)
    tasks = [
        {"id": "a", "task": "first", "output_file": "answers/a.md"},
        {"id": "b", "task": "second", "output_file": "blocked"},  # a folder: cannot be written
        {"id": "c", "task": "third"},
    ]
    got = {r.id: r async for r in agent_of(backend).batch(tasks, results=tmp_path / "out" / "results.jsonl")}
    assert (tmp_path / "out" / "answers" / "a.md").read_text() == "done: first"
    assert got["a"].ok and got["a"].output_file == str(tmp_path / "out" / "answers" / "a.md")
    assert got["b"].failed and "could not be written to" in (got["b"].error or "")
    assert got["c"].ok and got["c"].output_file is None
    written = {r["id"]: r for r in lines(tmp_path / "out" / "results.jsonl")}
    assert written["a"]["output_file"] and written["b"]["error_type"] == "ConfigError"


async def test_with_an_output_type_each_result_holds_the_validated_json(tmp_path: Path) -> None:
    from pydantic import BaseModel

    class Weather(BaseModel):
        city: str
        celsius: int

    def turn(request: ModelRequest) -> str:
        return json.dumps({"city": task_of(request), "celsius": 20})

    agent = Agent(backend=ScriptedBackend(turn), output_type=Weather, transcripts=False)
    tasks = [{"id": "p", "task": "Paris", "output_file": "p.json"}, {"id": "o", "task": "Oslo"}]
    got = {r.id: r async for r in agent.batch(tasks, results=tmp_path / "results.jsonl")}
    assert got["p"].output == {"city": "Paris", "celsius": 20} and got["o"].output["city"] == "Oslo"
    assert json.loads((tmp_path / "p.json").read_text()) == {"city": "Paris", "celsius": 20}
    assert {r["id"]: r["output"]["celsius"] for r in lines(tmp_path / "results.jsonl")} == {"p": 20, "o": 20}


async def test_a_restart_goes_on_with_runs_the_stop_cut_short(tmp_path: Path) -> None:
    results, runs = tmp_path / "results.jsonl", tmp_path / "runs"
    tasks = [f"task {i}" for i in range(4)]
    backend, _ = answering(delay=0.05, steps=4)
    batch = Agent(backend=backend, tools=[step], transcripts=runs).batch(
        tasks, concurrency=2, results=results
    )
    first = await batch.__anext__()  # the other run in flight has finished steps: it is cut short
    await asyncio.sleep(0.12)
    await batch.aclose()
    assert first.steps == 4
    backend, calls = answering(steps=4)
    progress = BatchProgress()
    agent = Agent(backend=backend, tools=[step], transcripts=runs)
    rest = {r.task: r async for r in agent.batch(tasks, concurrency=2, results=results, progress=progress)}
    assert progress.resumed >= 1
    taken_up = [r for r in rest.values() if calls[r.task] < 4]
    assert len(taken_up) == progress.resumed  # went on from their last finished step
    for result in taken_up:
        assert result.ok and result.steps == 4  # the whole run's steps, the earlier ones included
        assert result.transcript is not None
        tool_results = [
            r for r in read_transcript(result.transcript) if r.get("type") == "tool_call_finished"
        ]
        assert len(tool_results) == 3  # no finished call ran twice
    assert sorted(r["task"] for r in lines(results)) == tasks


async def test_a_batch_closed_early_has_stopped_its_runs_when_aclose_returns(tmp_path: Path) -> None:
    runs = tmp_path / "runs"

    async def turn(request: ModelRequest) -> str:
        await asyncio.sleep(0.05)
        return CALL if task_of(request) == "slow" else "done"

    batch = Agent(backend=ScriptedBackend(turn), tools=[step], transcripts=runs).batch(
        ["quick", "slow"], concurrency=2, results=tmp_path / "results.jsonl"
    )
    first = await batch.__anext__()
    assert first.task == "quick"
    await batch.aclose()
    slow_run = next(p for p in runs.iterdir() if read_transcript(p)[0]["task"] == "slow")
    records = read_transcript(slow_run)
    assert records[-1]["type"] == "run_interrupted"  # written before aclose returned
    await asyncio.sleep(0.2)
    assert read_transcript(slow_run) == records  # and nothing after it


async def test_a_changed_task_text_starts_afresh_instead_of_going_on(tmp_path: Path) -> None:
    results, runs = tmp_path / "results.jsonl", tmp_path / "runs"
    backend, _ = answering(delay=0.05, steps=4)
    tasks: list[TaskLike] = ["x", "y", {"id": "q", "task": "old wording"}]
    batch = Agent(backend=backend, tools=[step], transcripts=runs).batch(
        tasks, concurrency=2, results=results
    )
    await batch.__anext__()  # q starts now, and is cut short after a step or two
    await asyncio.sleep(0.12)
    await batch.aclose()
    assert "q" not in {r["id"] for r in lines(results)}
    backend, calls = answering(steps=4)
    progress = BatchProgress()
    agent = Agent(backend=backend, tools=[step], transcripts=runs)
    changed = [{"id": "q", "task": "new wording"}]
    [result] = [r async for r in agent.batch(changed, results=results, progress=progress)]
    assert progress.resumed == 0 and calls["new wording"] == 4 and result.ok
