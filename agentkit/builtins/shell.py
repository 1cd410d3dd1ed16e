"""A shell command in the run's workspace: off unless enabled, asks for approval by default.

The command runs under `bash -c` with the workspace as working directory and a small
environment (no secrets of agentkit's own). In the sandbox (`agentkit.sandbox`) it sees only
the workspace (writable) and the system's programs (read-only), has no network unless allowed,
and runs under process limits (memory, file size, processes); nothing it starts outlives the
call. Without the sandbox it runs in its own process group, which is killed at the end. Output
beyond the cap is dropped while reading (head and tail kept), so a command that prints
gigabytes costs no memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from agentkit.builtins._limits import LAUNCHER_SOURCE, NOBODY, give_back, host_tasks, python_first_path
from agentkit.builtins._output import CappedOutput
from agentkit.defaults import TOOL_TIMEOUT_BACKSTOP
from agentkit.sandbox import bwrap_command
from agentkit.tools.tool import ToolContext, tool

__all__ = [
    "DEFAULT_SHELL_TIMEOUT",
    "MAX_SHELL_OUTPUT",
    "SANDBOXED_SHELL_FILE_SIZE",
    "SANDBOXED_SHELL_MEMORY",
    "SANDBOXED_SHELL_PROCESSES",
    "SHELL_TOOLS",
    "run_shell",
]

DEFAULT_SHELL_TIMEOUT = 60.0
"""Seconds a command may run before its process group is killed."""

MAX_SHELL_OUTPUT = 100_000
"""Characters of output kept (half from the start, half from the end)."""

SANDBOXED_SHELL_MEMORY = 4 << 30
"""Bytes of address space per process of a sandboxed command (RLIMIT_AS): 4 GiB, room for
compilers and runtimes that reserve large address ranges."""

SANDBOXED_SHELL_PROCESSES = 256
"""Processes and threads a sandboxed command may run at once (RLIMIT_NPROC): a build's
parallel jobs fit, a fork bomb does not."""

SANDBOXED_SHELL_FILE_SIZE = 1 << 30
"""Bytes one file written by a sandboxed command may reach (RLIMIT_FSIZE)."""


@tool(approval="ask", timeout=DEFAULT_SHELL_TIMEOUT + TOOL_TIMEOUT_BACKSTOP)
async def run_shell(command: str, ctx: ToolContext, timeout: float = DEFAULT_SHELL_TIMEOUT) -> str:
    """Run a bash command in the workspace and show its exit code and output (stdout and stderr).

    Args:
        command: The command line, e.g. "ls -la" or "python3 script.py".
        timeout: Seconds before the command is stopped (at most 60).
    """
    timeout = max(1.0, min(timeout, DEFAULT_SHELL_TIMEOUT))
    workspace = ctx.scope.workspace
    policy = ctx.scope.sandbox
    sandboxed = await asyncio.to_thread(policy.sandboxed, ctx.tool_name or "run_shell")
    env = {
        "PATH": python_first_path(),
        "HOME": str(workspace),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "TERM": "dumb",
    }
    argv = ["bash", "-c", command]
    if sandboxed:
        env["TMPDIR"] = "/tmp"
        limits = [
            SANDBOXED_SHELL_MEMORY, SANDBOXED_SHELL_FILE_SIZE, SANDBOXED_SHELL_PROCESSES,
            host_tasks(NOBODY) if os.geteuid() == 0 else 0, 1,  # 1: root leaves for nobody
        ]  # fmt: skip
        if os.geteuid() == 0:  # what it makes as nobody goes back to the workspace's owner at the run's end
            ctx.scope.resource("shell:give-back", lambda: _GiveBack(workspace))
        network = policy.network_for(ctx.tool_name or "run_shell")
        argv = [
            *bwrap_command(workspace, network=network),
            # -S: the launcher needs the standard library only, and starts three times faster
            sys.executable, "-I", "-S", "-c", LAUNCHER_SOURCE, ",".join(map(str, limits)), *argv,
        ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=workspace, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    output = CappedOutput(MAX_SHELL_OUTPUT)

    async def pump() -> None:
        assert process.stdout is not None
        while chunk := await process.stdout.read(65536):
            output.add(chunk)

    try:
        await asyncio.wait_for(asyncio.gather(pump(), process.wait()), timeout)
    except asyncio.TimeoutError:
        _kill(process.pid)
        with contextlib.suppress(asyncio.TimeoutError):  # a process outside the group may hold the pipe
            await asyncio.wait_for(process.wait(), _REAP_WAIT)
        return f"killed: the command ran longer than {timeout:g} s\n{output.text()}".rstrip()
    finally:
        if process.returncode is None:  # cancelled from outside
            _kill(process.pid)
    _kill(process.pid)  # background children it left behind
    return f"exit code {process.returncode}\n{output.text()}".rstrip()


class _GiveBack:
    """Closed with the run: gives the workspace's files made as nobody back to its owner."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace

    async def aclose(self) -> None:
        await asyncio.to_thread(give_back, self.workspace)


def _kill(group: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


run_shell.runs_code = True
_REAP_WAIT = 2.0  # seconds for a killed command to be reaped

SHELL_TOOLS = [run_shell]
