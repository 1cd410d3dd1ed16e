"""Model-server faults, on a real local HTTP server that fails on purpose, for both backends:
retries, stream continuation, timeouts, and nothing broken taken for an answer."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from agentkit import Agent, Timeouts, tool
from agentkit.backends.retry import RetryPolicy
from agentkit.errors import ModelError, ModelTimeout, ModelUnreachable
from agentkit.events import ModelRetry, RunFinished, ToolCallFinished
from agentkit.result import RunResult

from ..fault_server import (
    ANSWER,
    Cut,
    Empty,
    ErrorEvent,
    FaultServer,
    Html,
    Reset,
    Stall,
    Status,
    Trickle,
    accept_and_hang,
)

QUICK = RetryPolicy(attempts=5, total_time=10, base=0.01, cap=0.05)


@pytest.fixture(params=["completions", "chat"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Steps:
    """A tool with a side effect to count: each call is one line in `done`."""

    def __init__(self) -> None:
        self.done: list[int] = []

        @tool
        def step(n: int) -> str:
            """Do step n."""
            self.done.append(n)
            return f"step {n} done"

        self.tool = step


def agent_for(server: FaultServer, backend: str, steps: Steps, **options: Any) -> Agent:
    options.setdefault("retry", QUICK)
    return Agent(
        server.model, server.base_url, backend=backend, tools=[steps.tool], transcripts=False, **options
    )


async def run(agent: Agent, task: str = "Do the steps.") -> tuple[RunResult, list[Any]]:
    events = [e async for e in agent.stream(task)]
    assert isinstance(events[-1], RunFinished)
    return events[-1].result, events


def retries(events: list[Any]) -> list[ModelRetry]:
    return [e for e in events if isinstance(e, ModelRetry)]


@pytest.mark.parametrize(
    "fault",
    [
        Reset(),
        Status(500),
        Status(502),
        Status(503),
        Status(504),
        Status(408),
        Empty(),
        Html(),
        ErrorEvent(after=2),
    ],
    ids=lambda f: type(f).__name__ + str(getattr(f, "code", "")),
)
async def test_a_transient_fault_is_retried_and_the_run_answers(backend: str, fault: Any) -> None:
    steps = Steps()
    async with FaultServer(calls=2, plan=[None, fault]) as server:
        result, events = await run(agent_for(server, backend, steps))
    assert result.ok and result.output == ANSWER
    assert steps.done == [1, 2]  # every call ran, and once
    (retry,) = retries(events)
    assert retry.attempt == 2 and retry.wait <= 0.05 and retry.reason


async def test_a_html_page_with_status_200_is_not_an_answer(backend: str) -> None:
    steps = Steps()
    async with FaultServer(plan=[Html()]) as server:
        agent = agent_for(server, backend, steps, retry=RetryPolicy(attempts=1))
        with pytest.raises(ModelError, match="answered 200 with something that is not an event stream"):
            await run(agent)


async def test_an_empty_200_is_not_an_answer(backend: str) -> None:
    async with FaultServer(plan=[Empty()]) as server:
        agent = agent_for(server, backend, Steps(), retry=RetryPolicy(attempts=1))
        with pytest.raises(ModelError, match="answered 200 with an empty body"):
            await run(agent)


async def test_429_waits_as_long_as_retry_after_says(backend: str) -> None:
    async with FaultServer(plan=[Status(429, retry_after=1)]) as server:
        started = time.monotonic()
        result, events = await run(agent_for(server, backend, Steps()))
        took = time.monotonic() - started
    assert result.ok
    (retry,) = retries(events)
    assert retry.wait >= 1.0 and took >= 1.0
    assert "HTTP 429" in retry.reason


async def test_a_retry_after_longer_than_the_retry_time_ends_the_call_at_once(backend: str) -> None:
    async with FaultServer(plan=[Status(503, retry_after=3600)]) as server:
        started = time.monotonic()
        with pytest.raises(ModelError, match="asked to wait 3600 s, more than the retry time left"):
            await run(agent_for(server, backend, Steps()))
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "cut",
    [Cut(after=3), Cut(after=3, end="reset"), Cut(after=3, end="terminator"), Cut(after=3, partial=True)],
    ids=["fin", "reset", "no-done", "mid-event"],
)
async def test_a_stream_cut_mid_turn_is_continued_or_restarted_and_no_call_runs_twice(
    backend: str, cut: Cut
) -> None:
    steps = Steps()
    async with FaultServer(calls=2, plan=[None, cut]) as server:
        result, events = await run(agent_for(server, backend, steps))
        posts = [r for r in server.requests if r.method == "POST"]
    assert result.ok and result.output == ANSWER
    assert steps.done == [1, 2]
    (retry,) = retries(events)
    if backend == "completions":
        # Continued: the same prompt plus the text received before the cut.
        assert not retry.restart
        broken, continued = posts[1], posts[2]
        assert broken.sent and continued.body["prompt"] == broken.body["prompt"] + broken.sent
        assert continued.resumed == broken.sent
    else:
        assert retry.restart  # a chat request cannot be continued: the step starts over
        assert posts[2].body == posts[1].body


async def test_a_stream_cut_inside_a_tool_call_is_continued_not_blamed_on_the_model() -> None:
    steps = Steps()
    # Four characters an event: 20 characters in is inside the call's JSON.
    async with FaultServer(plan=[Cut(after=5)], reasoning="") as server:
        result, events = await run(agent_for(server, "completions", steps, thinking="off"))
        broken = server.requests[1]
    assert "<tool_call>" in broken.sent and "</tool_call>" not in broken.sent
    assert result.ok and steps.done == [1]
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert len(finished) == 1 and not finished[0].result.is_error


async def test_a_finished_stream_without_done_is_accepted_without_a_retry(backend: str) -> None:
    async with FaultServer(plan=[Cut(after=None, end="terminator")]) as server:
        result, events = await run(agent_for(server, backend, Steps()))
    assert result.ok and not retries(events)


async def test_a_stream_that_stalls_past_the_idle_timeout_is_continued(backend: str) -> None:
    async with FaultServer(plan=[Stall(seconds=5, after=3)]) as server:
        started = time.monotonic()
        result, events = await run(agent_for(server, backend, Steps(), timeouts=Timeouts(idle=0.5)))
        took = time.monotonic() - started
    assert result.ok
    (retry,) = retries(events)
    assert "sent nothing for 0.5 s (idle timeout" in retry.reason
    assert took < 3


async def test_a_trickle_that_never_finishes_a_line_counts_as_stalled(backend: str) -> None:
    async with FaultServer(plan=[Trickle(interval=0.2)]) as server:
        started = time.monotonic()
        result, events = await run(agent_for(server, backend, Steps(), timeouts=Timeouts(idle=1.0)))
        took = time.monotonic() - started
    assert result.ok
    assert "idle timeout" in retries(events)[0].reason
    assert took < 5


async def test_a_port_that_accepts_and_never_answers_ends_within_the_bounds(backend: str) -> None:
    with accept_and_hang() as hang:
        agent = Agent(
            "m",
            hang.base_url,
            backend=backend,
            timeouts=Timeouts(idle=0.3),
            retry=RetryPolicy(attempts=3, total_time=5, base=0.01, cap=0.02),
            transcripts=False,
        )
        started = time.monotonic()
        with pytest.raises(ModelTimeout) as caught:
            await run(agent)
        took = time.monotonic() - started
    assert took < 3
    assert str(caught.value).startswith(f"the server at {hang.base_url}")
    assert "gave up after 3 attempts" in str(caught.value)


async def test_a_server_that_goes_down_mid_run_and_comes_back_is_waited_for(backend: str) -> None:
    steps = Steps()
    async with FaultServer(calls=2, plan=[None, Cut(after=4, end="reset")]) as server:

        async def outage() -> None:
            while len(server.requests) < 3:  # the models listing and the first two posts
                await asyncio.sleep(0.01)
            await server.stop()
            await asyncio.sleep(1.0)
            await server.start()

        agent = agent_for(
            server, backend, steps, retry=RetryPolicy(attempts=30, total_time=20, base=0.05, cap=0.2)
        )
        result, events = (await asyncio.gather(run(agent), outage()))[0]
    assert result.ok and steps.done == [1, 2]
    reasons = " ".join(r.reason for r in retries(events))
    assert "stopped answering (connection refused)" in reasons
    assert "Start one with" not in reasons


async def test_a_server_that_stays_down_ends_the_run_naming_url_and_last_error(backend: str) -> None:
    steps = Steps()
    async with FaultServer(calls=2) as server:
        agent = agent_for(
            server, backend, steps, retry=RetryPolicy(attempts=4, total_time=5, base=0.01, cap=0.02)
        )

        @tool
        async def step(n: int) -> str:
            """Do step n (and take the server down)."""
            await server.stop()
            return "done"

        agent.toolbox.remove("step")
        agent.toolbox.add(step)
        with pytest.raises(ModelUnreachable) as caught:
            await run(agent)
    message = str(caught.value)
    assert message.startswith(f"the model server at {server.base_url} stopped answering (connection refused)")
    assert "gave up after 4 attempts" in message and "Start one with" not in message
    partial = caught.value.result
    assert partial is not None and partial.stop_reason == "error" and len(partial.steps) == 1


async def test_a_request_the_server_rejects_is_not_retried(backend: str) -> None:
    async with FaultServer(plan=[Status(400, body='{"error": {"message": "bad field"}}')]) as server:
        with pytest.raises(ModelError, match="answered HTTP 400: bad field") as caught:
            await run(agent_for(server, backend, Steps()))
    assert caught.value.status == 400 and not caught.value.retryable


async def test_401_names_the_api_key_option(backend: str) -> None:
    async with FaultServer(plan=[Status(401, body='{"error": {"message": "Unauthorized"}}')]) as server:
        with pytest.raises(ModelError, match="pass --api-key KEY or set AGENTKIT_API_KEY"):
            await run(agent_for(server, backend, Steps()))


async def test_many_concurrent_runs_ask_for_the_model_list_once(backend: str) -> None:
    async with FaultServer() as server:
        agent = Agent(None, server.base_url, backend=backend, tools=[Steps().tool], transcripts=False)
        async with agent:
            results = await asyncio.gather(*(agent.run(f"task {i}") for i in range(50)))
        listings = [r for r in server.requests if r.path.endswith("/models")]
    assert all(r.ok for r in results)
    assert len(listings) == 1


async def test_a_connection_refused_before_the_server_ever_answered_fails_at_once(
    backend: str, unused_port: int
) -> None:
    agent = Agent("m", f"http://127.0.0.1:{unused_port}/v1", backend=backend, transcripts=False)
    started = time.monotonic()
    with pytest.raises(ModelUnreachable, match=r"no model server answers at .*Start one with"):
        await run(agent)
    assert time.monotonic() - started < 1
