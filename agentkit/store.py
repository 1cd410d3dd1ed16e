"""Run transcripts on disk: one JSON line per event, appended as the run goes.

A killed run loses nothing that had finished: every event is flushed as it is written. Tool
results keep their whole text here (`full_content`) even when the model saw a cut version.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from agentkit.events import Event, event_to_dict

__all__ = ["DEFAULT_TRANSCRIPT_DIR", "TranscriptInfo", "TranscriptWriter", "list_runs", "read_transcript"]

DEFAULT_TRANSCRIPT_DIR = Path(".agentkit") / "runs"
"""Where `agentkit run` keeps transcripts (relative to the working directory)."""


class TranscriptWriter:
    """Appends a run's events to `<directory>/<time>-<run id>.jsonl`."""

    def __init__(self, directory: str | Path, run_id: str) -> None:
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{run_id}.jsonl"
        self._file: IO[str] | None = self.path.open("a", encoding="utf-8")

    def write(self, event: Event) -> None:
        if self._file is None:
            return
        record = {"time": round(time.time(), 3), **event_to_dict(event)}
        self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass(frozen=True)
class TranscriptInfo:
    """One transcript, as `list_runs` sees it."""

    path: Path
    run_id: str
    task: str
    stop_reason: str | None
    events: int


def read_transcript(path: str | Path) -> list[dict[str, Any]]:
    """The events of a transcript (a torn last line, from a killed run, is skipped)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def list_runs(directory: str | Path = DEFAULT_TRANSCRIPT_DIR) -> list[TranscriptInfo]:
    """The transcripts in a directory, oldest first."""
    runs = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        records = read_transcript(path)
        started = next((r for r in records if r.get("type") == "run_started"), {})
        finished = next((r for r in records if r.get("type") == "run_finished"), {})
        runs.append(
            TranscriptInfo(
                path,
                started.get("run_id", ""),
                started.get("task", ""),
                finished.get("stop_reason"),
                len(records),
            )
        )
    return runs
