"""A shell command in the run's workspace: off unless enabled, asks for approval by default.

The command runs under `bash -c` in its own process group with the workspace as working
directory and a small environment (no secrets of agentkit's own). At the time limit the
whole group is killed; output beyond the cap is dropped while reading (head and tail kept),
so a command that prints gigabytes costs no memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from agentkit.builtins._output import CappedOutput
from agentkit.tools.tool import ToolContext, tool

__all__ = ["DEFAULT_SHELL_TIMEOUT", "MAX_SHELL_OUTPUT", "SHELL_TOOLS", "run_shell"]

DEFAULT_SHELL_TIMEOUT = 60.0
"""Seconds a command may run before its process group is killed."""

MAX_SHELL_OUTPUT = 100_000
"""Characters of output kept (half from the start, half from the end)."""


@tool(approval="ask", timeout=DEFAULT_SHELL_TIMEOUT + 10)
async def run_shell(command: str, ctx: ToolContext, timeout: float = DEFAULT_SHELL_TIMEOUT) -> str:
    """Run a bash command in the workspace and show its exit code and output (stdout and stderr).

    Args:
        command: The command line, e.g. "ls -la" or "python3 script.py".
        timeout: Seconds before the command is stopped (at most 60).
    """
    timeout = max(1.0, min(timeout, DEFAULT_SHELL_TIMEOUT))
    workspace = ctx.scope.workspace
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(workspace),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "TERM": "dumb",
    }
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", command,
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
        await process.wait()
        return f"killed: the command ran longer than {timeout:g} s\n{output.text()}".rstrip()
    finally:
        if process.returncode is None:  # cancelled from outside
            _kill(process.pid)
    _kill(process.pid)  # background children it left behind
    return f"exit code {process.returncode}\n{output.text()}".rstrip()


def _kill(group: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


SHELL_TOOLS = [run_shell]
