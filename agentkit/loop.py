"""The step loop: the one place that sequences a run.

Each step fits the conversation into the context window (compacting history when it would
overflow), asks the thinking policy, calls the backend, starts every tool call as soon as
the model has finished writing it (while the model may still write the next), feeds the
results back in call order, and repeats until a turn has no calls or the run must stop: a
limit, a model stuck repeating itself or writing unreadable calls, or a server that fails
for good (the error then carries what the run had done).

No tool call runs twice: a call already running when a broken stream is retried, and a
call that finished before a run was resumed, answer the same call asked again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar, Union

from agentkit.backends.base import Backend, ModelRequest, Retrying, Turn, end_run
from agentkit.context import ContextBudget, ContextPolicy, apply_changes, has_budget, plan_compaction
from agentkit.defaults import DEFAULT_TOOL_CANCEL_GRACE
from agentkit.errors import AgentkitError, ContextOverflow
from agentkit.events import (
    Compacted,
    Event,
    ModelRetry,
    OutputRejected,
    RunFailed,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    TextDelta,
    ThinkingDelta,
    ToolApproval,
    ToolCallFinished,
    ToolCallStarted,
    ToolProgress,
    TurnFinished,
)
from agentkit.limits import Limits
from agentkit.messages import (
    AssistantMessage,
    ContentDelta,
    Message,
    ReasoningDelta,
    ToolCall,
    ToolCallError,
    ToolCallReady,
    ToolMessage,
    UserMessage,
)
from agentkit.output import OutputInvalid, OutputSpec, rejection
from agentkit.result import Resume, RunResult, StepRecord, StopReason
from agentkit.thinking import Sampling, StepContext, ThinkingDecision, decide
from agentkit.tools.scope import RunScope
from agentkit.tools.tool import ToolContext
from agentkit.tools.toolbox import Toolbox

__all__ = [
    "Limits",
    "collect_result",
    "run_loop",
]


MIN_OUTPUT_TOKENS = 256
"""A step runs, even when compaction could not free the whole reserve, while at least this
many tokens of the window are left for its reply: a short answer or one call still fits."""


class _Deadline:
    def __init__(self, seconds: float | None) -> None:
        self.at = None if seconds is None else time.monotonic() + seconds

    def left(self) -> float | None:
        return None if self.at is None else max(0.0, self.at - time.monotonic())


class _Stop(Exception):
    """Ends the run early with a stop reason."""

    def __init__(self, reason: StopReason) -> None:
        self.reason = reason


async def run_loop(
    *,
    backend: Backend,
    toolbox: Toolbox,
    messages: list[Message],
    policy: Callable[[StepContext], ThinkingDecision],
    sampling: Callable[[bool], Sampling],
    limits: Limits | None = None,
    deps: Any = None,
    run_id: str | None = None,
    model: str | None = None,
    setup: Callable[[], Awaitable[Sequence[Event]]] | None = None,
    scope: RunScope | None = None,
    context: ContextPolicy | None = None,
    fallback_window: int | None = None,
    resume: Resume | None = None,
    output: OutputSpec | None = None,
    heard: asyncio.Queue[Event] | None = None,
    cancel_grace: float = DEFAULT_TOOL_CANCEL_GRACE,
) -> AsyncGenerator[Event, None]:
    """Run the agent loop on `messages` (which end with the user's task) and yield events.

    `messages` grows in place with every turn and tool result (compaction replaces some).
    `setup` runs after `RunStarted` (the agent starts its MCP servers there) and its events
    are yielded. `scope` is what the run's tool calls share (workspace, per-run resources);
    the caller closes it. `context` keeps the prompt inside the window (`fallback_window`
    when the server does not say its own). `resume` takes up a run where it stopped.
    `output` is the answer's type: an answer that does not match it goes back to the model
    with the error (at most `limits.output_retries` times); the result's `output` is
    the validated object. `heard` holds events from outside the loop (MCP servers' log
    messages and starts): they are yielded between the loop's own events, and as they come
    while tool calls run and while `setup` works. `cancel_grace`: seconds tool calls cancelled
    when a step ends get to clean up.

    Raises what the backend raises once its retries are spent (an unreachable server, an
    HTTP error); a `RunFailed` event with the partial result comes first, and the error's
    `result` holds it too.
    """
    run = _Run(
        backend=backend,
        toolbox=toolbox,
        messages=messages,
        policy=policy,
        sampling=sampling,
        limits=limits or Limits(),
        deps=deps,
        scope=scope or RunScope(),
        context=context or ContextPolicy(),
        fallback_window=fallback_window,
        resume=resume,
        run_id=run_id or uuid.uuid4().hex[:12],
        output=output,
        heard=heard,
        cancel_grace=cancel_grace,
    )
    try:
        async with contextlib.aclosing(run.events(model, setup)) as inner:
            async for event in inner:
                if heard is not None and not heard.empty() and event is not run.relayed:
                    for noted in _drain(heard):  # heard before this event
                        yield noted
                yield event
    finally:
        end_run(backend, run.memo)


_Outcome = Union["asyncio.Future[tuple[ToolMessage, float]]", ToolMessage]


class _Run:
    """One run's state between steps."""

    def __init__(
        self,
        *,
        backend: Backend,
        toolbox: Toolbox,
        messages: list[Message],
        policy: Callable[[StepContext], ThinkingDecision],
        sampling: Callable[[bool], Sampling],
        limits: Limits,
        deps: Any,
        scope: RunScope,
        context: ContextPolicy,
        fallback_window: int | None,
        resume: Resume | None,
        run_id: str,
        output: OutputSpec | None = None,
        heard: asyncio.Queue[Event] | None = None,
        cancel_grace: float = DEFAULT_TOOL_CANCEL_GRACE,
    ) -> None:
        self.heard = heard
        self.cancel_grace = cancel_grace
        self.relayed: Event | None = None  # the last event heard that the run passed on itself
        self.backend = backend
        self.toolbox = toolbox
        self.messages = messages
        self.policy = policy
        self.sampling = sampling
        self.limits = limits
        self.deps = deps
        self.scope = scope
        self.resumed = resume is not None
        self.resume = resume = resume or Resume()
        self.run_id = run_id
        self.steps: list[StepRecord] = list(resume.steps)
        self.usage = resume.usage
        self.results: list[ToolMessage] = list(self.steps[-1].tool_results) if self.steps else []
        self.budget = (
            ContextBudget(context, fallback_window) if context.enabled and has_budget(backend) else None
        )
        self.repeats = _streaks_after(self.steps)
        self.malformed = 0
        self.deadline = _Deadline(limits.timeout)
        self.ended: tuple[StopReason, Any] | None = None
        self.error: str | None = None  # why an answer was refused, when the run stops on it
        self.memo: dict[str, Any] = {}  # the backend's, for this run's requests (its prompt)
        self.output = output
        self.rejected = sum(1 for s in self.steps if not s.tool_results)  # answers sent back
        if self.answered_last():
            self.rejected -= 1  # the last answer is not judged yet

    def result(self, stop: StopReason, output: Any = "", error: str | None = None) -> RunResult:
        return RunResult(output, self.messages, self.steps, self.usage, stop, self.run_id, error)

    def answered_last(self) -> bool:
        """Whether the conversation ends with the model's answer (a run resumed after it)."""
        last = self.steps[-1] if self.steps else None
        return (
            last is not None
            and not last.tool_results
            and bool(self.messages)
            and self.messages[-1] is last.message
        )

    def judge(self, step: int, message: AssistantMessage) -> list[Event]:
        """Take an answer: with an output type, validate it; send a wrong one back with
        the error while retries are left, else end the run on it. Sets `ended` unless
        the answer went back."""
        if self.output is None:
            self.ended = ("answer", message.content)
            return []
        try:
            self.ended = ("answer", self.output.validate(message.content))
            return []
        except OutputInvalid as exc:
            error = str(exc)
        if self.rejected >= self.limits.output_retries:
            what = (
                "the output schema" if self.output.name == "answer" else f"the output type {self.output.name}"
            )
            sent = (
                f"sent back {self.rejected} time{'s' * (self.rejected != 1)}"
                if self.rejected
                else "not sent back"
            )
            self.error = f"the answer does not match {what}: {error} ({sent})"
            self.ended = ("invalid_output", "")
            return []
        self.rejected += 1
        reply = rejection(error)
        self.messages.append(UserMessage(reply))
        return [OutputRejected(step, error, reply)]

    async def _meanwhile(self, work: Awaitable[Sequence[Event]]) -> AsyncGenerator[Event, None]:
        """The events heard while `work` runs, as they come, then the events `work` returns."""
        heard = self.heard
        if heard is None:
            for event in await work:
                yield event
            return
        running = asyncio.ensure_future(work)
        noted: asyncio.Future[Event] = _never()
        try:
            while not running.done():
                noted = asyncio.ensure_future(heard.get())
                await asyncio.wait({running, noted}, return_when=asyncio.FIRST_COMPLETED)
                if noted.done():
                    self.relayed = noted.result()
                    yield self.relayed
            for event in _drain(heard):
                self.relayed = event
                yield event
            for event in running.result():
                yield event
        finally:
            noted.cancel()
            if not running.done():
                running.cancel()
                await asyncio.wait({running})

    async def events(
        self, model: str | None, setup: Callable[[], Awaitable[Sequence[Event]]] | None
    ) -> AsyncGenerator[Event, None]:
        """The whole run: `RunStarted`, its steps, and `RunFinished` with the stop reason (or
        `RunFailed`, before the error that ends it is raised)."""
        yield await self.started(model)
        stop: StopReason = "max_steps"
        output: Any = ""
        try:
            async with contextlib.aclosing(self.steps_until_stopped(setup)) as inner:
                async for event in inner:
                    yield event
            if self.ended is not None:
                stop, output = self.ended
        except _Stop as exc:
            stop = exc.reason
        except asyncio.TimeoutError:
            stop = "timeout"
        except AgentkitError as exc:
            exc.result = self.result("error", error=str(exc))
            yield RunFailed(str(exc), type(exc).__name__, exc.result)
            raise
        yield RunFinished(self.result(stop, output, self.error))

    async def started(self, model: str | None) -> RunStarted:
        """What the run is: its task, backend, workspace, first step and sandbox."""
        task = next((m.content for m in reversed(self.messages) if isinstance(m, UserMessage)), "")
        workspace = str(self.scope.workspace) if self.scope.has_workspace else None
        name = getattr(self.backend, "name", type(self.backend).__name__)
        confined = [t.name for t in self.toolbox if getattr(t, "runs_code", False)]
        sandbox = await asyncio.to_thread(self.scope.sandbox.describe, confined) if confined else None
        return RunStarted(
            self.run_id, task, name, model, workspace, self.resumed, len(self.steps) + 1, sandbox
        )

    async def steps_until_stopped(
        self, setup: Callable[[], Awaitable[Sequence[Event]]] | None
    ) -> AsyncGenerator[Event, None]:
        """`setup`'s events, the judgement of an answer the run had given when it stopped (a
        resumed run), then step after step until one ends the run or the steps run out."""
        first = len(self.steps) + 1
        if setup is not None:
            async with contextlib.aclosing(self._meanwhile(setup())) as inner:
                async for event in inner:
                    yield event
        if self.answered_last():  # it had answered when it stopped
            for event in self.judge(len(self.steps), self.steps[-1].message):
                yield event
        for step in range(first, self.limits.max_steps + 1):
            if self.ended is not None:
                break
            async with contextlib.aclosing(self.step(step)) as inner:
                async for event in inner:
                    yield event

    async def step(self, step: int) -> AsyncGenerator[Event, None]:
        """One step; sets `ended` when the run ends with it."""
        started = time.monotonic()
        carried = self.resume if step == len(self.resume.steps) + 1 else None
        decision = (carried.decision if carried else None) or decide(
            self.policy, StepContext(step, step, self.messages, self.results)
        )
        calls = _Calls(self, step, carried.started if carried else ())
        try:
            turn = carried.turn if carried else None
            if turn is None:
                yield StepStarted(step, decision)
                turns: list[Turn] = []
                async with contextlib.aclosing(
                    _keeping(self.ask_model(step, decision, calls), turns)
                ) as inner:
                    async for event in inner:
                        yield event
                turn = turns[-1]  # ask_model gives one
            self.messages.append(turn.message)
            self.usage += turn.usage
            record = StepRecord(step, decision, turn.message, [], turn.usage, turn.finish_reason)
            self.steps.append(record)
            if not turn.calls:
                record.duration = time.monotonic() - started
                yield StepFinished(step, turn.message, turn.usage, turn.finish_reason, record.duration)
                for event in self.judge(step, turn.message):
                    yield event
                return
            for event in calls.start_rest(turn.calls):
                yield event
            async with contextlib.aclosing(calls.finish(turn.calls)) as inner:
                async for event in inner:
                    yield event
            results = calls.answers(turn.calls)
        finally:
            await calls.aclose()
        self.messages.extend(results)
        self.results = record.tool_results = results
        record.duration = time.monotonic() - started
        yield StepFinished(step, turn.message, turn.usage, turn.finish_reason, record.duration)
        stop = self.guard(turn, calls) or self.spent()
        if stop is not None:
            self.ended = (stop, "")

    def spent(self) -> StopReason | None:
        """ "max_run_tokens" once the run has written as many tokens as it may."""
        cap = self.limits.max_run_tokens
        return "max_run_tokens" if cap is not None and self.usage.completion_tokens >= cap else None

    async def ask_model(
        self, step: int, decision: ThinkingDecision, calls: _Calls
    ) -> AsyncGenerator[Event | Turn, None]:
        """The model's turn of a step: its events, then the `Turn`, then `TurnFinished`. The
        prompt is compacted first where it would not fit, and once more (with the step asked
        again) when the server says it did not."""
        overflowed = False
        turn: Turn | None = None
        while turn is None:
            requests: list[ModelRequest] = []
            async with contextlib.aclosing(
                _keeping(self.prepared(step, decision, overflowed), requests)
            ) as inner:
                async for event in inner:
                    yield event
            request = requests[-1]  # prepared gives one
            try:
                async with contextlib.aclosing(self.model_turn(step, request, calls)) as inner:
                    async for item in inner:
                        turn = item if isinstance(item, Turn) else turn
                        yield item
            except ContextOverflow:
                if overflowed or self.budget is None:
                    raise
                overflowed = True  # one compaction and one retry of the step
        self.observe(turn)
        yield TurnFinished(step, turn.message, tuple(turn.calls), turn.usage, turn.finish_reason)

    async def prepared(
        self, step: int, decision: ThinkingDecision, forced: bool
    ) -> AsyncGenerator[Event | ModelRequest, None]:
        """The step's request fitted to the window (when the run keeps a budget): compaction's
        events, if it compacted (`forced`: whether or not the prompt seems to fit), then the
        request."""
        request = ModelRequest(
            list(self.messages),
            self.toolbox.specs(),
            decision,
            self.sampling(decision.think),
            memo=self.memo,
            output_schema=self.output.schema if self.output is not None else None,
        )
        fitted: list[ModelRequest] = []
        if self.budget is not None:
            async with contextlib.aclosing(_keeping(self.fit(step, request, forced=forced), fitted)) as inner:
                async for event in inner:
                    yield event
        yield fitted[-1] if fitted else request  # fit gives none when the window is not known

    def observe(self, turn: Turn) -> None:
        """Let the budget learn from a turn's size what a token is (when the run keeps one)."""
        if self.budget is not None:
            output = turn.message.raw or turn.message.content + (turn.message.reasoning or "")
            self.budget.observe(turn.context_tokens, len(output))

    async def model_turn(
        self, step: int, request: ModelRequest, calls: _Calls
    ) -> AsyncGenerator[Event | Turn, None]:
        """Stream one model call: deltas and retries as events, calls started as they come,
        and each call's result as soon as it is ready, while the model may still write (so
        that a run stopped then keeps it)."""
        items = _Race(_bounded(self.backend.stream(request), self.deadline))
        try:
            while True:
                running = calls.unreported()
                try:
                    item = await items.next(running)
                except StopAsyncIteration:
                    break
                if running:
                    for event in calls.finished_now():
                        yield event
                out = self.read(step, item, calls)
                if out is not None:
                    yield out
                if isinstance(out, Turn):
                    return
        finally:
            await items.aclose()
        raise RuntimeError(f"backend {self.backend!r} ended a stream without a Turn")

    def read(self, step: int, item: Any, calls: _Calls) -> Event | Turn | None:
        """What one item of the model's stream means for the run (None: nothing yet)."""
        if isinstance(item, ContentDelta):
            return TextDelta(step, item.text)
        if isinstance(item, ReasoningDelta):
            return ThinkingDelta(step, item.text)
        if isinstance(item, ToolCallReady):
            return calls.start(item.call)  # runs while the model goes on writing
        if isinstance(item, Retrying):
            if item.restart:
                calls.restart()
            return ModelRetry(step, item.attempt, item.wait, item.reason, item.restart, item.kept)
        if isinstance(item, Turn):
            return item
        return None  # _NOTHING (calls finished first), or ToolCallInvalid: answered after the turn

    async def fit(
        self, step: int, request: ModelRequest, *, forced: bool
    ) -> AsyncGenerator[Event | ModelRequest, None]:
        """Compact history if the request would not fit the window; yield the request to
        send, with the output tokens the window leaves."""
        budget = self.budget
        assert budget is not None
        window = await budget.resolve_window(self.backend)
        if window is None:
            return
        room = budget.room(window)
        size, exact = await budget.measure(self.backend, request, room)
        if size > room or forced:
            target = round(room * budget.policy.compact_to)
            done = plan_compaction(
                self.messages, size, min(target, size // 2) if forced else target, budget.chars_per_token
            )
            # Worth it when it gets the prompt under the room, or when the step would not fit
            # without it; a nibble that leaves it over the room would only break the cache.
            tight = window - size < MIN_OUTPUT_TOKENS
            if done is not None and (forced or tight or done.after <= room):
                apply_changes(self.messages, done.changes)
                request = dataclasses.replace(request, messages=list(self.messages))
                size, exact = await budget.measure(self.backend, request, room)
                done.after = size
                changes = tuple(dataclasses.asdict(c) for c in done.changes)
                yield Compacted(step, done.before, size, done.results, done.thoughts, changes)
        left = window - size - (0 if exact else max(32, size // 33))
        if left < min(MIN_OUTPUT_TOKENS, budget.policy.reserve_for(window)):
            if exact or budget.calibrated:
                raise _Stop("context_full")
            return  # a rough guess only: the server will say (and a context-length 400 compacts)
        cap = request.sampling.max_tokens
        yield dataclasses.replace(request, max_tokens=min(left, cap) if cap else left)

    def guard(self, turn: Turn, calls: _Calls) -> StopReason | None:
        """The stop reason when the model is stuck: repeating itself, or unreadable."""
        if turn.calls and all(isinstance(c, ToolCallError) for c in turn.calls):
            self.malformed += 1
        else:
            self.malformed = 0
        limit = self.limits.max_malformed
        if limit is not None and self.malformed >= limit:
            return "malformed_output"
        self.repeats = calls.streaks
        limit = self.limits.max_repeats
        if limit is not None and any(count > limit + 1 for _, count in self.repeats.values()):
            return "repetition"
        return None


def _key(call: ToolCall) -> tuple[str, str]:
    return call.name, json.dumps(call.arguments, sort_keys=True, ensure_ascii=False)


_REPEATED = " with these same arguments "
"""In the correction that answers a call repeated too often (see `_Calls._repetition`)."""


def _streak(last: tuple[str, int] | None, answer: str) -> tuple[str, int]:
    """A call's run of steps with the same result, after one more answer: (the result, how
    many steps in a row). A correction continues the run it answered."""
    if last is not None and (
        answer == last[0] or (answer.startswith("Error: you called") and _REPEATED in answer)
    ):
        return last[0], last[1] + 1
    return answer, 1


def _streaks_after(steps: Sequence[StepRecord]) -> dict[tuple[str, str], tuple[str, int]]:
    """The runs of repeated calls as they stood after these steps (a resumed run's)."""
    streaks: dict[tuple[str, str], tuple[str, int]] = {}
    for record in steps:
        answers = {r.tool_call_id: r.content for r in record.tool_results}
        streaks = {
            _key(c): _streak(streaks.get(_key(c)), answers.get(c.id, "")) for c in record.message.tool_calls
        }
    return streaks


def interrupted_answer(call: ToolCall) -> ToolMessage:
    """The answer to a call that started but never finished (its run was stopped)."""
    return ToolMessage(
        f"Error: this call to {call.name} was interrupted: the run was stopped while it ran, so it "
        "may or may not have taken effect. Check its effect before you call it again.",
        call.id,
        call.name,
        is_error=True,
    )


class _Calls:
    """The tool calls of one step: started as they come, answered in call order.

    Outcomes of earlier attempts at this step (calls running when a broken stream was
    retried, calls recorded before a run was resumed) answer the same calls asked again.
    """

    def __init__(self, run: _Run, step: int, earlier: Iterable[tuple[ToolCall, ToolMessage | None]]) -> None:
        self.run = run
        self.step = step
        self.pending: dict[str, asyncio.Future[tuple[ToolMessage, float]]] = {}
        self.started: dict[str, ToolCall] = {}
        self.answered: dict[str, ToolMessage] = {}
        self.progress: asyncio.Queue[ToolProgress | ToolApproval] = asyncio.Queue()
        self.spare: dict[tuple[str, str], list[tuple[str, _Outcome]]] = {}
        self.by_id: dict[str, tuple[str, _Outcome]] = {}
        self.streaks: dict[tuple[str, str], tuple[str, int]] = {}
        for call, result in earlier:
            kept = (call.id, result if result is not None else interrupted_answer(call))
            self.by_id[call.id] = kept
            self.spare.setdefault(_key(call), []).append(kept)

    def start(self, call: ToolCall) -> ToolCallStarted | None:
        """Start running a call now (None if it already started)."""
        if call.id in self.pending:
            return None
        key = _key(call)
        kept = self._take(call, key)
        repeated = self._repetition(call, key) if kept is None else None
        if kept is not None:
            self.pending[call.id] = asyncio.ensure_future(_answer_as(call, kept[1]))
        elif repeated is not None:
            self.pending[call.id] = asyncio.ensure_future(_answer_as(call, repeated))
        else:
            context = ToolContext(
                step=self.step,
                deps=self.run.deps,
                scope=self.run.scope,
                on_progress=self._report,
                on_approval=self.progress.put_nowait,
            )
            self.pending[call.id] = asyncio.ensure_future(_timed(self.run.toolbox.run(call, context)))
        self.started[call.id] = call
        return ToolCallStarted(self.step, call, kept[0] if kept is not None else None)

    def _take(self, call: ToolCall, key: tuple[str, str]) -> tuple[str, _Outcome] | None:
        kept = self.by_id.pop(call.id, None)
        if kept is not None:
            self.spare[key] = [k for k in self.spare.get(key, []) if k[0] != call.id]
            return kept
        waiting = self.spare.get(key)
        if not waiting:
            return None
        kept = waiting.pop(0)
        self.by_id.pop(kept[0], None)
        return kept

    def _repetition(self, call: ToolCall, key: tuple[str, str]) -> ToolMessage | None:
        """A correction instead of running a call repeated too often with the same result."""
        limit = self.run.limits.max_repeats
        last = self.run.repeats.get(key)
        if limit is None or last is None or last[1] < limit:
            return None
        return ToolMessage(
            f"Error: you called {call.name}{_REPEATED}{last[1]} times in a row and got "
            f"the same result each time:\n{last[0]}\nDo not call it again with these arguments: use "
            "this result, change the arguments, or take another approach.",
            call.id,
            call.name,
            is_error=True,
        )

    def start_rest(self, calls: Sequence[ToolCall | ToolCallError]) -> list[ToolCallStarted]:
        """Start the calls the backend did not announce while streaming."""
        out = []
        for call in calls:
            if isinstance(call, ToolCall):
                started = self.start(call)
                if started is not None:
                    out.append(started)
        return out

    def restart(self) -> None:
        """The model's turn starts over: calls started so far wait to answer the same
        calls asked again (and are stopped at the end of the step if none asks)."""
        for call_id, future in self.pending.items():
            call = self.started[call_id]
            self.spare.setdefault(_key(call), []).append((call_id, future))
        self.pending = {}
        self.started = {}

    def _report(self, context: ToolContext, done: float, total: float | None, message: str | None) -> None:
        event = ToolProgress(self.step, context.call_id, context.tool_name, done, total, message)
        self.progress.put_nowait(event)

    async def finish(self, calls: Sequence[ToolCall | ToolCallError]) -> AsyncGenerator[Event, None]:
        """Each answer as soon as it is ready (unreadable calls first), and progress and what
        the run hears meanwhile."""
        for answered in self.answer_unreadable(calls):
            yield answered
        by_future: dict[asyncio.Future[Any], ToolCall] = {
            self.pending[c.id]: c
            for c in calls
            if not isinstance(c, ToolCallError) and c.id not in self.answered  # else answered already
        }
        waiting: set[asyncio.Future[Any]] = set(by_future)
        if not waiting:  # all answered while the model wrote: nothing to wait or listen for
            return
        report = asyncio.ensure_future(self.progress.get())
        heard = self.run.heard
        noted: asyncio.Future[Event] = asyncio.ensure_future(heard.get()) if heard else _never()
        try:
            while waiting:
                done, _ = await asyncio.wait(
                    {*waiting, report, noted},
                    timeout=self.run.deadline.left(),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if not done:
                    raise asyncio.TimeoutError
                if noted in done and heard is not None:
                    self.run.relayed = noted.result()
                    yield self.run.relayed
                    noted = asyncio.ensure_future(heard.get())
                if report in done:
                    yield report.result()
                    report = asyncio.ensure_future(self.progress.get())
                for event in self.reported():  # sent just before a call ended: before its end
                    yield event
                if done & waiting:
                    for noticed in _drain(heard):  # heard just before a call ended: likewise
                        self.run.relayed = noticed
                        yield noticed
                for future in done & waiting:
                    waiting.discard(future)
                    yield self.answer(by_future[future], future)
        finally:
            report.cancel()
            noted.cancel()

    def reported(self) -> list[ToolProgress | ToolApproval]:
        """The progress reports and approvals queued and not yet passed on."""
        out = []
        while not self.progress.empty():
            out.append(self.progress.get_nowait())
        return out

    def unreported(self) -> list[asyncio.Future[tuple[ToolMessage, float]]]:
        """The calls started and not yet answered."""
        return [f for call_id, f in self.pending.items() if call_id not in self.answered]

    def finished_now(self) -> list[Event]:
        """The calls that have finished while the model writes, answered: the progress they
        reported first, then each one's end (nothing when none has finished)."""
        finished = self.report_done()
        return [*self.reported(), *finished] if finished else []

    def report_done(self) -> list[ToolCallFinished]:
        """Answer the calls that have finished (while the model is still writing)."""
        return [
            self.answer(self.started[call_id], future)
            for call_id, future in self.pending.items()
            if call_id not in self.answered and future.done() and not future.cancelled()
        ]

    def answer(self, call: ToolCall, done: asyncio.Future[tuple[ToolMessage, float]]) -> ToolCallFinished:
        """A finished call's result, taken as its answer."""
        answer, took = done.result()
        self.answered[call.id] = answer
        self._count(call, answer)
        return ToolCallFinished(self.step, call, answer, took)

    def answer_unreadable(self, calls: Sequence[ToolCall | ToolCallError]) -> list[ToolCallFinished]:
        """The calls that could not be read, answered with what was wrong with them."""
        out = []
        for call in calls:
            if isinstance(call, ToolCallError):
                self.answered[call.id] = answer = Toolbox.answer_unreadable(call)
                out.append(ToolCallFinished(self.step, call, answer, 0.0))
        return out

    def _count(self, call: ToolCall, answer: ToolMessage) -> None:
        """Track calls repeated step after step with the same result."""
        key = _key(call)
        self.streaks[key] = _streak(self.run.repeats.get(key), answer.content)

    def answers(self, calls: Sequence[ToolCall | ToolCallError]) -> list[ToolMessage]:
        return [self.answered[call.id] for call in calls]

    async def aclose(self) -> None:
        """Stop the calls still running (the step ended without them) and let them clean up."""
        running = [f for f in self.pending.values() if not f.done()]
        running += [k for waiting in self.spare.values() for _, k in waiting if isinstance(k, asyncio.Future)]
        for future in running:
            future.cancel()
        if running:
            await asyncio.wait(running, timeout=self.run.cancel_grace)


_Kept = TypeVar("_Kept", Turn, ModelRequest)


async def _keeping(
    items: AsyncGenerator[Event | _Kept, None], kept: list[_Kept]
) -> AsyncGenerator[Event, None]:
    """The events of `items` passed on, and what else it gives (a `Turn`, a `ModelRequest`:
    its result) put in `kept` instead."""
    async with contextlib.aclosing(items) as inner:
        async for item in inner:
            if isinstance(item, (Turn, ModelRequest)):
                kept.append(item)
            else:
                yield item


_NOTHING: Any = object()
"""What `_Race.next` gives when a tool call finished before the model's next item."""


class _Race:
    """A model's stream read while tool calls run: each next item raced against the calls, so
    that a call's result is passed on as soon as it is ready, while the model still writes."""

    def __init__(self, stream: AsyncIterator[Any]) -> None:
        self.stream = stream
        self.upcoming: asyncio.Future[Any] | None = None

    async def next(self, running: Sequence[asyncio.Future[Any]]) -> Any:
        """The stream's next item, or `_NOTHING` when one of the `running` calls finished first
        (the item is awaited further next time). Raises `StopAsyncIteration` at the end."""
        if not running and self.upcoming is None:
            return await self.stream.__anext__()
        self.upcoming = self.upcoming or asyncio.ensure_future(self.stream.__anext__())
        await asyncio.wait({self.upcoming, *running}, return_when=asyncio.FIRST_COMPLETED)
        if not self.upcoming.done():
            return _NOTHING
        arrived, self.upcoming = self.upcoming, None
        return arrived.result()

    async def aclose(self) -> None:
        if self.upcoming is not None:
            self.upcoming.cancel()
            await asyncio.wait({self.upcoming})
        await _close(self.stream)


async def _answer_as(call: ToolCall, outcome: _Outcome) -> tuple[ToolMessage, float]:
    """An earlier outcome as the answer to `call` (its id and name)."""
    if isinstance(outcome, ToolMessage):
        return dataclasses.replace(outcome, tool_call_id=call.id, name=call.name), 0.0
    answer, took = await outcome
    return dataclasses.replace(answer, tool_call_id=call.id, name=call.name), took


async def _timed(call: Awaitable[ToolMessage]) -> tuple[ToolMessage, float]:
    started = time.monotonic()
    result = await call
    return result, time.monotonic() - started


def _never() -> asyncio.Future[Any]:
    """A future that never completes (cancelled when no longer waited for)."""
    return asyncio.get_running_loop().create_future()


def _drain(queue: asyncio.Queue[Event] | None) -> list[Event]:
    """What the queue holds now, taken from it (none without a queue)."""
    out = []
    while queue is not None and not queue.empty():
        out.append(queue.get_nowait())
    return out


def _bounded(stream: AsyncIterator[Any], deadline: _Deadline) -> AsyncIterator[Any]:
    """The stream's items, raising `asyncio.TimeoutError` when the deadline passes (the
    stream itself when there is no deadline: no layer to pass each item through)."""
    return stream if deadline.at is None else _until(stream, deadline)


async def _until(stream: AsyncIterator[Any], deadline: _Deadline) -> AsyncGenerator[Any, None]:
    iterator = stream.__aiter__()
    try:
        while True:
            try:
                item = await asyncio.wait_for(iterator.__anext__(), deadline.left())
            except StopAsyncIteration:
                return
            yield item
    finally:
        await _close(iterator)


async def _close(stream: AsyncIterator[Any]) -> None:
    """Close an async generator now, in this task; left to the garbage collector, its
    closing costs a wake-up of the event loop from outside and a task of its own."""
    closing = getattr(stream, "aclose", None)
    if closing is not None:
        await closing()


async def collect_result(events: AsyncIterator[Event]) -> RunResult:
    """Consume a run's events; return its result."""
    result: RunResult | None = None
    async for event in events:
        if isinstance(event, RunFinished):
            result = event.result
    if result is None:
        raise RuntimeError("the run ended without a result")
    return result
