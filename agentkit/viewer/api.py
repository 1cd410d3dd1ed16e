"""What the run viewer's page asks for, as JSON-ready data read from the runs directory.

The page gets the runs (one row each, with its batch if a batch ran it) and the batches
they form, one run's records as its transcript holds them, and the records a live run
appends after a byte offset. Nothing here writes: the viewer only reads transcripts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentkit.store import RunInfo, find_run, read_head, run_info, unreadable_files, writer_alive

__all__ = ["RunsIndex", "Tail", "read_after", "run_detail", "run_row"]

_BATCH_TAG = "batch"
"""The key of a transcript's config naming the batch that ran it (see `agentkit.batch`)."""


def run_row(info: RunInfo, head: dict[str, Any]) -> dict[str, Any]:
    """One run as the runs table shows it (`head`: its transcript's first record)."""
    found = head.get("config")
    config: dict[str, Any] = found if isinstance(found, dict) else {}
    tag = config.get(_BATCH_TAG)
    batch = tag if isinstance(tag, dict) and tag.get("results") else None
    return {
        "id": info.run_id,
        "task": info.task,
        "status": info.status,
        "started": info.started,
        "last": info.last,
        "duration": max(0.0, info.last - info.started) if info.last else None,
        "steps": info.steps,
        "tokens": info.tokens,
        "backend": config.get("backend"),
        "model": config.get("model"),
        "base_url": config.get("base_url"),
        "chat": bool(config.get("chat")),
        "batch": {"results": str(batch["results"]), "task": str(batch.get("task"))} if batch else None,
        "file": info.path.name,
    }


@dataclass
class RunsIndex:
    """The runs of a directory, read again only where a transcript changed.

    A row is kept while its file's size and modification time stay the same, except a
    running run's: its status turns to "killed" when its process dies, which no file shows.

    Args:
        directory: The runs directory.
    """

    directory: Path
    _rows: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = field(default_factory=dict, repr=False)

    def runs(self) -> dict[str, Any]:
        """`{"dir", "runs", "batches", "unreadable"}`: every run, newest first, the batches they
        form, and the names of `*.jsonl` files that are not readable transcripts."""
        rows = []
        seen = set()
        paths = self.directory.glob("*.jsonl") if self.directory.is_dir() else ()
        for path in paths:
            try:
                row = self._row(path)
            except OSError:  # removed while listed
                continue
            if row is not None:
                rows.append(row)
                seen.add(path)
        for gone in set(self._rows) - seen:
            del self._rows[gone]
        rows.sort(key=lambda r: (r["started"], r["id"]), reverse=True)
        unreadable = [p.name for p in unreadable_files(self.directory)] if self.directory.is_dir() else []
        return {"dir": str(self.directory), "runs": rows, "batches": _batches(rows), "unreadable": unreadable}

    def _row(self, path: Path) -> dict[str, Any] | None:
        stat = path.stat()
        key = (stat.st_size, stat.st_mtime_ns)
        kept = self._rows.get(path)
        if kept is not None and kept[0] == key and kept[1]["status"] != "running":
            return kept[1]
        head = read_head(path)
        if head.get("type") != "run":  # not a transcript
            return None
        row = run_row(run_info(path), head)
        self._rows[path] = (key, row)
        return row


def _batches(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The batches among the rows (newest first): each its results file, its runs by task
    id and start, and how many runs ended each way."""
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["batch"] is not None:
            found.setdefault(row["batch"]["results"], []).append(row)
    batches = []
    for results, runs in found.items():
        runs = sorted(runs, key=lambda r: (_task_order(r["batch"]["task"]), r["started"]))
        counts: dict[str, int] = {}
        for row in runs:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        batches.append(
            {
                "results": results,
                "name": Path(results).name,
                "started": min(r["started"] for r in runs),
                "runs": runs,
                "counts": counts,
                "steps": sum(r["steps"] for r in runs),
                "tokens": sum(r["tokens"] for r in runs),
            }
        )
    return sorted(batches, key=lambda b: b["started"], reverse=True)


def _task_order(task_id: str) -> tuple[int, int | str]:
    """Task ids in their natural order: numbers by value, before other names."""
    return (0, int(task_id)) if task_id.isdigit() else (1, task_id)


@dataclass(frozen=True)
class Tail:
    """Records read from a transcript: those after a byte offset, and where they end.

    Attributes:
        records: The whole records (a line still being written is left for the next read).
        offset: The byte just after the last whole line read.
    """

    records: list[dict[str, Any]]
    offset: int


def read_after(path: Path, offset: int = 0) -> Tail:
    """The whole records of a transcript from byte `offset` on.

    A line without its newline is one the run is writing: it is not read, and `offset`
    stays before it. A line that is not a JSON object (a torn line of a killed run, then
    resumed) is skipped.
    """
    with path.open("rb") as file:
        file.seek(max(0, offset))
        data = file.read()
    end = data.rfind(b"\n") + 1
    records = []
    for line in data[:end].splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return Tail(records, max(0, offset) + end)


def run_detail(run_id: str, directory: Path) -> dict[str, Any]:
    """One run for its page: its row, whether a live process still writes it, all its
    records, and the offset a live stream goes on from.

    Raises:
        ConfigError: No run, or several, match `run_id`.
    """
    path = find_run(run_id, directory)
    tail = read_after(path)
    head = tail.records[0] if tail.records else {}
    row = run_row(run_info(path), head if head.get("type") == "run" else {})
    return {
        "run": row,
        "live": writer_alive(tail.records) is not None,
        "records": tail.records,
        "offset": tail.offset,
    }
