"""The agent loop, run for real on the scripted backend."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from agentkit import Agent, Limits, ScriptedBackend, ThinkingDecision, tool
from agentkit.backends.base import ModelRequest
from agentkit.events import (
    RunFailed,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    TextDelta,
    ThinkingDelta,
    ToolCallFinished,
    ToolCallStarted,
    ToolProgress,
)
from agentkit.messages import AssistantMessage, ToolCall, ToolCallReady, ToolMessage, UserMessage
from agentkit.thinking import StepContext
from agentkit.tools import ToolContext


def call(name: str, **arguments: Any) -> str:
    import json

    return f'<tool_call>\n{{"name": "{name}", "arguments": {json.dumps(arguments)}}}\n</tool_call>'


@tool
async def wait(seconds: float, label: str) -> str:
    """Wait, then echo the label."""
    await asyncio.sleep(seconds)
    return label


@tool
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


async def test_parallel_calls_run_concurrently_and_answer_in_call_order() -> None:
    script = [
        "<think>\nThree waits.\n</think>\n\n"
        + call("wait", seconds=0.3, label="slow")
        + "\n"
        + call("wait", seconds=0.0, label="fast")
        + "\n"
        + call("wait", seconds=0.15, label="mid"),
        "Done.",
    ]
    backend = ScriptedBackend(script)
    agent = Agent(backend=backend, tools=[wait])
    finished: list[str] = []
    async for event in agent.stream("go"):
        if isinstance(event, ToolCallFinished):
            finished.append(event.result.content)
        if isinstance(event, RunFinished):
            result = event.result
    assert finished == ["fast", "mid", "slow"]  # in the order of their waits: they overlapped
    results = result.steps[0].tool_results
    assert [r.content for r in results] == ["slow", "fast", "mid"]
    assert [r.tool_call_id for r in results] == [c.id for c in result.steps[0].message.tool_calls]
    # The model saw them in call order too.
    second_request = backend.requests[1]
    assert [m.content for m in second_request.messages[-3:]] == ["slow", "fast", "mid"]


async def test_events_come_in_order_and_results_as_they_finish() -> None:
    script = [
        "<think>\nHm.\n</think>\n\n"
        + call("wait", seconds=0.2, label="slow")
        + "\n"
        + call("wait", seconds=0.0, label="fast"),
        "All done.",
    ]
    events = [e async for e in Agent(backend=ScriptedBackend(script), tools=[wait]).stream("go")]
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "RunStarted" and kinds[1] == "StepStarted" and kinds[-1] == "RunFinished"
    assert kinds.index("ThinkingDelta") < kinds.index("ToolCallStarted")
    finished = [e.result.content for e in events if isinstance(e, ToolCallFinished)]
    assert finished == ["fast", "slow"]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "All done."
    assert sum(isinstance(e, StepFinished) for e in events) == 2


async def test_a_call_starts_while_the_model_is_still_writing() -> None:
    started_at: list[float] = []

    @tool
    async def mark() -> str:
        """Record when it ran."""
        started_at.append(time.monotonic())
        return "ok"

    backend = ScriptedBackend(
        [call("mark") + "\n" + "x" * 200 + "\n" + call("mark"), "end"], chunk_size=4, delay=0.002
    )
    agent = Agent(backend=backend, tools=[mark])
    turn_done: list[float] = []
    async for event in agent.stream("go"):
        if isinstance(event, StepFinished) and not turn_done:
            turn_done.append(time.monotonic())
    assert len(started_at) == 2
    assert started_at[0] < started_at[1] - 0.05  # the first ran long before the turn ended


async def test_a_tool_error_goes_back_to_the_model_which_recovers() -> None:
    script = [
        call("divide", a=1, b=0),
        "<think>\nDivision by zero; use 2 instead.\n</think>\n\n" + call("divide", a=1, b=2),
        "The result is 0.5.",
    ]
    backend = ScriptedBackend(script)
    result = await Agent(backend=backend, tools=[divide]).run("1/0?")
    assert result.output == "The result is 0.5."
    error = result.steps[0].tool_results[0]
    assert error.is_error and "ZeroDivisionError" in error.content
    assert result.steps[1].tool_results[0].content == "0.5"
    # auto thinking: first step thinks, after the error thinks, after success does not.
    assert [s.decision.think for s in result.steps] == [True, True, False]
    assert [s.decision.reason for s in result.steps][1] == "auto: a tool call failed"


async def test_an_unreadable_call_is_answered_in_its_place() -> None:
    script = [call("divide", a=4, b=2) + "\n<tool_call>\n{divide: oops\n</tool_call>", "2"]
    backend = ScriptedBackend(script)
    result = await Agent(backend=backend, tools=[divide]).run("4/2?")
    answers = result.steps[0].tool_results
    assert [a.is_error for a in answers] == [False, True]
    assert "could not be read" in answers[1].content
    assert backend.requests[1].messages[-1] is answers[1]


async def test_max_steps_ends_the_run_without_an_answer() -> None:
    backend = ScriptedBackend(lambda request: call("divide", a=1, b=1))
    result = await Agent(backend=backend, tools=[divide], limits=Limits(max_steps=3)).run("loop forever")
    assert result.stop_reason == "max_steps" and not result.ok
    assert result.output == ""
    assert len(result.steps) == 3 and len(backend.requests) == 3


async def test_timeout_ends_the_run() -> None:
    backend = ScriptedBackend([call("wait", seconds=5, label="x"), "never"])
    started = time.monotonic()
    result = await Agent(backend=backend, tools=[wait], limits=Limits(timeout=0.2)).run("go")
    assert time.monotonic() - started < 2
    assert result.stop_reason == "timeout"


async def test_each_steps_decision_comes_from_the_policy_with_its_context() -> None:
    seen: list[tuple[int, int, int]] = []

    def policy(ctx: StepContext) -> ThinkingDecision:
        seen.append((ctx.step, ctx.turn_step, len(ctx.tool_results)))
        return ThinkingDecision(ctx.step == 2, 128 if ctx.step == 2 else None, f"step {ctx.step}")

    backend = ScriptedBackend([call("divide", a=1, b=1), call("divide", a=2, b=1), "ok"])
    result = await Agent(backend=backend, tools=[divide], thinking=policy).run("go")
    assert seen == [(1, 1, 0), (2, 2, 1), (3, 3, 1)]
    assert [(s.decision.think, s.decision.budget) for s in result.steps] == [
        (False, None),
        (True, 128),
        (False, None),
    ]
    assert [r.decision for r in backend.requests] == [s.decision for s in result.steps]
    assert backend.requests[1].sampling.temperature == 0.6 and backend.requests[0].sampling.temperature == 0.7


async def test_soft_switch_in_the_task_overrides_the_policy() -> None:
    backend = ScriptedBackend(["ok"])
    result = await Agent(backend=backend, thinking="on").run("quick one /no_think")
    assert result.steps[0].decision.think is False


async def test_step_started_events_carry_the_decision() -> None:
    events = [e async for e in Agent(backend=ScriptedBackend(["hi"])).stream("hello")]
    started = [e for e in events if isinstance(e, StepStarted)]
    assert started[0].decision.think is True
    assert isinstance(events[0], RunStarted) and events[0].task == "hello"
    assert isinstance(events[-1], RunFinished) and events[-1].result.output == "hi"


async def test_a_conversation_continues_without_earlier_thinking() -> None:
    backend = ScriptedBackend(
        ["<think>\nfirst thoughts\n</think>\n\nParis.", "<think>\nmore\n</think>\n\nBerlin."]
    )
    agent = Agent(backend=backend, system_prompt="Be brief.")
    first = await agent.run("Capital of France?")
    second = await agent.run("And Germany?", history=first.messages)
    assert second.output == "Berlin."
    sent = backend.requests[1].messages
    assert [m.role for m in sent] == ["system", "user", "assistant", "user"]
    assert isinstance(sent[2], AssistantMessage) and sent[2].reasoning is None and sent[2].content == "Paris."
    assert len([m for m in second.messages if m.role == "system"]) == 1
    assert isinstance(first.messages[2], AssistantMessage)
    assert first.messages[2].reasoning == "first thoughts"  # the first result is untouched


async def test_history_accepts_openai_dicts() -> None:
    backend = ScriptedBackend(["ok"])
    await Agent(backend=backend).run(
        "next",
        history=[
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "1", "content": "r"},
        ],
    )
    messages = backend.requests[0].messages
    assert isinstance(messages[1], AssistantMessage) and messages[1].tool_calls[0].name == "f"
    assert isinstance(messages[2], ToolMessage) and isinstance(messages[3], UserMessage)


async def test_function_turns_see_the_request() -> None:
    def model(request: ModelRequest) -> str | AssistantMessage:
        last = request.messages[-1]
        if isinstance(last, ToolMessage):
            return f"The tool said {last.content}."
        return AssistantMessage("", None, [ToolCall("divide", {"a": 9, "b": 3})])

    result = await Agent(backend=ScriptedBackend(model), tools=[divide]).run("9/3")
    assert result.output == "The tool said 3.0."


async def test_usage_is_summed_over_steps() -> None:
    result = await Agent(backend=ScriptedBackend([call("divide", a=1, b=1), "ok"]), tools=[divide]).run("x")
    assert result.usage.requests == 0  # the scripted model uses no tokens
    assert len(result.steps) == 2


def test_run_sync_works_without_a_loop_and_refuses_inside_one() -> None:
    agent = Agent(backend=ScriptedBackend(["sync ok", "again"]))
    assert agent.run_sync("x").output == "sync ok"

    async def inside() -> None:
        with pytest.raises(RuntimeError, match=r"use `await agent\.run"):
            agent.run_sync("y")

    asyncio.run(inside())


async def test_scripted_backend_says_when_it_runs_out() -> None:
    from agentkit.errors import ModelError

    with pytest.raises(ModelError, match="ran out of turns"):
        await Agent(backend=ScriptedBackend([call("divide", a=1, b=1)]), tools=[divide]).run("x")


async def test_thinking_deltas_are_events() -> None:
    events = [
        e async for e in Agent(backend=ScriptedBackend(["<think>\nabc def\n</think>\n\nx"])).stream("q")
    ]
    assert "".join(e.text for e in events if isinstance(e, ThinkingDelta)) == "abc def"
    assert [e for e in events if isinstance(e, ToolCallStarted)] == []


class _Backend:
    """A backend that streams given items, then a turn of the given calls."""

    name = "test"

    def __init__(self, *turns: list[Any]) -> None:
        self.turns = list(turns)

    async def stream(self, request: ModelRequest) -> Any:
        from agentkit.backends.base import Turn

        items = self.turns.pop(0)
        for item in items:
            await asyncio.sleep(0.01)  # as a stream would, between items
            if isinstance(item, Turn):
                yield item
                return
            yield item
        yield Turn(AssistantMessage("done"), [])

    async def aclose(self) -> None:
        return None


def _turn(*calls: ToolCall) -> Any:
    from agentkit.backends.base import Turn

    return Turn(AssistantMessage("", None, list(calls)), list(calls))


async def test_a_call_running_when_the_turn_restarts_answers_the_same_call_asked_again() -> None:
    from agentkit.backends.base import Retrying

    ran: list[str] = []

    @tool
    async def work(job: str) -> str:
        """Slow work."""
        ran.append(job)
        await asyncio.sleep(0.1)
        return f"{job} done"

    first = ToolCall("work", {"job": "a"}, id="old")
    again = ToolCall("work", {"job": "a"}, id="new")
    other = ToolCall("work", {"job": "b"}, id="b1")
    backend = _Backend(
        [ToolCallReady(first), Retrying(2, 0.0, "the stream broke", restart=True), ToolCallReady(again),
         ToolCallReady(other), _turn(again, other)],
        [],
    )  # fmt: skip
    events = [e async for e in Agent(backend=backend, tools=[work], transcripts=False).stream("go")]
    assert isinstance(events[-1], RunFinished)
    result = events[-1].result
    assert ran == ["a", "b"]  # "a" ran once although the model asked for it twice
    step = result.steps[0]
    assert [(r.tool_call_id, r.content) for r in step.tool_results] == [("new", "a done"), ("b1", "b done")]
    started = [e for e in events if isinstance(e, ToolCallStarted)]
    assert [(e.call.id, e.reused) for e in started] == [("old", None), ("new", "old"), ("b1", None)]


async def test_a_call_the_restarted_turn_does_not_ask_for_again_is_stopped() -> None:
    from agentkit.backends.base import Retrying

    stopped: list[str] = []

    @tool
    async def work(job: str) -> str:
        """Slow work."""
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            stopped.append(job)
            raise
        return job

    backend = _Backend(
        [ToolCallReady(ToolCall("work", {"job": "a"})), Retrying(2, 0.0, "x", restart=True)], []
    )
    result = await Agent(backend=backend, tools=[work], transcripts=False).run("go")
    assert result.output == "done" and stopped == ["a"]


async def test_an_equal_but_new_call_object_in_the_turn_runs_once() -> None:

    ran: list[int] = []

    @tool
    def count() -> str:
        """Count."""
        ran.append(1)
        return "ok"

    call = ToolCall("count", {}, id="c1")
    backend = _Backend([ToolCallReady(call), _turn(ToolCall("count", {}, id="c1"))], [])
    await Agent(backend=backend, tools=[count], transcripts=False).run("go")
    assert ran == [1]


def test_a_concurrency_limit_works_in_every_run_sync() -> None:
    script = [call("wait", seconds=0, label="a") + call("wait", seconds=0, label="b"), "done"] * 2
    agent = Agent(backend=ScriptedBackend(script), tools=[wait], max_tool_concurrency=1, transcripts=False)
    for _ in range(2):
        result = agent.run_sync("go")
        assert [r.content for r in result.steps[0].tool_results] == ["a", "b"]
        assert not any(r.is_error for r in result.steps[0].tool_results)


async def test_the_same_call_with_the_same_result_is_corrected_then_stopped() -> None:
    ran: list[int] = []

    @tool
    def status() -> str:
        """The job's status."""
        ran.append(1)
        return "pending"

    backend = ScriptedBackend([call("status")] * 10)
    result = await Agent(backend=backend, tools=[status], transcripts=False, limits=Limits(max_steps=20)).run(
        "wait for it"
    )
    assert result.stop_reason == "repetition"
    assert len(ran) == 3  # run three times, then answered by agentkit
    assert len(result.steps) == 5
    correction = result.steps[3].tool_results[0]
    assert correction.is_error and "3 times in a row and got the same result" in correction.content
    assert "pending" in correction.content


async def test_the_same_call_with_changing_results_is_not_a_repetition() -> None:
    seen: list[int] = []

    @tool
    def tick() -> int:
        """Next number."""
        seen.append(1)
        return len(seen)

    backend = ScriptedBackend([call("tick")] * 6 + ["six"])
    result = await Agent(backend=backend, tools=[tick], transcripts=False).run("count")
    assert result.ok and len(seen) == 6


async def test_unreadable_calls_steps_in_a_row_end_the_run() -> None:
    bad = "<tool_call>\n{not json at all\n</tool_call>"
    backend = ScriptedBackend([bad] * 5)
    result = await Agent(backend=backend, tools=[divide], transcripts=False).run("x")
    assert result.stop_reason == "malformed_output" and len(result.steps) == 3


async def test_an_error_ends_the_run_with_its_partial_result() -> None:
    from agentkit.errors import ModelError

    backend = ScriptedBackend([call("divide", a=4, b=2)])  # runs out of turns at step 2
    events = []
    with pytest.raises(ModelError) as caught:
        async for event in Agent(backend=backend, tools=[divide], transcripts=False).stream("x"):
            events.append(event)
    partial = caught.value.result
    assert partial is not None and partial.stop_reason == "error" and len(partial.steps) == 1
    assert partial.error and "ran out of turns" in partial.error
    assert isinstance(events[-1], RunFailed)
    assert events[-1].type == "run_failed" and events[-1].result is partial


@tool
async def fetch_quickly(ctx: ToolContext) -> str:
    """Fetch, reporting twice and ending at once."""
    ctx.progress(1, 2, "first half")
    ctx.progress(2, 2, "last")
    return "fetched"


@tool
def fetch_in_a_thread(ctx: ToolContext) -> str:
    """The same, as a function run in a thread."""
    ctx.progress(1, 2, "first half")
    ctx.progress(2, 2, "last")
    return "fetched"


@pytest.mark.parametrize("name", ["fetch_quickly", "fetch_in_a_thread"])
async def test_progress_sent_just_before_a_call_ends_comes_before_its_end(name: str) -> None:
    agent = Agent(
        backend=ScriptedBackend([call(name), "ok"]),
        tools=[fetch_quickly, fetch_in_a_thread],
        transcripts=False,
    )
    seen = [
        e.message if isinstance(e, ToolProgress) else "done"
        async for e in agent.stream("Fetch.")
        if isinstance(e, ToolProgress | ToolCallFinished)
    ]
    assert seen == ["first half", "last", "done"]


async def test_events_heard_from_outside_come_as_they_happen_also_while_a_call_runs() -> None:
    from agentkit.events import McpLog, ServerStatus
    from agentkit.loop import run_loop
    from agentkit.thinking import Never, Sampling
    from agentkit.tools.toolbox import Toolbox

    heard: asyncio.Queue[Any] = asyncio.Queue()

    @tool
    async def work() -> str:
        """Works a while, heard from before and at the end."""
        heard.put_nowait(McpLog("s", "info", None, "begun"))
        await asyncio.sleep(0.5)
        heard.put_nowait(McpLog("s", "info", None, "ending"))  # just before it returns
        return "worked"

    async def setup() -> list[Any]:
        heard.put_nowait(McpLog("s", "info", None, "starting"))
        await asyncio.sleep(0.2)
        return [ServerStatus("s", "srv", True, (), 0.2, None)]

    events = run_loop(
        backend=ScriptedBackend([call("work"), "done"]),
        toolbox=Toolbox([work]),
        messages=[UserMessage("Work.")],
        policy=Never().decide,
        sampling=lambda think: Sampling(),
        setup=setup,
        heard=heard,
    )
    seen: list[tuple[str, float]] = []
    async for event in events:
        label = event.data if isinstance(event, McpLog) else type(event).__name__
        seen.append((label, time.monotonic()))
    order = [label for label, _ in seen]
    assert order[:3] == ["RunStarted", "starting", "ServerStatus"]
    at = dict(seen)
    assert at["ServerStatus"] - at["starting"] > 0.15  # heard while setup still worked
    assert order.index("begun") < order.index("ending") < order.index("ToolCallFinished")
    assert at["ToolCallFinished"] - at["begun"] > 0.4  # heard while the call still ran


async def test_closing_a_run_s_stream_stops_its_tool_calls_before_aclose_returns() -> None:
    stopped: list[str] = []

    @tool
    async def linger() -> str:
        """Wait a long time."""
        try:
            await asyncio.sleep(30)
        finally:
            stopped.append("linger")
        return "never"

    agent = Agent(backend=ScriptedBackend([call("linger"), "ok"]), tools=[linger], transcripts=False)
    events = agent.stream("Wait.")
    async for event in events:
        if isinstance(event, ToolCallStarted):
            break
    await asyncio.sleep(0.05)  # the call is running
    await events.aclose()
    assert stopped == ["linger"]
