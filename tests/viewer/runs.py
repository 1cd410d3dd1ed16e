"""Real transcripts for the viewer's tests: runs of a real `Agent` on the scripted backend,
a batch, and a run in another process that waits for the test's word before it finishes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agentkit import Agent, Limits, tool
from agentkit.backends.scripted import ScriptedBackend
from agentkit.store import RunInfo, list_runs

TASK = "Add 2 and 40, then read the log <img src=x onerror=alert(1)>"
THINKING = "The user wants a sum.\nI will call add, then read the log."
LOG_LINES = 40


def call(name: str, arguments: str) -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {arguments}}}\n</tool_call>'


ADD_CALL = call("add", '{"a": 2, "b": 40}')
ANSWERED = [
    f"<think>\n{THINKING}\n</think>\n\nLet me add them.\n{ADD_CALL}\n"
    + call("read_log", f'{{"lines": {LOG_LINES}}}'),
    call("nope", "{}") + "\n<tool_call>\nnot json\n</tool_call>",
    "<think>\nAll done.\n</think>\n\nThe answer is **42**. <script>alert(1)</script>",
]
"""Three steps: thinking, text and two calls (one long result); an unknown tool and an
unreadable call; the answer."""


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def read_log(lines: int) -> str:
    """Read the last lines of the log."""
    return "\n".join(f"line {i}: <b>ok</b> & 'fine'" for i in range(lines))


async def answered_run(runs: Path) -> RunInfo:
    """A run that answers after three steps (see `ANSWERED`)."""
    agent = Agent(backend=ScriptedBackend(ANSWERED), tools=[add, read_log], transcripts=runs)
    result = await agent.run(TASK)
    assert result.ok
    return _run(runs, result.run_id)


async def stopped_run(runs: Path) -> RunInfo:
    """A run stopped by its step limit after one step."""
    agent = Agent(
        backend=ScriptedBackend([call("add", '{"a": 1, "b": 1}')] * 3), tools=[add], transcripts=runs
    )
    result = await agent.run("Add forever", limits=Limits(max_steps=1))
    assert result.stop_reason == "max_steps"
    return _run(runs, result.run_id)


BATCH_TASKS = {"What is 1 + 1?": ["2"], "What is 2 + 2?": ["4"], "What is 3 + 3?": ["6"]}


async def batch_runs(runs: Path, results: Path) -> list[RunInfo]:
    """A batch of three one-step tasks with a results file (its runs are tagged with it)."""
    agent = Agent(backend=ScriptedBackend(BATCH_TASKS), transcripts=runs)
    tasks = [{"id": str(n), "task": task} for n, task in enumerate(BATCH_TASKS, 1)]
    got = [r async for r in agent.batch(tasks, concurrency=2, results=results)]
    assert all(r.ok for r in got), got
    return [r for r in list_runs(runs) if r.task in BATCH_TASKS]


def _run(runs: Path, run_id: str) -> RunInfo:
    (info,) = [r for r in list_runs(runs) if r.run_id == run_id]
    return info


WAIT_TOOL = '''
import os
import time

from agentkit import tool


@tool
def wait_for_word() -> str:
    """Wait until the test says go."""
    deadline = time.monotonic() + 60
    while not os.path.exists({flag!r}):
        if time.monotonic() > deadline:
            return "no word came"
        time.sleep(0.05)
    return "the word came"
'''

LIVE_TASK = "Wait for the word, then answer"
LIVE_SCRIPT = (
    '["<think>\\nI wait.\\n</think>\\n\\n<tool_call>\\n{\\"name\\": \\"wait_for_word\\", \\"arguments\\": {}}'
    '\\n</tool_call>", "The word came, so I answer."]'
)


class LiveRun:
    """`agentkit run` in a process of its own whose one tool call waits for `go()`.

    Args:
        runs: The runs directory.
        folder: Where its tool and script files go.
    """

    def __init__(self, runs: Path, folder: Path) -> None:
        self.runs = runs
        self.flag = folder / "go"
        tools, script = folder / "wait_tool.py", folder / "wait_script.json"
        tools.write_text(WAIT_TOOL.format(flag=str(self.flag)))
        script.write_text(LIVE_SCRIPT)
        argv = ["-m", "agentkit.cli", "run", "--backend", "scripted", "--script", str(script)]
        self.proc = subprocess.Popen(
            [sys.executable, *argv, "--tools", str(tools), LIVE_TASK],
            env={**os.environ, "AGENTKIT_RUNS_DIR": str(runs), "NO_COLOR": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # Reaped as soon as it ends: a zombie still answers kill(pid, 0), so the viewer
        # would take the run for a live one (a shell reaps its children the same way).
        threading.Thread(target=self.proc.wait, daemon=True).start()

    def waiting(self, seconds: float = 30.0) -> RunInfo:
        """The run, once its call waits (bounded)."""
        wait_until(lambda: self._waiting() is not None, seconds, "the live run to start its call")
        info = self._waiting()
        assert info is not None
        return info

    def _waiting(self) -> RunInfo | None:
        for info in list_runs(self.runs):
            if info.task == LIVE_TASK and b"tool_call_started" in info.path.read_bytes():
                return info
        return None

    def go(self) -> None:
        self.flag.write_text("go")

    def finish(self, seconds: float = 30.0) -> None:
        """Say go and wait for the process to end (bounded)."""
        self.go()
        try:
            self.proc.wait(timeout=seconds)
        finally:
            self.close()
        assert self.proc.returncode == 0, self.proc.stderr.read() if self.proc.stderr else ""

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def wait_until(condition: Callable[[], object], seconds: float, what: str) -> None:
    """Poll `condition` every 50 ms until it holds; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
        time.sleep(0.05)
