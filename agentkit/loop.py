"""The step loop: the one place that sequences a run.

Each step asks the thinking policy, calls the backend, starts every tool call as soon as the
model has finished writing it (while the model may still write the next), feeds the results
back in call order, and repeats until a turn has no calls or a limit is reached.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agentkit.backends.base import Backend, ModelRequest, Turn
from agentkit.events import (
    Event,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    TextDelta,
    ThinkingDelta,
    ToolCallFinished,
    ToolCallStarted,
)
from agentkit.messages import Message, ToolCall, ToolCallError, ToolMessage, Usage, UserMessage
from agentkit.qwen3.parser import ContentDelta, ReasoningDelta, ToolCallReady
from agentkit.result import RunResult, StepRecord, StopReason
from agentkit.thinking import Sampling, StepContext, ThinkingDecision, decide
from agentkit.tools.tool import ToolContext
from agentkit.tools.toolbox import Toolbox

__all__ = ["Limits", "run_loop"]


@dataclass(frozen=True)
class Limits:
    """Where a run stops if the model does not answer first.

    Attributes:
        max_steps: Model calls per run.
        max_tokens: Completion tokens per run, over all steps (None: no limit).
        timeout: Seconds of wall time per run (None: no limit).
    """

    max_steps: int = 20
    max_tokens: int | None = None
    timeout: float | None = None


class _Deadline:
    def __init__(self, seconds: float | None) -> None:
        self.at = None if seconds is None else time.monotonic() + seconds

    def left(self) -> float | None:
        return None if self.at is None else max(0.0, self.at - time.monotonic())


async def run_loop(
    *,
    backend: Backend,
    toolbox: Toolbox,
    messages: list[Message],
    policy: Callable[[StepContext], ThinkingDecision],
    sampling: Callable[[bool], Sampling],
    limits: Limits = Limits(),
    deps: Any = None,
    run_id: str | None = None,
    model: str | None = None,
) -> AsyncIterator[Event]:
    """Run the agent loop on `messages` (which end with the user's task) and yield events.

    `messages` grows in place with every turn and tool result. Raises what the backend
    raises (an unreachable server, an HTTP error) and `asyncio.TimeoutError` at the
    run's time limit.
    """
    run_id = run_id or uuid.uuid4().hex[:12]
    task = next((m.content for m in reversed(messages) if isinstance(m, UserMessage)), "")
    yield RunStarted(run_id, task, getattr(backend, "name", type(backend).__name__), model)
    deadline = _Deadline(limits.timeout)
    specs = toolbox.specs()
    usage = Usage()
    steps: list[StepRecord] = []
    results: list[ToolMessage] = []
    turn_step = 0
    stop: StopReason = "max_steps"
    output = ""
    try:
        for step in range(1, limits.max_steps + 1):
            turn_step += 1
            started = time.monotonic()
            decision = decide(policy, StepContext(step, turn_step, messages, results))
            request = ModelRequest(list(messages), specs, decision, sampling(decision.think))
            yield StepStarted(step, decision)
            pending: dict[int, asyncio.Task[tuple[ToolMessage, float]]] = {}

            turn: Turn | None = None
            try:
                async for item in _bounded(backend.stream(request), deadline):
                    if isinstance(item, ContentDelta):
                        yield TextDelta(step, item.text)
                    elif isinstance(item, ReasoningDelta):
                        yield ThinkingDelta(step, item.text)
                    elif isinstance(item, ToolCallReady):
                        yield _start(item.call, step, toolbox, deps, pending)
                    elif isinstance(item, Turn):
                        turn = item
                    # ToolCallInvalid: answered below, in call order
                if turn is None:
                    raise RuntimeError(f"backend {backend!r} ended a stream without a Turn")
                messages.append(turn.message)
                usage += turn.usage
                record = StepRecord(step, decision, turn.message, [], turn.usage, turn.finish_reason)
                steps.append(record)
                if not turn.calls:
                    record.duration = time.monotonic() - started
                    yield StepFinished(step, turn.message, turn.usage, turn.finish_reason, record.duration)
                    stop, output = "answer", turn.message.content
                    break
                for call in turn.calls:
                    if isinstance(call, ToolCall) and id(call) not in pending:
                        yield _start(call, step, toolbox, deps, pending)  # not announced while streaming
                answered: dict[int, ToolMessage] = {}
                async for call, result, took in _results(turn.calls, pending, deadline):
                    answered[id(call)] = result
                    yield ToolCallFinished(step, call, result, took)
                results = [answered[id(call)] for call in turn.calls]
            finally:
                for future in pending.values():
                    future.cancel()
            messages.extend(results)
            record.tool_results = results
            record.duration = time.monotonic() - started
            yield StepFinished(step, turn.message, turn.usage, turn.finish_reason, record.duration)
            if limits.max_tokens is not None and usage.completion_tokens >= limits.max_tokens:
                stop = "max_tokens"
                break
    except asyncio.TimeoutError:
        stop = "timeout"
    yield RunFinished(RunResult(output, messages, steps, usage, stop, run_id))


def _start(
    call: ToolCall,
    step: int,
    toolbox: Toolbox,
    deps: Any,
    pending: dict[int, asyncio.Task[tuple[ToolMessage, float]]],
) -> ToolCallStarted:
    """Start running a call now; its task is kept in `pending` under the call's id."""
    pending[id(call)] = asyncio.ensure_future(_timed(toolbox.run(call, ToolContext(step=step, deps=deps))))
    return ToolCallStarted(step, call)


async def _timed(call: Awaitable[ToolMessage]) -> tuple[ToolMessage, float]:
    started = time.monotonic()
    result = await call
    return result, time.monotonic() - started


async def _bounded(stream: AsyncIterator[Any], deadline: _Deadline) -> AsyncIterator[Any]:
    """The stream's items, raising `asyncio.TimeoutError` when the deadline passes."""
    if deadline.at is None:
        async for item in stream:
            yield item
        return
    iterator = stream.__aiter__()
    while True:
        try:
            item = await asyncio.wait_for(iterator.__anext__(), deadline.left())
        except StopAsyncIteration:
            return
        yield item


async def _results(
    calls: Sequence[ToolCall | ToolCallError],
    pending: dict[int, asyncio.Task[tuple[ToolMessage, float]]],
    deadline: _Deadline,
) -> AsyncIterator[tuple[ToolCall | ToolCallError, ToolMessage, float]]:
    """Each call's answer as soon as it is ready: unreadable calls first, then by finish."""
    by_future = {}
    for call in calls:
        if isinstance(call, ToolCallError):
            yield call, Toolbox.answer_unreadable(call), 0.0
        else:
            by_future[pending[id(call)]] = call
    waiting = set(by_future)
    while waiting:
        done, waiting = await asyncio.wait(
            waiting, timeout=deadline.left(), return_when=asyncio.FIRST_COMPLETED
        )
        if not done:
            raise asyncio.TimeoutError
        for future in done:
            result, took = future.result()
            yield by_future[future], result, took


async def collect_result(events: AsyncIterator[Event]) -> RunResult:
    """Consume a run's events; return its result."""
    result: RunResult | None = None
    async for event in events:
        if isinstance(event, RunFinished):
            result = event.result
    if result is None:
        raise RuntimeError("the run ended without a result")
    return result
