"""Run transcripts on disk, listing runs, and reading a run back to resume it.

Every run appends to one JSON-lines file in the runs directory as it goes. The first line
holds the run's configuration (secrets removed) and the messages it started from; then one
line per durable event: each step's thinking decision, the model's finished turn (its exact
text included), each tool call as it starts and as it finishes (the whole output kept in
`full_content` even when the model saw a cut version), retries, compactions, and how the run
ended. Streamed deltas are not written: a finished turn is one record. Lines are flushed as
they are written, so a killed run (`kill -9` included) loses only the step in progress, and
`load_run` rebuilds the conversation and the state `run_loop` needs to take the run up again.

A chat (`agentkit chat`, `ChatSession`) is one run of many user turns: its first turn is an
ordinary run's records; each later turn opens with a `user_turn` line (the user's message)
and then the records of its steps. Replay appends each turn's message in order, so it rebuilds
the whole conversation; the state to take up is the last turn's.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from agentkit._plain import as_plain
from agentkit.backends.base import Turn
from agentkit.context import Change, apply_changes
from agentkit.defaults import RUNS_DIR_ENV
from agentkit.errors import ConfigError
from agentkit.events import (
    Event,
    ServerStarting,
    StepFinished,
    TextDelta,
    ThinkingDelta,
    ToolProgress,
    event_to_dict,
)
from agentkit.messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolCallError,
    ToolMessage,
    Usage,
    UserMessage,
)
from agentkit.result import Resume, StepRecord, stop_reason_of
from agentkit.thinking import ThinkingDecision

__all__ = [
    "RUNS_DIR_ENV",
    "RunInfo",
    "SavedRun",
    "TranscriptWriter",
    "default_runs_dir",
    "find_run",
    "list_runs",
    "load_run",
    "read_head",
    "read_transcript",
    "writer_alive",
]

FORMAT = 2

_PASSING = (ServerStarting, ThinkingDelta, TextDelta, ToolProgress)
"""What a transcript leaves out: a server's start is kept as its `ServerStatus`, text as the
finished turn, and progress is not needed to resume or to read a run. Every other event is
kept."""


def default_runs_dir() -> Path:
    """`$AGENTKIT_RUNS_DIR`, else the user's data directory (`~/.local/share/agentkit/runs`
    on Linux, `~/Library/Application Support/agentkit/runs` on macOS, `%LOCALAPPDATA%`
    on Windows)."""
    configured = os.environ.get(RUNS_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs  # on first use: `agentkit --help` does not need it

    return platformdirs.user_data_path("agentkit", appauthor=False) / "runs"


def _dumps(record: Mapping[str, Any]) -> bytes:
    line = json.dumps(record, ensure_ascii=False, default=str)
    try:
        return (line + "\n").encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (a tool's odd bytes): keep them as \\u escapes
        return (json.dumps(record, ensure_ascii=True, default=str) + "\n").encode("ascii")


def message_to_dict(message: Message) -> dict[str, Any]:
    """A message as a transcript keeps it: every field, `raw` included."""
    return {"role": message.role, **as_plain(message)}


def message_from_dict(data: Mapping[str, Any]) -> Message:
    role = data.get("role")
    if role == "assistant":
        return AssistantMessage(
            data.get("content") or "",
            data.get("reasoning"),
            [_call(c) for c in data.get("tool_calls") or ()],
            data.get("raw"),
        )
    if role == "tool":
        return ToolMessage(
            data.get("content") or "",
            data.get("tool_call_id") or "",
            data.get("name") or "",
            bool(data.get("is_error")),
            data.get("full_content"),
        )
    if role == "system":
        return SystemMessage(data.get("content") or "")
    return UserMessage(data.get("content") or "")


def _call(data: Mapping[str, Any]) -> ToolCall:
    return ToolCall(
        data.get("name") or "", dict(data.get("arguments") or {}), data.get("id") or "", data.get("raw")
    )


def _call_or_error(data: Mapping[str, Any]) -> ToolCall | ToolCallError:
    if data.get("kind") == "invalid":
        return ToolCallError(
            data.get("raw") or "", data.get("error") or "", data.get("name"), data.get("id") or ""
        )
    return _call(data)


def _record(event: Event, totals: Usage, steps: int) -> dict[str, Any] | None:
    """The transcript line of an event (None: not kept)."""
    if isinstance(event, _PASSING):
        return None
    if isinstance(event, StepFinished):  # the turn itself is in its turn_finished line
        return {
            "type": event.type,
            "step": event.step,
            "usage": as_plain(event.usage),
            "finish_reason": event.finish_reason,
            "duration": round(event.duration, 3),
            "steps_done": steps,
            "tokens": totals.prompt_tokens + totals.completion_tokens,
        }
    return event_to_dict(event)


class TranscriptWriter:
    """Appends a run's records to `<directory>/<start time>-<run id>.jsonl`.

    Args:
        directory: The runs directory.
        run_id: The run's id.
        path: An existing transcript to append to (a resumed run), instead of a new file.
    """

    def __init__(self, directory: str | Path, run_id: str, *, path: Path | None = None) -> None:
        if path is None:
            folder = Path(directory)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{run_id}.jsonl"
        self.path = path
        self._file: IO[bytes] | None = path.open("ab")
        self._usage = Usage()
        self._steps = 0

    def begin(self, run_id: str, task: str, messages: Iterable[Message], config: Mapping[str, Any]) -> None:
        """The first line: what the run is and what it started from."""
        self._put(
            {
                "type": "run",
                "format": FORMAT,
                "run_id": run_id,
                "task": task,
                "started": time.time(),
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "config": dict(config),
                "messages": [message_to_dict(m) for m in messages],
            }
        )

    def user_turn(self, message: Message) -> None:
        """A chat's next user message: the records after it are that turn's (which process
        wrote it is kept, to tell a live chat from a killed one)."""
        self._put(
            {
                "type": "user_turn",
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "message": message_to_dict(message),
            }
        )

    def thinking_set(self, name: str) -> None:
        """A chat's thinking policy changed between turns ("on", "off", "auto"): a resumed chat
        goes on with it."""
        self._put({"type": "thinking_set", "thinking": name})

    def resumed(self) -> None:
        """A line saying which process took the run up again."""
        self._put({"type": "run_resumed", "pid": os.getpid(), "host": socket.gethostname()})

    def write(self, event: Event) -> None:
        if isinstance(event, StepFinished):
            self._usage += event.usage
            self._steps += 1
        record = _record(event, self._usage, self._steps)
        if record is not None:
            self._put(record)

    def interrupted(self, reason: str) -> None:
        """The run was stopped from outside (Ctrl-C, SIGTERM, a cancelled task)."""
        self._put({"type": "run_interrupted", "reason": reason})

    def count_from(self, steps: int, usage: Usage) -> None:
        """Start the running totals where a resumed run stands."""
        self._steps, self._usage = steps, usage

    def _put(self, record: Mapping[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(_dumps({"time": round(time.time(), 3), **record}))
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_transcript(path: str | Path) -> list[dict[str, Any]]:
    """The records of a transcript (a torn last line, from a killed run, is skipped)."""
    with Path(path).open("rb") as file:
        return _records(file)


def _records(lines: Iterable[bytes]) -> list[dict[str, Any]]:
    """The JSON records of transcript lines, a torn one (a killed run's last) skipped."""
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


_ENDS = {"run_finished", "run_failed", "run_interrupted"}


@dataclass(frozen=True)
class RunInfo:
    """One run, as `list_runs` sees it.

    Attributes:
        path: Its transcript.
        run_id: Its id.
        task: The task it was given.
        started: When it started (seconds since the epoch).
        status: "running", "answer", a stop reason ("max_steps", "error", "interrupted",
            ...), or "killed" (its process ended without a last word).
        steps: Steps finished.
        tokens: Prompt and completion tokens so far.
        last: When its latest record was written (seconds since the epoch; 0 when unknown).
    """

    path: Path
    run_id: str
    task: str
    started: float
    status: str
    steps: int
    tokens: int
    last: float = 0.0


def _tail(path: Path, size: int = 1 << 16) -> list[dict[str, Any]]:
    with path.open("rb") as file:
        file.seek(0, os.SEEK_END)
        end = file.tell()
        file.seek(max(0, end - size))
        lines = file.read().splitlines()
    if end > size:
        lines = lines[1:]  # the first may be cut
    return _records(lines)


def read_head(path: Path) -> dict[str, Any]:
    """A transcript's first record (the run's task, configuration and start), or {} when the
    file does not start with one."""
    with path.open("rb") as file:
        line = file.readline()
    try:
        record = json.loads(line)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _alive(pid: Any, host: Any) -> bool:
    """Whether the process that wrote a run still runs (this process does not count: it is
    the one reading the run)."""
    if not isinstance(pid, int) or host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def writer_alive(records: Iterable[Mapping[str, Any]]) -> int | None:
    """The pid of another live process that last took up this run (its first line, a
    resume, or a chat's turn), if there is one: it may still write to the transcript."""
    owner: Mapping[str, Any] = {}
    for record in records:
        if record.get("type") in ("run", "run_resumed", "user_turn"):
            owner = record
    pid = owner.get("pid")
    return pid if isinstance(pid, int) and _alive(pid, owner.get("host")) else None


def run_info(path: Path) -> RunInfo:
    """What `agentkit runs list` shows of one transcript (reads its first and last lines)."""
    head = read_head(path)
    tail = _tail(path)
    status = "killed"
    owner = head
    steps = tokens = 0
    last = 0.0
    for record in tail:
        if isinstance(record.get("time"), (int, float)):
            last = max(last, float(record["time"]))
        kind = record.get("type")
        if kind == "step_finished":
            steps, tokens = record.get("steps_done", steps), record.get("tokens", tokens)
        elif kind == "run_finished":
            status = stop_reason_of(record.get("stop_reason") or "answer")
            steps = record.get("steps", steps)
            usage = record.get("usage") or {}
            tokens = (usage.get("prompt_tokens") or 0) + (usage.get("completion_tokens") or 0)
        elif kind == "run_failed":
            status = "error"
        elif kind == "run_interrupted":
            status = "interrupted"
        elif kind in ("run_resumed", "user_turn"):
            status, owner = "killed", record
    if status == "killed" and _alive(owner.get("pid"), owner.get("host")):
        status = "running"
    return RunInfo(
        path,
        head.get("run_id") or path.stem.rsplit("-", 1)[-1],
        head.get("task") or "",
        float(head.get("started") or path.stat().st_mtime),
        status,
        int(steps),
        int(tokens),
        last,
    )


def list_runs(directory: str | Path | None = None) -> list[RunInfo]:
    """The runs in a directory (default: `default_runs_dir()`), oldest first."""
    folder = Path(directory) if directory is not None else default_runs_dir()
    paths = [p for p in folder.glob("*.jsonl") if read_head(p).get("type") == "run"]  # transcripts only
    return sorted((run_info(p) for p in paths), key=lambda r: (r.started, r.run_id))


def unreadable_files(directory: str | Path | None = None) -> list[Path]:
    """The `*.jsonl` files of a runs directory that `list_runs` leaves out because their first
    line is not a JSON object (cut short, binary, not a transcript at all), so that a listing
    can say so instead of losing a run silently. Empty files (a run just starting) are not."""
    folder = Path(directory) if directory is not None else default_runs_dir()
    found = []
    for path in sorted(folder.glob("*.jsonl")):
        try:
            with path.open("rb") as file:
                line = file.readline()
        except OSError:  # removed while listed
            continue
        try:
            readable = not line or isinstance(json.loads(line), dict)
        except ValueError:
            readable = False
        if not readable:
            found.append(path)
    return found


def runs_tagged(name: str, directory: str | Path | None = None) -> list[tuple[RunInfo, Any]]:
    """The runs whose first line's config holds `name`, with its value, oldest first (a
    batch finds the runs of its tasks this way)."""
    folder = Path(directory) if directory is not None else default_runs_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("*.jsonl"):
        head = read_head(path)
        config = head.get("config")
        if head.get("type") == "run" and isinstance(config, dict) and name in config:
            found.append((run_info(path), config[name]))
    return sorted(found, key=lambda item: (item[0].started, item[0].run_id))


def find_run(run_id: str, directory: str | Path | None = None) -> Path:
    """The transcript of a run, by its id or a unique start of it.

    Raises:
        ConfigError: No run, or several, match.
    """
    folder = Path(directory) if directory is not None else default_runs_dir()
    wanted = run_id.strip()
    if not wanted:
        raise ConfigError("give a run id; `agentkit runs list` shows them")
    paths = list(folder.glob("*.jsonl")) if folder.is_dir() else []
    exact = [p for p in paths if p.stem.endswith("-" + wanted) or p.stem == wanted]
    if len(exact) == 1:
        return exact[0]
    matches = exact or [p for p in paths if p.stem.rsplit("-", 1)[-1].startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ConfigError(
            f"no run {wanted!r} in {folder}; `agentkit runs list` shows the runs there "
            f"(--runs-dir or ${RUNS_DIR_ENV} picks another directory)"
        )
    names = ", ".join(sorted(p.stem.rsplit("-", 1)[-1] for p in matches)[:5])
    raise ConfigError(f"{len(matches)} runs start with {wanted!r} ({names}); give more of the id")


@dataclass
class SavedRun:
    """A run read back from its transcript.

    Attributes:
        path: The transcript.
        run_id: The run's id.
        task: Its task.
        config: Its configuration, as recorded on the first line.
        messages: The conversation as it stood after the last finished step (compactions
            applied), ready to go on from.
        resume: The state `run_loop` takes the run up from (a chat's: its last turn's).
        status: As `RunInfo.status`.
        turns: The user turns it holds (1 but for a chat).
    """

    path: Path
    run_id: str
    task: str
    config: dict[str, Any]
    messages: list[Message]
    resume: Resume
    status: str
    records: list[dict[str, Any]] = field(default_factory=list, repr=False)
    turns: int = 1


def load_run(path: str | Path) -> SavedRun:
    """Read a transcript back: its conversation and where the run stands.

    Raises:
        ConfigError: The file is not an agentkit transcript this version can resume.
    """
    file = Path(path)
    records = read_transcript(file)
    head = records[0] if records else {}
    if head.get("type") != "run" or head.get("format") != FORMAT:
        raise ConfigError(
            f"{file} is not a transcript this version of agentkit can resume "
            "(it was written by another version, or is not a transcript)"
        )
    messages = [message_from_dict(m) for m in head.get("messages") or ()]
    state = _Replay(messages)
    for record in records[1:]:
        state.read(record)
    return SavedRun(
        file,
        str(head.get("run_id")),
        str(head.get("task") or ""),
        dict(head.get("config") or {}),
        messages,
        state.resume(),
        run_info(file).status,
        records,
        state.turns,
    )


class _Replay:
    """Rebuilds a run's state from its records, in order."""

    def __init__(self, messages: list[Message]) -> None:
        self.messages = messages
        self.steps: list[StepRecord] = []
        self.usage = Usage()
        self.turns = 1
        self._clear()

    def _clear(self) -> None:
        self.decision: ThinkingDecision | None = None
        self.turn: Turn | None = None
        self.started: dict[str, ToolCall] = {}
        self.finished: dict[str, ToolMessage] = {}

    def read(self, record: dict[str, Any]) -> None:
        kind = record.get("type")
        if kind == "user_turn":  # a chat's next turn: a step left unfinished before it is dropped
            self._clear()
            self.messages.append(message_from_dict({"role": "user", **(record.get("message") or {})}))
            self.steps, self.usage = [], Usage()
            self.turns += 1
        elif kind == "compacted":
            changes = [Change(c["index"], c["kind"], c.get("text", "")) for c in record.get("changes") or ()]
            apply_changes(self.messages, changes)
        elif kind == "step_started":
            self._clear()
            d = record.get("decision") or {}
            self.decision = ThinkingDecision(bool(d.get("think")), d.get("budget"), d.get("reason") or "")
        elif kind == "turn_finished":
            message = message_from_dict({"role": "assistant", **(record.get("message") or {})})
            assert isinstance(message, AssistantMessage)
            calls = [_call_or_error(c) for c in record.get("calls") or ()]
            usage = Usage(**(record.get("usage") or {}))
            self.turn = Turn(message, calls, usage, record.get("finish_reason"))
        elif kind == "tool_call_started":
            call = _call(record.get("call") or {})
            reused = record.get("reused")
            if reused and reused != call.id:
                self.started.pop(reused, None)  # its outcome now answers this call
            self.started[call.id] = call
        elif kind == "tool_call_finished":
            call_data = record.get("call") or {}
            result = record.get("result") or {}
            self.finished[call_data.get("id") or ""] = message_from_dict({"role": "tool", **result})  # type: ignore[assignment]
        elif kind == "step_finished" and self.turn is not None:
            self._finish_step(record)
        elif kind == "output_rejected":
            self.messages.append(UserMessage(str(record.get("reply") or "")))

    def _finish_step(self, record: dict[str, Any]) -> None:
        assert self.turn is not None
        turn = self.turn
        results = [self.finished[c.id] for c in turn.calls if c.id in self.finished]
        self.messages.append(turn.message)
        self.messages.extend(results)
        self.usage += turn.usage
        self.steps.append(
            StepRecord(
                int(record.get("step") or len(self.steps) + 1),
                self.decision or ThinkingDecision(True),
                turn.message,
                results,
                turn.usage,
                turn.finish_reason,
                float(record.get("duration") or 0.0),
            )
        )
        self._clear()

    def resume(self) -> Resume:
        started = [(call, self.finished.get(call_id)) for call_id, call in self.started.items()]
        return Resume(self.steps, self.usage, self.decision, self.turn, started)
