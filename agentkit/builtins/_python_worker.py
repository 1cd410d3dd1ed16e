"""The worker process of `run_python`: runs the model's code cell by cell, like a notebook kernel.

Standard library only, and it never imports agentkit: `python.py` reads this file's text and
starts it as `python -I -u -c <bootstrap> <this source> <limits source> <setup JSON>`, so it
runs in the sandbox whatever folders are bound there (a source checkout on PYTHONPATH or a
user's site-packages in the home directory are not). The bootstrap compiles it as
`WORKER_FILE`, so tracebacks can leave its frames out; the code of call N is compiled as
"<cell N>". Kept ASCII: it travels as a command-line argument.

Requests (JSON lines) come in on stdin; replies (JSON lines) go out on the descriptor the setup
names. After each call the worker writes the call's marker to its stdout.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import json
import linecache
import os
import resource
import signal
import sys
import traceback
import types
from typing import Any

WORKER_FILE = "<agentkit python worker>"
CO_COROUTINE = 0x80
in_cell = False
event_loop: Any = None


class CPUTimeLimitExceeded(Exception):
    """The call used up its CPU seconds."""


def main() -> None:
    """Apply the limits (source in argv[2], setup JSON in argv[3]), then answer requests."""
    limits: dict[str, Any] = {}
    exec(compile(sys.argv[2], WORKER_FILE, "exec"), limits)
    setup = json.loads(sys.argv[3])
    sys.argv = [""]
    me = os.getpid()
    worker_module = sys.modules["__main__"]
    requests = os.fdopen(os.dup(0), "rb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.set_inheritable(setup["reply_fd"], False)
    replies = os.fdopen(setup["reply_fd"], "wb")
    done = os.dup(1)

    def reply(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message).encode() + b"\n")
        replies.flush()

    try:
        processes = limits["apply_limits"](setup)
        limits["die_with_parent"](setup["parent"])
        if setup["parent"] is not None:  # no sandbox, whose PID namespace would end them all:
            # orphans of the code (a daemon's double fork) stay in the worker's tree, killed with it
            import ctypes

            ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except Exception as exc:
        reply({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(encoding="utf-8", errors="backslashreplace")  # type: ignore[union-attr]
    signal.signal(signal.SIGXCPU, on_cpu_limit)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    sys.path.insert(0, os.getcwd())
    user_module = types.ModuleType("__main__")
    user_module.__builtins__ = builtins  # type: ignore[attr-defined]
    sys.modules["__main__"] = user_module
    reply({"ready": True, "processes": processes})
    for number, line in enumerate(requests, 1):
        request = json.loads(line)
        result = run_cell(request["code"], user_module.__dict__, number, setup)
        if os.getpid() != me:  # a process the code forked got here: it must not answer
            os._exit(0)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.write(done, request["marker"].encode())
        reply(result)
    del worker_module


def on_cpu_limit(signum: int, frame: types.FrameType | None) -> None:
    if in_cell:
        raise CPUTimeLimitExceeded("the call used up its CPU time")


def run_cell(code: str, namespace: dict[str, Any], number: int, setup: dict[str, Any]) -> dict[str, Any]:
    global in_cell
    filename = f"<cell {number}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    try:
        tree = ast.parse(code, filename)
        last = None
        end = tree.body[-1] if tree.body else None
        if isinstance(end, ast.Expr):
            tree.body.pop()
            last = compile(ast.Expression(end.value), filename, "eval", flags, True)
        body = compile(tree, filename, "exec", flags, True)
    except Exception as exc:
        return {"error": "".join(traceback.format_exception_only(type(exc), exc))}
    limit = setup["max_output"]
    start_cpu_budget(setup["cpu_seconds"])
    in_cell = True
    try:
        run(body, namespace)
        value = None if last is None else run(last, namespace)
        shown = None if value is None else shorten(repr(value), limit)
        in_cell = False
        return {"value": shown}
    except BaseException as exc:
        in_cell = False
        return {
            "error": shorten(format_error(exc, setup["frames"]), limit),
            "memory": isinstance(exc, MemoryError),
            "cpu": isinstance(exc, CPUTimeLimitExceeded),
        }
    finally:
        in_cell = False
        end_cpu_budget()


def run(code: types.CodeType, namespace: dict[str, Any]) -> Any:
    global event_loop
    result = eval(code, namespace)
    if code.co_flags & CO_COROUTINE:  # top-level await
        if event_loop is None:
            import asyncio

            event_loop = asyncio.new_event_loop()
        result = event_loop.run_until_complete(result)
    return result


def start_cpu_budget(seconds: int | None) -> None:
    if seconds:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        soft = int(usage.ru_utime + usage.ru_stime) + 1 + seconds
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def end_cpu_budget() -> None:
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))


def format_error(exc: BaseException, frames: int) -> str:
    """The traceback from the first frame of the cell on, the worker's frames left out."""
    if isinstance(exc, SystemExit):
        return "".join(traceback.format_exception_only(type(exc), exc))
    tb = exc.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<cell "):
        tb = tb.tb_next
    report = traceback.TracebackException(type(exc), exc, tb, compact=True)
    trim(report, frames, set())
    return "".join(report.format())


def trim(report: traceback.TracebackException | None, frames: int, seen: set[int]) -> None:
    if report is None or id(report) in seen:
        return
    seen.add(id(report))
    kept = [frame for frame in report.stack if frame.filename != WORKER_FILE][-frames:]
    report.stack = traceback.StackSummary.from_list(kept)
    for other in (report.__cause__, report.__context__, *(getattr(report, "exceptions", None) or ())):
        trim(other, frames, seen)


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half:,} characters left out ...]\n{text[-half:]}"


if __name__ == "__main__":
    main()
