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
    ToolProgress,
)
from agentkit.messages import Message, ToolCall, ToolCallError, ToolMessage, Usage, UserMessage
from agentkit.qwen3.parser import ContentDelta, ReasoningDelta, ToolCallReady
from agentkit.result import RunResult, StepRecord, StopReason
from agentkit.thinking import Sampling, StepContext, ThinkingDecision, decide
from agentkit.tools.scope import RunScope
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
    setup: Callable[[], Awaitable[Sequence[Event]]] | None = None,
    scope: RunScope | None = None,
) -> AsyncIterator[Event]:
    """Run the agent loop on `messages` (which end with the user's task) and yield events.

    `messages` grows in place with every turn and tool result. `setup` runs after
    `RunStarted` (the agent starts its MCP servers there) and its events are yielded.
    `scope` is what the run's tool calls share (workspace, per-run resources); the caller
    closes it.
    Raises what the backend raises (an unreachable server, an HTTP error).
    """
    run_id = run_id or uuid.uuid4().hex[:12]
    task = next((m.content for m in reversed(messages) if isinstance(m, UserMessage)), "")
    scope = scope or RunScope()
    workspace = str(scope.workspace) if scope.has_workspace else None
    yield RunStarted(run_id, task, getattr(backend, "name", type(backend).__name__), model, workspace)
    if setup is not None:
        for event in await setup():
            yield event
    deadline = _Deadline(limits.timeout)
    usage = Usage()
    steps: list[StepRecord] = []
    results: list[ToolMessage] = []
    stop: StopReason = "max_steps"
    output = ""
    try:
        for step in range(1, limits.max_steps + 1):
            started = time.monotonic()
            decision = decide(policy, StepContext(step, step, messages, results))
            request = ModelRequest(list(messages), toolbox.specs(), decision, sampling(decision.think))
            yield StepStarted(step, decision)
            calls = _Calls(toolbox, step, deps, scope)
            turn: Turn | None = None
            try:
                async for item in _bounded(backend.stream(request), deadline):
                    if isinstance(item, ContentDelta):
                        yield TextDelta(step, item.text)
                    elif isinstance(item, ReasoningDelta):
                        yield ThinkingDelta(step, item.text)
                    elif isinstance(item, ToolCallReady):
                        yield calls.start(item.call)  # runs while the model goes on writing
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
                for event in calls.start_rest(turn.calls):
                    yield event
                async for event in calls.finish(turn.calls, deadline):
                    yield event
                results = calls.answers(turn.calls)
            finally:
                calls.cancel()
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


class _Calls:
    """The tool calls of one step: started as they come, answered in call order."""

    def __init__(self, toolbox: Toolbox, step: int, deps: Any, scope: RunScope) -> None:
        self.toolbox = toolbox
        self.step = step
        self.deps = deps
        self.scope = scope
        self.pending: dict[int, asyncio.Task[tuple[ToolMessage, float]]] = {}
        self.answered: dict[int, ToolMessage] = {}
        self.progress: asyncio.Queue[ToolProgress] = asyncio.Queue()

    def start(self, call: ToolCall) -> ToolCallStarted:
        """Start running a call now."""
        context = ToolContext(step=self.step, deps=self.deps, scope=self.scope, on_progress=self._report)
        self.pending[id(call)] = asyncio.ensure_future(_timed(self.toolbox.run(call, context)))
        return ToolCallStarted(self.step, call)

    def start_rest(self, calls: Sequence[ToolCall | ToolCallError]) -> list[ToolCallStarted]:
        """Start the calls the backend did not announce while streaming."""
        return [self.start(c) for c in calls if isinstance(c, ToolCall) and id(c) not in self.pending]

    def _report(self, context: ToolContext, done: float, total: float | None, message: str | None) -> None:
        event = ToolProgress(self.step, context.call_id, context.tool_name, done, total, message)
        self.progress.put_nowait(event)

    async def finish(
        self, calls: Sequence[ToolCall | ToolCallError], deadline: _Deadline
    ) -> AsyncIterator[ToolProgress | ToolCallFinished]:
        """Each answer as soon as it is ready (unreadable calls first), and progress meanwhile."""
        by_future: dict[asyncio.Future[Any], ToolCall | ToolCallError] = {}
        for call in calls:
            if isinstance(call, ToolCallError):
                answer = Toolbox.answer_unreadable(call)
                self.answered[id(call)] = answer
                yield ToolCallFinished(self.step, call, answer, 0.0)
            else:
                by_future[self.pending[id(call)]] = call
        waiting: set[asyncio.Future[Any]] = set(by_future)
        report = asyncio.ensure_future(self.progress.get())
        try:
            while waiting:
                done, _ = await asyncio.wait(
                    {*waiting, report}, timeout=deadline.left(), return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    raise asyncio.TimeoutError
                if report in done:
                    yield report.result()
                    report = asyncio.ensure_future(self.progress.get())
                for future in done & waiting:
                    waiting.discard(future)
                    call = by_future[future]
                    answer, took = future.result()
                    self.answered[id(call)] = answer
                    yield ToolCallFinished(self.step, call, answer, took)
        finally:
            report.cancel()

    def answers(self, calls: Sequence[ToolCall | ToolCallError]) -> list[ToolMessage]:
        return [self.answered[id(call)] for call in calls]

    def cancel(self) -> None:
        for future in self.pending.values():
            future.cancel()


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


async def collect_result(events: AsyncIterator[Event]) -> RunResult:
    """Consume a run's events; return its result."""
    result: RunResult | None = None
    async for event in events:
        if isinstance(event, RunFinished):
            result = event.result
    if result is None:
        raise RuntimeError("the run ended without a result")
    return result
