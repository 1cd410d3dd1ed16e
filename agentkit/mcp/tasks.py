"""Tool calls that a server runs as tasks (the MCP Tasks extension, `io.modelcontextprotocol/tasks`).

On protocol 2026-07-28 tasks are an extension: the client declares it, and the server decides
per call whether to answer `tools/call` with a task handle (`resultType: "task"`) instead of the
result. agentkit declares it on every connection and follows a handle to its end: it polls
`tasks/get` at the server's `pollIntervalMs`, reports each status message as progress, and
returns the result the finished task carries (a failed task's error, a cancelled task's
reason, as errors). The whole call stays within the server's `tool_timeout`; a call that
runs out of it, or whose run is cancelled, is cancelled on the server with `tasks/cancel`.

The SDK's client resolves such results through an extension's claim (`ResultClaim`), in the
task that made the call; `follow_calls` passes that task's progress callback and deadline to
the claim.

On protocol 2025-11-25 tasks are core protocol and the client asks for them: a tool whose
`execution.taskSupport` is "required" is called with a `task` param (`call_as_task`), its
task polled with `tasks/get` and its result fetched with `tasks/result`, under the same
budget and cancellation. A tool for which a task is "optional" is called plainly.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from agentkit.defaults import DEFAULT_MCP_TASK_POLL, DEFAULT_TOOL_TIMEOUT, MCP_TASK_POLL_FLOOR

__all__ = [
    "TASKS_EXTENSION",
    "TaskCallError",
    "call_as_task",
    "follow_calls",
    "needs_task",
    "tasks_extension",
]

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
"""The Tasks extension's identifier, declared in the client's capabilities."""

CANCEL_WAIT = 5.0
"""Seconds to wait for a server to acknowledge `tasks/cancel` (it is sent once, best effort)."""

_TERMINAL = frozenset({"completed", "failed", "cancelled"})

Progress = Callable[[float, "float | None", "str | None"], Awaitable[None]]


class TaskCallError(Exception):
    """A task ended without a result: it failed, was cancelled by the server, or ran out of time.

    Attributes:
        task_id: The server's id for the task.
        timed_out: It was still running when the call's time ran out (and was cancelled).
    """

    def __init__(self, message: str, task_id: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.timed_out = timed_out


@dataclass(frozen=True)
class _Call:
    progress: Progress | None
    deadline: float
    poll_timeout: float


_current: ContextVar[_Call | None] = ContextVar("agentkit_mcp_task_call", default=None)


@asynccontextmanager
async def follow_calls(
    progress: Progress | None, timeout: float, *, poll_timeout: float
) -> AsyncIterator[None]:
    """Within this block, a tool call of this task that the server turns into a task is
    followed with `progress` told of its status, and given up after `timeout` seconds.

    Args:
        progress: Told of each status message.
        timeout: Seconds the whole call may take, from now.
        poll_timeout: Seconds one `tasks/get` may take.
    """
    token = _current.set(_Call(progress, time.monotonic() + timeout, poll_timeout))
    try:
        yield
    finally:
        _current.reset(token)


def tasks_extension() -> Any:
    """The client extension that declares Tasks support and follows task handles."""
    from mcp.client.extension import ClientExtension, ResultClaim

    class _Tasks(ClientExtension):
        identifier = TASKS_EXTENSION

        def claims(self) -> list[ResultClaim[Any]]:
            return [ResultClaim(result_type="task", model=_handle_model(), resolve=_resolve)]

    return _Tasks()


@functools.cache
def _handle_model() -> Any:
    """The `CreateTaskResult` of the extension: a task's state, tagged `resultType: "task"`."""
    from mcp_types import Result

    class CreateTaskResult(Result):
        result_type: Literal["task"] = "task"
        task_id: str
        status: str
        status_message: str | None = None
        poll_interval_ms: int | None = None

    return CreateTaskResult


@functools.cache
def _request_model() -> Any:
    """A request about one task (`tasks/get`, `tasks/cancel`): its params are the task's id."""
    from mcp_types import Request, RequestParams

    class TaskParams(RequestParams):
        task_id: str

    class TaskRequest(Request[TaskParams, str]):
        pass

    return TaskRequest, TaskParams


async def _resolve(handle: Any, context: Any) -> Any:
    """Follow a task to its end; its `CallToolResult`."""
    call = _current.get()
    if call is None:  # a call made outside `follow_calls`: the SDK's own timeout bounds it
        timeout = context.read_timeout_seconds or DEFAULT_TOOL_TIMEOUT
        call = _Call(None, time.monotonic() + timeout, timeout)
    return await _Follower(context.session, context.tool_name, handle.task_id, call).follow(handle)


def needs_task(protocol_version: str | None, tool: Any) -> bool:
    """Whether a call of `tool` must ask for a task: on a 2025-11-25 connection, when the tool's
    `execution.taskSupport` is "required". An "optional" tool is called plainly (its progress
    notifications stream as a plain call's do, within the same timeout, with no polling); on
    2026-07-28 the server decides, and a task handle it answers with is followed all the same."""
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    if protocol_version is None or protocol_version in MODERN_PROTOCOL_VERSIONS:
        return False
    execution = getattr(tool, "execution", None)
    return getattr(execution, "task_support", None) == "required"


async def call_as_task(
    session: Any,
    name: str,
    arguments: dict[str, Any],
    *,
    progress: Progress | None,
    timeout: float,
    poll_timeout: float,
) -> Any:
    """Call a tool as a task on a 2025-11-25 connection (where tasks are core protocol and
    the client asks for one): `tools/call` with a `task` param answers a `CreateTaskResult`;
    the task is polled with `tasks/get` and its result fetched with `tasks/result`.

    The SDK validates a 2025-11-25 `tools/call` answer as a `CallToolResult`, so this one
    request goes through the session's raw request sending.

    Raises:
        TaskCallError: The task failed, was cancelled by the server, or ran out of `timeout`
            (it is cancelled on the server then, and when the caller is cancelled).
        MCPError: The server refused the call.
    """
    call = _Call(progress, time.monotonic() + timeout, poll_timeout)
    data: dict[str, Any] = {
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments, "task": {"ttl": int(timeout * 1000)}},
    }
    opts: dict[str, Any] = {}
    session._stamp(data, opts)  # the protocol version header, as the SDK's own requests have
    opts["timeout"] = min(timeout, poll_timeout)
    if progress is not None:
        opts["on_progress"] = progress
    created = await session._dispatcher.send_raw_request("tools/call", data["params"], opts)
    task = created.get("task")
    if not isinstance(task, dict) or not isinstance(task.get("taskId"), str):
        from mcp_types import CallToolResult

        return CallToolResult.model_validate(created, by_name=False)  # it answered without a task
    return await _Follower(session, name, task["taskId"], call, legacy=True).follow_state(task)


class _Follower:
    def __init__(self, session: Any, tool: str, task_id: str, call: _Call, *, legacy: bool = False) -> None:
        self.session = session
        self.tool = tool
        self.task_id = task_id
        self.call = call
        self.legacy = legacy  # 2025-11-25: the result is fetched with tasks/result
        self.updates = 0
        self.shown: tuple[str, str | None] | None = None

    async def follow(self, handle: Any) -> Any:
        return await self.follow_state(handle.model_dump(by_alias=True, mode="json"))

    async def follow_state(self, state: dict[str, Any]) -> Any:
        try:
            while True:
                await self._report(state)
                status = state.get("status")
                if status in _TERMINAL:
                    return await self._outcome(state)
                left = self.call.deadline - time.monotonic()
                if left <= 0:
                    await self._cancel()
                    raise TaskCallError(
                        f"task {self.task_id} ({self.tool}) did not finish in time and was cancelled",
                        self.task_id,
                        timed_out=True,
                    )
                await asyncio.sleep(min(self._interval(state), left))
                state = await self._get(min(self.call.poll_timeout, max(left, MCP_TASK_POLL_FLOOR)))
        except asyncio.CancelledError:
            await asyncio.shield(self._cancel())
            raise

    def _interval(self, state: dict[str, Any]) -> float:
        suggested = state.get("pollInterval" if self.legacy else "pollIntervalMs")
        seconds = suggested / 1000 if isinstance(suggested, (int, float)) else DEFAULT_MCP_TASK_POLL
        return max(seconds, MCP_TASK_POLL_FLOOR)

    async def _get(self, timeout: float) -> dict[str, Any]:
        return await self._send("tasks/get", timeout)

    async def _send(self, method: str, timeout: float) -> dict[str, Any]:
        from pydantic import TypeAdapter

        TaskRequest, TaskParams = _request_model()
        request = TaskRequest(method=method, params=TaskParams(task_id=self.task_id))
        result: dict[str, Any] = await self.session.send_request(
            request, TypeAdapter(dict[str, Any]), request_read_timeout_seconds=timeout
        )
        return result

    async def _cancel(self) -> None:
        with contextlib.suppress(Exception):
            await self._send("tasks/cancel", CANCEL_WAIT)

    async def _report(self, state: dict[str, Any]) -> None:
        status = str(state.get("status"))
        message = state.get("statusMessage")
        shown = (status, message if isinstance(message, str) else None)
        if self.call.progress is None or shown == self.shown:
            return
        self.shown = shown
        self.updates += 1
        text = f"task {status}" + (f": {shown[1]}" if shown[1] else "")
        await self.call.progress(float(self.updates), None, text)

    async def _outcome(self, state: dict[str, Any]) -> Any:
        from mcp.shared.exceptions import MCPError
        from mcp_types import CallToolResult

        status = state["status"]
        if self.legacy and status in ("completed", "failed"):
            left = max(self.call.deadline - time.monotonic(), MCP_TASK_POLL_FLOOR)
            try:
                result = await self._send("tasks/result", min(left, self.call.poll_timeout))
            except MCPError as exc:
                why = f"{exc.error.message} (MCP error {exc.error.code})"
                message = f"task {self.task_id} ({self.tool}) failed: {why}"
                raise TaskCallError(message, self.task_id) from None
            return CallToolResult.model_validate(result, by_name=False)
        if status == "completed":
            return CallToolResult.model_validate(state.get("result") or {"content": []}, by_name=False)
        if status == "failed":
            error = state.get("error") or {}
            reason = error.get("message") if isinstance(error, dict) else None
            code = f" (MCP error {error['code']})" if isinstance(error, dict) and "code" in error else ""
            why = reason or state.get("statusMessage") or "no reason given"
            raise TaskCallError(f"task {self.task_id} ({self.tool}) failed: {why}{code}", self.task_id)
        why = state.get("statusMessage") or "no reason given"
        raise TaskCallError(f"the server cancelled task {self.task_id} ({self.tool}): {why}", self.task_id)
