"""An MCP server with task tools (the Tasks extension, `io.modelcontextprotocol/tasks`) and a
tool that logs while it works.

Its task tools answer `tools/call` with a task handle (`resultType: "task"`) when the client
declares the extension, and refuse (-32021) when it does not; `tasks/get` reports each task's
status and, at the end, its result or error; `tasks/cancel` stops one.

    python mcp_tasks_server.py                     # stdio
    python mcp_tasks_server.py --http --port N     # streamable HTTP at http://127.0.0.1:N/mcp
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.server import require_client_extension
from mcp_types import CallToolRequestParams, RequestParams

TASKS = "io.modelcontextprotocol/tasks"
POLL_MS = 100


class TaskParams(RequestParams):
    task_id: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class _Task:
    task_id: str
    status: str = "working"
    message: str | None = None
    created: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    runner: asyncio.Task[None] | None = None

    def set(self, status: str, message: str | None) -> None:
        self.status, self.message, self.updated = status, message, _now()

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "taskId": self.task_id,
            "status": self.status,
            "createdAt": self.created,
            "lastUpdatedAt": self.updated,
            "ttlMs": None,
            "pollIntervalMs": POLL_MS,
        }
        if self.message is not None:
            out["statusMessage"] = self.message
        if self.result is not None:
            out["result"] = self.result
        if self.error is not None:
            out["error"] = self.error
        return out


Job = Callable[[_Task, dict[str, Any]], Awaitable[dict[str, Any]]]


async def long_job(task: _Task, arguments: dict[str, Any]) -> dict[str, Any]:
    steps = int(arguments.get("steps", 3))
    for step in range(1, steps + 1):
        task.set("working", f"step {step} of {steps}")
        await asyncio.sleep(float(arguments.get("seconds", 1.5)) / steps)
    text = f"done after {steps} steps"
    return {
        "content": [{"type": "text", "text": text}],
        "structuredContent": {"result": text},
        "isError": False,
    }


async def failing_job(task: _Task, arguments: dict[str, Any]) -> dict[str, Any]:
    task.set("working", "about to fail")
    await asyncio.sleep(0.2)
    raise RuntimeError("the disk is full")


async def endless_job(task: _Task, arguments: dict[str, Any]) -> dict[str, Any]:
    side = Path(arguments["path"])
    side.write_text("started")
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        side.write_text("cancelled")
        raise
    return {"content": [], "isError": False}


JOBS: dict[str, Job] = {"long_job": long_job, "failing_job": failing_job, "endless_job": endless_job}


class TasksServer(Extension):
    """The receiver's side of the Tasks extension, for the tools in `JOBS`."""

    identifier = TASKS

    def __init__(self) -> None:
        self.tasks: dict[str, _Task] = {}
        self.ids = itertools.count(1)

    def methods(self) -> Sequence[MethodBinding]:
        return [
            MethodBinding("tasks/get", TaskParams, self.get),
            MethodBinding("tasks/cancel", TaskParams, self.cancel),
        ]

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        job = JOBS.get(params.name)
        if job is None:
            return await call_next(ctx)
        require_client_extension(ctx, TASKS)
        task = _Task(f"task-{next(self.ids)}")
        self.tasks[task.task_id] = task
        task.runner = asyncio.ensure_future(self._run(task, job, dict(params.arguments or {})))
        return {"resultType": "task", **task.wire()}

    async def _run(self, task: _Task, job: Job, arguments: dict[str, Any]) -> None:
        try:
            result = await job(task, arguments)
        except asyncio.CancelledError:
            task.set("cancelled", "cancelled by the client")
            return
        except Exception as exc:
            task.error = {"code": -32603, "message": str(exc)}
            task.set("failed", str(exc))
            return
        task.result = result
        task.set("completed", "finished")

    async def get(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> HandlerResult:
        return {"resultType": "complete", **self._task(params).wire()}

    async def cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> HandlerResult:
        task = self._task(params)
        if task.runner is not None and not task.runner.done():
            task.runner.cancel()
            await asyncio.wait({task.runner}, timeout=5)
        return {"resultType": "complete"}

    def _task(self, params: TaskParams) -> _Task:
        from mcp.shared.exceptions import MCPError

        task = self.tasks.get(params.task_id)
        if task is None:
            raise MCPError(code=-32602, message=f"no task {params.task_id!r}")
        return task


server = MCPServer("tasks", extensions=[TasksServer()], log_level="DEBUG")


@server.tool(name="long_job")
async def _long(seconds: float = 1.5, steps: int = 3) -> str:
    """Works for `seconds` in `steps` steps, as a task."""
    return "not as a task"


@server.tool(name="failing_job")
async def _failing() -> str:
    """Fails after a moment, as a task."""
    return "not as a task"


@server.tool(name="endless_job")
async def _endless(path: str) -> str:
    """Works until cancelled, as a task; writes "started", then "cancelled", to `path`."""
    return "not as a task"


@server.tool()
async def noisy(ctx: Context, seconds: float = 1.5) -> str:
    """Logs, works for `seconds`, logs again."""
    await ctx.info("starting the work")
    await anyio.sleep(seconds)
    await ctx.info("finished the work")
    return "worked"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.port)
    else:
        server.run()
