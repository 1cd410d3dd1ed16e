"""`run_python`: Python code in a persistent worker process per run, like a notebook kernel.

Each run gets one worker, `_python_worker.py` run as `python -I -u -c <bootstrap> <its source>`,
started in its own session with the workspace as working directory and a small environment.
Requests (JSON lines) go in on its stdin; replies (JSON lines) come back on a pipe of their
own, so nothing the code prints can corrupt them. What the code and its subprocesses write to
stdout and stderr arrives on one pipe; the worker ends each call's output with a random
marker, and the parent keeps only the head and tail of it.

The worker limits itself before it runs any code: address space, file size, CPU seconds per
call (a soft `RLIMIT_CPU` raised before each call, whose signal becomes an exception) and
processes (`RLIMIT_NPROC`). Linux never applies `RLIMIT_NPROC` to root, so a worker started
by root switches to the user `nobody`, keeping only the file capabilities it needs to use the
workspace, and checks with a test fork that the limit holds; if it cannot, it refuses to start.
The parent enforces the wall-clock limit: it freezes the worker's process tree (SIGSTOP, top
down), kills it, and the next call starts a fresh worker. Linux only (procfs, prctl).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from agentkit._text import cut_middle, limit_size
from agentkit.builtins._limits import LIMITS_SOURCE, NOBODY, give_back, host_tasks, python_first_path
from agentkit.builtins._output import CappedOutput
from agentkit.sandbox import SandboxPolicy, bwrap_command
from agentkit.tools.tool import FunctionTool, ToolContext, ToolError, tool

__all__ = [
    "DEFAULT_CPU_SECONDS",
    "DEFAULT_MAX_FILE_SIZE",
    "DEFAULT_MAX_OUTPUT",
    "DEFAULT_MAX_PROCESSES",
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_PYTHON_TIMEOUT",
    "OUTPUT_GRACE",
    "PYTHON_TOOLS",
    "WORKER_START_TIMEOUT",
    "PythonLimits",
    "make_python_tool",
    "run_python",
]

DEFAULT_PYTHON_TIMEOUT = 30.0
"""Wall-clock seconds one call may run before the worker is killed (its variables are lost)."""

DEFAULT_MEMORY_LIMIT = 1 << 30
"""Bytes of address space per process (RLIMIT_AS): 1 GiB; bigger allocations raise MemoryError."""

DEFAULT_CPU_SECONDS = 30
"""CPU seconds one call may use (all threads of the worker together); the call then fails."""

DEFAULT_MAX_PROCESSES = 64
"""Processes and threads the code may start besides the worker itself (RLIMIT_NPROC)."""

DEFAULT_MAX_OUTPUT = 100_000
"""Characters of output kept per call (half from the start, half from the end)."""

DEFAULT_MAX_FILE_SIZE = 256 << 20
"""Bytes one file written by the code may reach (RLIMIT_FSIZE); writing more fails with EFBIG."""

WORKER_START_TIMEOUT = 10.0
"""Seconds a fresh worker may take to start and apply its limits."""

OUTPUT_GRACE = 2.0
"""Seconds to wait for the rest of a call's output once the call is over or the worker died."""

_FREEZE_WAIT = 0.2  # seconds for SIGSTOP to take hold of one generation of the worker's tree
_REAP_WAIT = 2.0  # seconds for killed processes to die
_STOPPED = frozenset("TtZX")
_DEAD = frozenset("ZX")
_CHUNK = 65536
_REPLY_LIMIT = 64 << 20
_TRACEBACK_FRAMES = 8
_TOOL_MARGIN = 5.0
_NUMERIC_THREADS = "4"  # BLAS/OpenMP start a thread per core; threads count as processes

_DESCRIPTION = (
    "Run Python code and show its output, like a cell of a Jupyter notebook.\n\n"
    "- State persists: variables, functions and imports stay defined for later calls in this run.\n"
    "- The working directory is the workspace: files written with relative paths land there.\n"
    "- If the last line is an expression (e.g. `x` or `len(rows)`), its value is shown. "
    "Use print() to show anything else.\n"
    "- An error comes back as a Python traceback: fix the code and call again.\n"
    "- Each call may run {timeout:g} seconds{memory}. "
    "A call that runs longer is killed, and then all variables are lost.\n"
    "- There is no keyboard input: input() does not work."
)


@dataclass(frozen=True)
class PythonLimits:
    """What one Python worker may use; None turns a limit off.

    Attributes:
        timeout: Wall-clock seconds per call; then the worker is killed and its state is lost.
        memory: Bytes of address space per process.
        cpu_seconds: CPU seconds per call; then the call fails with `CPUTimeLimitExceeded`
            and the state is kept.
        max_processes: Processes and threads the code may start. Enforced by the kernel, for
            root by running the worker as `nobody`; None also keeps root as root.
        max_output: Characters of output kept per call.
        max_file_size: Bytes one written file may reach.
    """

    timeout: float = DEFAULT_PYTHON_TIMEOUT
    memory: int | None = DEFAULT_MEMORY_LIMIT
    cpu_seconds: int | None = DEFAULT_CPU_SECONDS
    max_processes: int | None = DEFAULT_MAX_PROCESSES
    max_output: int = DEFAULT_MAX_OUTPUT
    max_file_size: int | None = DEFAULT_MAX_FILE_SIZE

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError(f"PythonLimits.timeout must be positive seconds, not {self.timeout!r}")
        if self.max_output < 100:
            raise ValueError(
                f"PythonLimits.max_output must be at least 100 characters, not {self.max_output}"
            )
        for name in ("memory", "cpu_seconds", "max_processes", "max_file_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"PythonLimits.{name} must be at least 1, or None for no limit; got {value}")


# The bootstrap compiles the worker's source as "<agentkit python worker>" so that tracebacks can
# leave its frames out. The source travels as an argument, not as a path, so the worker runs in
# the sandbox whichever folders are bound there.
_BOOTSTRAP = "import sys; exec(compile(sys.argv[1], '<agentkit python worker>', 'exec'))"


@functools.cache
def _worker_source() -> str:
    """The text of `_python_worker.py`, the program each worker runs."""
    return resources.files("agentkit.builtins").joinpath("_python_worker.py").read_text("ascii")


class _Output:
    """The worker's stdout and stderr, cut into calls at the markers that end them."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._current = CappedOutput(limit)
        self._finished: CappedOutput | None = None
        self._marker = b""
        self._carry = b""
        self._done = asyncio.Event()

    def expect(self, marker: bytes) -> None:
        """A call starts; its output ends at `marker`."""
        self._marker, self._finished = marker, None
        self._done.clear()

    def feed(self, chunk: bytes) -> None:
        if not self._marker:
            self._current.add(chunk)
            return
        data = self._carry + chunk
        at = data.find(self._marker)
        if at < 0:  # keep what could be the start of a marker
            cut = max(0, len(data) - len(self._marker) + 1)
            self._current.add(data[:cut])
            self._carry = data[cut:]
            return
        self._current.add(data[:at])
        rest = data[at + len(self._marker) :]
        self._finished, self._current = self._current, CappedOutput(self._limit)
        self._marker, self._carry = b"", b""
        self._current.add(rest)  # output after the call (background processes): the next call's
        self._done.set()

    def close(self) -> None:
        self._current.add(self._carry)
        self._carry = b""
        self._done.set()

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._done.wait(), timeout)

    def take(self) -> str:
        """The call's output: up to its marker, or all so far if the marker never came."""
        if self._finished is None:
            self._current.add(self._carry)
            self._finished, self._current = self._current, CappedOutput(self._limit)
            self._marker, self._carry = b"", b""
        text = self._finished.text()
        self._finished = None
        return text


class _Worker:
    """One worker process: its request pipe (stdin), reply pipe and output pipe."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        replies: asyncio.StreamReader,
        reply_transport: asyncio.BaseTransport,
        output: _Output,
        processes: str,
        sandboxed: bool = False,
    ) -> None:
        self.process = process
        self.sandboxed = sandboxed
        self.output = output
        self.processes = processes
        self._replies = replies
        self._reply_transport = reply_transport
        assert process.stdout is not None
        self._pump = asyncio.create_task(self._read_output(process.stdout))

    @classmethod
    async def start(
        cls, workspace: Path, limits: PythonLimits, env: dict[str, str], *, sandbox: bool, network: bool
    ) -> _Worker:
        """Start a worker (in the sandbox, or not) and wait until its limits are in place.

        Raises:
            ToolError: It could not start or could not apply its limits.
        """
        setup = {
            "memory": limits.memory,
            "cpu_seconds": limits.cpu_seconds,
            "max_processes": limits.max_processes,
            "max_file_size": limits.max_file_size,
            "max_output": limits.max_output,
            "frames": _TRACEBACK_FRAMES,
            "parent": None if sandbox else os.getpid(),
            "base_tasks": host_tasks(NOBODY) if sandbox and os.geteuid() == 0 else 0,
            "leave_root": sandbox,
        }
        reply_read, reply_write = os.pipe()
        setup["reply_fd"] = reply_write
        confine = bwrap_command(workspace, network=network) if sandbox else []
        try:
            process = await asyncio.create_subprocess_exec(
                *confine, sys.executable, "-I", "-u", "-c", _BOOTSTRAP, _worker_source(), LIMITS_SOURCE,
                json.dumps(setup),
                cwd=workspace, env=env, pass_fds=(reply_write,), start_new_session=True,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        except BaseException:
            os.close(reply_read)
            raise
        finally:
            os.close(reply_write)
        loop = asyncio.get_running_loop()
        replies = asyncio.StreamReader(limit=_REPLY_LIMIT)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(replies), os.fdopen(reply_read, "rb", buffering=0)
        )
        worker = cls(process, replies, transport, _Output(limits.max_output), "", sandbox)
        try:
            ready = await asyncio.wait_for(worker._reply(), WORKER_START_TIMEOUT)
        except asyncio.TimeoutError:
            ready = {"error": f"it did not start within {WORKER_START_TIMEOUT:g} s"}
        except BaseException:
            await worker.stop()
            raise
        if ready is None or not ready.get("ready"):
            await worker.stop()
            problem = ready.get("error") if ready else f"it exited ({_exit_status(worker.status)})"
            fix = (
                " Run agentkit as an ordinary user (not root, without CAP_SYS_ADMIN or "
                "CAP_SYS_RESOURCE), or make the tool with PythonLimits(max_processes=None) to run "
                "without a process limit."
                if "process limit" in str(problem)
                else ""
            )
            said = _shorten(worker.output.take(), 2000)
            said = f"\nIt wrote:\n{said}" if said else ""
            raise ToolError(f"run_python cannot start Python: {problem}.{fix}{said}")
        worker.processes = str(ready.get("processes", ""))
        return worker

    @property
    def status(self) -> int | None:
        """The worker's exit status as `returncode` gives it (negative: killed by a signal);
        bubblewrap reports a signal as 128 + its number."""
        code = self.process.returncode
        return -(code - 128) if self.sandboxed and code is not None and code > 128 else code

    async def run(self, code: str, marker: str) -> dict[str, Any] | None:
        """Send one call and wait for its reply; None when the worker died."""
        assert self.process.stdin is not None
        self.output.expect(marker.encode())
        try:
            self.process.stdin.write(json.dumps({"code": code, "marker": marker}).encode() + b"\n")
            await self.process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return None
        return await self._reply()

    async def _reply(self) -> dict[str, Any] | None:
        line = await self._replies.readline()
        return json.loads(line) if line else None

    async def _read_output(self, stdout: asyncio.StreamReader) -> None:
        while chunk := await stdout.read(_CHUNK):
            self.output.feed(chunk)
        self.output.close()

    def kill(self) -> set[int]:
        """Kill the worker and every process it started, at once (safe in a cancelled task).

        Returns the pids that were sent SIGKILL; they die soon after, not at once.
        """
        killed = _kill_tree(self.process.pid) if self.process.returncode is None else set()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # the rest of its process group
        self._reply_transport.close()
        return killed

    async def stop(self) -> None:
        """Kill the worker's processes and wait until they are gone; collect its last output."""
        killed = self.kill()
        with contextlib.suppress(asyncio.TimeoutError):  # wait() also waits for the pipes' other ends
            await asyncio.wait_for(self.process.wait(), _REAP_WAIT)
        await _until_gone(self.process.pid, killed)
        with contextlib.suppress(asyncio.TimeoutError):  # a stray process may hold the pipe
            await asyncio.wait_for(asyncio.shield(self._pump), OUTPUT_GRACE)
        self._pump.cancel()
        self.output.close()


class _PythonSession:
    """The Python of one run: a worker, replaced by a fresh one when it dies or is killed."""

    def __init__(
        self, workspace: Path, limits: PythonLimits, env: dict[str, str], policy: SandboxPolicy, name: str
    ) -> None:
        self.workspace = workspace
        self.limits = limits
        self.env = env
        self.policy = policy
        self.name = name
        self.worker: _Worker | None = None
        self._lock = asyncio.Lock()
        self._ran_as_nobody = False

    async def run(self, code: str) -> str:
        async with self._lock:
            if self.worker is None:
                sandbox = await asyncio.to_thread(self.policy.sandboxed, self.name)
                network = self.policy.network_for(self.name)
                self.worker = await _Worker.start(
                    self.workspace, self.limits, self.env, sandbox=sandbox, network=network
                )
                self._ran_as_nobody |= self.worker.processes == "nobody"
            worker = self.worker
            try:
                return await self._call(worker, code)
            except BaseException:  # cancelled: the worker is mid-call and useless
                worker.kill()
                self.worker = None
                raise

    async def _call(self, worker: _Worker, code: str) -> str:
        limits = self.limits
        try:
            reply = await asyncio.wait_for(worker.run(code, secrets.token_hex(16)), limits.timeout)
        except asyncio.TimeoutError:
            await worker.stop()
            self.worker = None
            return _shorten(
                _join(
                    worker.output.take(),
                    f"Killed: the code ran longer than {limits.timeout:g} s. {_LOST} "
                    "Make the code faster, or split the work into smaller calls.",
                ),
                limits.max_output,
            )
        if reply is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(worker.process.wait(), OUTPUT_GRACE)
            status = worker.status
            await worker.stop()
            self.worker = None
            return _shorten(_join(worker.output.take(), _death(status)), limits.max_output)
        await worker.output.wait(OUTPUT_GRACE)
        notes = []
        if reply.get("memory"):
            notes.append(
                f"The code needed more memory than run_python allows ({limit_size(limits.memory)}). "
                "Use less, e.g. work in chunks. Variables from earlier calls are kept."
            )
        if reply.get("cpu"):
            notes.append(
                f"The code used more than {limits.cpu_seconds} s of CPU time and was stopped. "
                "Variables from earlier calls are kept."
            )
        text = _join(worker.output.take(), reply.get("value"), reply.get("error"), *notes)
        return _shorten(text, limits.max_output) or (
            "(no output: the code ran and printed nothing; use print() to show values)"
        )

    async def aclose(self) -> None:
        """Kill the worker; give files the worker made as `nobody` back to the workspace's owner."""
        async with self._lock:
            if self.worker is not None:
                worker, self.worker = self.worker, None
                await worker.stop()
            if self._ran_as_nobody:
                await asyncio.to_thread(give_back, self.workspace)


_LOST = "Variables, functions and imports from earlier calls are lost; the next call starts a fresh Python."


def _death(status: int | None) -> str:
    if status is None:
        return f"The Python process stopped answering and was killed. {_LOST}"
    if status == -signal.SIGKILL:
        return f"The Python process was killed (SIGKILL), probably for using too much memory. {_LOST}"
    if status < 0:
        return f"Python crashed ({_exit_status(status)}), perhaps out of memory inside a library. {_LOST}"
    return f"The Python process exited with code {status} (os._exit or a library ended it). {_LOST}"


def _exit_status(status: int | None) -> str:
    if status is not None and status < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-status).name}"
    return f"exit code {status}"


def _join(*parts: str | None) -> str:
    return "\n".join(part.rstrip("\n") for part in parts if part and part.strip())


def _shorten(text: str, limit: int) -> str:
    """`text` cut to its head and tail, half of `limit` each (the worker cuts values the same
    way, with ASCII dots: its source stays ASCII)."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return cut_middle(text, half, half, lambda left_out: f"\n[… {left_out:,} characters left out …]\n")


def _kill_tree(pid: int) -> set[int]:
    """SIGKILL a process and all its descendants; returns their pids.

    The tree is frozen top-down first: a stopped process cannot fork, and the pids of its
    children cannot be reused while it cannot reap them. `pid` must be an unreaped child.
    """
    stopped: set[int] = set()
    frontier = [pid]
    while frontier:
        for member in frontier:
            _signal(member, signal.SIGSTOP)
        _until_stopped(frontier)  # a fork under way when SIGSTOP came has finished by then
        stopped.update(frontier)
        table = _processes()
        frontier = [child for child, (_, parent, _) in table.items() if parent in frontier]
        frontier = [child for child in frontier if child not in stopped]
    for member in stopped:
        _signal(member, signal.SIGKILL)
    return stopped


def _until_stopped(pids: list[int]) -> None:
    deadline = time.monotonic() + _FREEZE_WAIT
    waiting = pids
    while waiting and time.monotonic() < deadline:
        table = _processes()
        waiting = [pid for pid in waiting if pid in table and table[pid][0] not in _STOPPED]
        if waiting:
            time.sleep(0.001)


async def _until_gone(group: int, pids: set[int]) -> None:
    """Wait until killed processes are dead, killing the group again meanwhile (a process
    forked while the first kill was under way)."""
    deadline = time.monotonic() + _REAP_WAIT
    while True:
        table = _processes()
        members = [pid for pid, (state, _, pgrp) in table.items() if pgrp == group and state not in _DEAD]
        if members:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        living = [pid for pid in pids if pid in table and table[pid][0] not in _DEAD]
        if not (members or living) or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.01)


def _processes() -> dict[int, tuple[str, int, int]]:
    """Every process: its state letter, parent and process group (empty without /proc)."""
    table: dict[int, tuple[str, int, int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            state, parent, group = stat[stat.rindex(b")") + 2 :].split()[:3]
            table[int(entry)] = (state.decode(), int(parent), int(group))
        except (OSError, ValueError):
            continue
    return table


def _signal(pid: int, number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, number)


def _environment(workspace: Path, extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {
        "PATH": python_first_path(),
        "HOME": str(workspace),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONIOENCODING": "utf-8",
        "OMP_NUM_THREADS": _NUMERIC_THREADS,
        "OPENBLAS_NUM_THREADS": _NUMERIC_THREADS,
        "MKL_NUM_THREADS": _NUMERIC_THREADS,
    }
    env.update(extra or {})
    return env


def make_python_tool(
    limits: PythonLimits | None = None,
    *,
    env: Mapping[str, str] | None = None,
    name: str = "run_python",
) -> FunctionTool:
    """A `run_python` tool with other limits or more environment variables.

    Args:
        limits: What the worker may use (default: `PythonLimits()`).
        env: Variables added to the worker's environment (it gets only PATH, HOME=the
            workspace, LANG, PYTHONIOENCODING and thread counts for numeric libraries).
        name: The tool's name; two Python tools of one run keep separate workers.
    """
    chosen = limits or PythonLimits()
    key = "python" if name == "run_python" else f"python:{name}"
    memory = f" and use {limit_size(chosen.memory)} of memory" if chosen.memory else ""
    description = _DESCRIPTION.format(timeout=chosen.timeout, memory=memory)

    @tool(
        name=name,
        description=description,
        approval="ask",
        timeout=chosen.timeout + WORKER_START_TIMEOUT + OUTPUT_GRACE + _TOOL_MARGIN,
    )
    async def run_python(code: str, ctx: ToolContext) -> str:
        """Run Python code in this run's Python session.

        Args:
            code: Python source to run, e.g. "import math\\nprint(math.sqrt(2))". Several lines
                are fine; the value of a last-line expression is shown.
        """
        workspace = ctx.scope.workspace
        scope = ctx.scope
        session = scope.resource(
            key, lambda: _PythonSession(workspace, chosen, _environment(workspace, env), scope.sandbox, name)
        )
        return await session.run(code)

    run_python.runs_code = True
    return run_python


run_python = make_python_tool()
PYTHON_TOOLS = [run_python]
