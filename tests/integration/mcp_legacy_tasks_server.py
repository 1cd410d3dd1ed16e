"""An MCP server over stdio that speaks protocol 2025-11-25 only, with tools whose
`execution.taskSupport` is "required" or "optional" (tasks in the core protocol of that
version: `tools/call` with a `task` param answers `CreateTaskResult`, then `tasks/get`,
`tasks/result`, `tasks/cancel`).

The mcp SDK serves tasks at 2026-07-28 only (as an extension), so this server writes JSON-RPC
lines itself, as a server built on another SDK would.

    python mcp_legacy_tasks_server.py
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

VERSION = "2025-11-25"
POLL_MS = 100


def tool(
    name: str, description: str, support: str, properties: dict[str, Any], *required: str
) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": list(required)}
    return {
        "name": name,
        "description": description,
        "execution": {"taskSupport": support},
        "inputSchema": schema,
    }


TOOLS = [
    tool(
        "long_job",
        "Works in steps, as a task.",
        "required",
        {"seconds": {"type": "number"}, "steps": {"type": "integer"}},
    ),
    tool("failing_job", "Fails, as a task.", "required", {}),
    tool(
        "endless_job", "Works until cancelled, as a task.", "required", {"path": {"type": "string"}}, "path"
    ),
    tool("either", "Answers at once, as a task or not.", "optional", {}),
]


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class Task:
    def __init__(self, task_id: str) -> None:
        self.fields: dict[str, Any] = {
            "taskId": task_id, "status": "working", "createdAt": now(), "lastUpdatedAt": now(),
            "ttl": None, "pollInterval": POLL_MS,
        }  # fmt: skip
        self.result: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.done = asyncio.Event()
        self.runner: asyncio.Task[None] | None = None

    def set(self, status: str, message: str) -> None:
        self.fields.update(status=status, statusMessage=message, lastUpdatedAt=now())
        if status in ("completed", "failed", "cancelled"):
            self.done.set()


class Server:
    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}
        self.ids = itertools.count(1)

    def send(self, message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
        sys.stdout.flush()

    async def handle(self, message: dict[str, Any]) -> None:
        if "id" not in message:
            return  # notifications: initialized, cancelled
        try:
            result = await self.answer(message["method"], message.get("params") or {})
        except RpcError as exc:
            self.send({"id": message["id"], "error": {"code": exc.code, "message": str(exc)}})
        except LookupError as exc:
            self.send({"id": message["id"], "error": {"code": -32601, "message": str(exc)}})
        except ValueError as exc:
            self.send({"id": message["id"], "error": {"code": -32602, "message": str(exc)}})
        else:
            self.send({"id": message["id"], "result": result})

    async def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "initialize":
            return {
                "protocolVersion": VERSION,
                "capabilities": {"tools": {}, "tasks": {"cancel": {}, "requests": {"tools": {"call": {}}}}},
                "serverInfo": {"name": "legacy-tasks", "version": "1"},
            }
        if method == "ping":
            return {}
        if method == "tools/list":
            return {"tools": TOOLS}
        if method == "tools/call":
            return self.call(params)
        if method == "tasks/get":
            return self.task(params).fields
        if method == "tasks/result":
            task = self.task(params)
            await task.done.wait()
            if task.error is not None:
                raise RpcError(task.error["code"], task.error["message"])
            return task.result or {"content": [], "isError": True}
        if method == "tasks/cancel":
            task = self.task(params)
            if task.runner is not None and not task.runner.done():
                task.runner.cancel()
                await asyncio.wait({task.runner}, timeout=5)
            return task.fields
        raise LookupError(f"Method not found: {method}")

    def call(self, params: dict[str, Any]) -> dict[str, Any]:
        name, arguments = params["name"], params.get("arguments") or {}
        tool = next((t for t in TOOLS if t["name"] == name), None)
        if tool is None:
            raise ValueError(f"no tool {name!r}")
        if "task" not in params:
            if tool["execution"]["taskSupport"] == "required":
                raise LookupError(f"{name} must be called as a task")
            return {"content": [{"type": "text", "text": "answered plainly"}]}
        task = Task(f"legacy-{next(self.ids)}")
        self.tasks[task.fields["taskId"]] = task
        task.runner = asyncio.ensure_future(self.run(task, name, arguments))
        return {"task": dict(task.fields)}

    def task(self, params: dict[str, Any]) -> Task:
        task = self.tasks.get(params.get("taskId", ""))
        if task is None:
            raise ValueError(f"no task {params.get('taskId')!r}")
        return task

    async def run(self, task: Task, name: str, arguments: dict[str, Any]) -> None:
        try:
            if name == "long_job":
                steps = int(arguments.get("steps", 3))
                for step in range(1, steps + 1):
                    task.set("working", f"step {step} of {steps}")
                    await asyncio.sleep(float(arguments.get("seconds", 1.5)) / steps)
                text = f"done after {steps} steps"
            elif name == "failing_job":
                task.set("working", "about to fail")
                await asyncio.sleep(0.2)
                task.error = {"code": -32603, "message": "the disk is full"}
                task.set("failed", "the disk is full")
                return
            elif name == "endless_job":
                side = Path(arguments["path"])
                side.write_text("started")
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    side.write_text("cancelled")
                    raise
                text = "never"
            else:
                text = "answered as a task"
        except asyncio.CancelledError:
            task.set("cancelled", "cancelled by the client")
            return
        task.result = {"content": [{"type": "text", "text": text}], "isError": False}
        task.set("completed", "finished")


async def main() -> None:
    server = Server()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    pending: set[asyncio.Task[None]] = set()
    while line := await reader.readline():
        if line.strip():
            handling = asyncio.ensure_future(server.handle(json.loads(line)))
            pending.add(handling)
            handling.add_done_callback(pending.discard)


if __name__ == "__main__":
    asyncio.run(main())
