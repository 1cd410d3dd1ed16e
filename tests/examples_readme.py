"""The commands of examples/README.md, read from it and run as a user would run them.

Each example is a `## ` section with two bash blocks, the first line of one `# GPU` and of
the other `# offline`; a section may have more, each labelled by its first line (`# Python`,
`# Python, offline`). The tests run the offline block's lines with bash from the root of
the clone, so that the README and what is tested cannot drift apart: a line ending in `&`
is started in the background (a page server) and stopped when the example is done.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentkit.store import list_runs, read_transcript

ROOT = Path(__file__).parents[1]
README = ROOT / "examples" / "README.md"

COMMAND_TIMEOUT = 60.0
"""Seconds one README command may take (each takes a few; generous for a loaded machine)."""

STOP_TIMEOUT = 5.0
"""Seconds a background command has to end after SIGTERM."""

_BLOCK = re.compile(r"```bash\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class Example:
    """One section of examples/README.md: its commands for a GPU box and for offline, and
    those of its other labelled blocks (by label without the `# `)."""

    heading: str
    gpu: list[str]
    offline: list[str]
    blocks: dict[str, list[str]] = field(default_factory=dict)


def _commands(block: str) -> list[str]:
    """The commands of a bash block: continuation lines joined, comments and blanks left out."""
    joined = block.replace("\\\n", " ")
    return [
        line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def examples() -> dict[str, Example]:
    """The README's examples that have commands, by heading."""
    found: dict[str, Example] = {}
    for section in README.read_text(encoding="utf-8").split("\n## ")[1:]:
        heading = section.splitlines()[0].strip()
        blocks: dict[str, list[str]] = {}
        for block in _BLOCK.findall(section):
            label = block.splitlines()[0].strip() if block.strip() else ""
            if label.startswith("# "):
                blocks[label[2:]] = _commands(block)
        if blocks:
            found[heading] = Example(heading, blocks.get("GPU", []), blocks.get("offline", []), blocks)
    return found


def agentkit_args(command: str) -> list[str]:
    """The arguments after `agentkit` in a command (environment assignments before it skipped)."""
    words = shlex.split(command)
    return words[words.index("agentkit") + 1 :]


@dataclass
class Ran:
    """What running an example's offline commands gave."""

    stdout: str
    stderr: str
    transcripts: list[list[dict[str, Any]]]
    background_output: list[str] = field(default_factory=list)

    @property
    def transcript(self) -> list[dict[str, Any]]:
        """The transcript of the one run the commands made."""
        assert len(self.transcripts) == 1, f"expected one run's transcript, found {len(self.transcripts)}"
        return self.transcripts[0]

    def results(self, name: str) -> list[tuple[dict[str, Any], str]]:
        """(arguments, result text) of each finished call of the tool `name`, in order."""
        return tool_results(self.transcript, name)


def tool_results(transcript: list[dict[str, Any]], name: str) -> list[tuple[dict[str, Any], str]]:
    """(arguments, result text) of each finished call of the tool `name` in a run, in order."""
    found = []
    for record in transcript:
        if record.get("type") == "tool_call_finished" and record["call"]["name"] == name:
            result = record["result"]
            assert not result["is_error"], f"{name} failed: {result['content']}"
            found.append((record["call"]["arguments"], result["full_content"] or result["content"]))
    return found


def environment(tmp_path: Path) -> dict[str, str]:
    """The environment of a user who installed agentkit: its scripts on PATH, this clone's
    code importable, and the runs and temporary files kept under `tmp_path`."""
    runs, tmp = tmp_path / "runs", tmp_path / "tmp"
    runs.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["AGENTKIT_RUNS_DIR"] = str(runs)
    env["TMPDIR"] = str(tmp)
    return env


@contextmanager
def _background(commands: list[str], env: dict[str, str], logs: Path, cwd: Path) -> Iterator[list[Path]]:
    """Start `commands` (each in its own process group) and stop them on the way out."""
    started: list[subprocess.Popen[bytes]] = []
    outputs: list[Path] = []
    try:
        for i, command in enumerate(commands):
            output = logs / f"background-{i}.log"
            outputs.append(output)
            with output.open("wb") as sink:
                started.append(
                    subprocess.Popen(
                        ["bash", "-c", command],
                        cwd=cwd,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        yield outputs
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_TIMEOUT)


def run_offline(
    example: Example,
    tmp_path: Path,
    ready: Callable[[], None] | None = None,
    *,
    block: str = "offline",
    runs: int | None = 1,
    cwd: Path = ROOT,
) -> Ran:
    """Run the example's offline commands as written, from the root of the clone.

    Args:
        example: The README's example.
        tmp_path: Where the runs directory and temporary files go.
        ready: Called once the background commands are started; returns when they serve.
        block: The label of the block to run (without `# `).
        runs: How many runs' transcripts the commands must leave (None: any number).
        cwd: Where the commands run: the root of the clone, or a folder that links to its
            parts, so that what a command writes in the current folder lands elsewhere.
    """
    env = environment(tmp_path)
    commands = example.blocks.get(block, [])
    background = [command[:-1].strip() for command in commands if command.endswith("&")]
    foreground = [command for command in commands if not command.endswith("&")]
    assert foreground, f"{example.heading}: the {block} block has no command to run"
    with _background(background, env, tmp_path, cwd) as outputs:
        if ready is not None:
            ready()
        for command in foreground:
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
            )
            assert done.returncode == 0, f"{command}\nexited {done.returncode}:\n{done.stderr}"
    made = list_runs(env["AGENTKIT_RUNS_DIR"])
    assert runs is None or len(made) == runs, f"expected {runs} runs' transcripts, found {len(made)}"
    return Ran(
        done.stdout,
        done.stderr,
        [read_transcript(run.path) for run in made],
        [path.read_text(errors="replace") for path in outputs],
    )


def script_answer(example: Example) -> str:
    """The final turn of the example's script: the answer the offline run prints."""
    args = agentkit_args(example.offline[-1])
    script = ROOT / args[args.index("--script") + 1]
    turns = json.loads(script.read_text(encoding="utf-8"))
    last = turns[-1]
    return str(last if isinstance(last, str) else last["content"])


_NUMBER = re.compile(r"\d[\d,.]*\d|\d")


def figures(text: str) -> list[str]:
    """The numbers written in `text`, as written ("41,260", "3.75", "62")."""
    return _NUMBER.findall(text)


def states(text: str, figure: str) -> bool:
    """Whether `text` holds the number `figure` as a whole number (62 is not in 1962 or 6.25)."""
    return re.search(rf"(?<![\d,.]){re.escape(figure)}(?![\d]|[,.]\d)", text) is not None
