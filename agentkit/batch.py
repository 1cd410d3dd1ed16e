"""Many runs of one agent at once: tasks in, one result per task out, on disk as each ends.

A batch runs its tasks `concurrency` at a time on one `Agent` (its MCP servers started once,
its connections kept, its runs spread over its servers when it has several base URLs). Each
finished task's result is appended to the results file (JSON lines) and flushed at once, so a
killed batch loses no finished task; started again with the same results file, it skips the
tasks already there. A task that fails is a result with its error: the batch goes on.

A task's id is what its `id` says; a task without one gets `t` and 10 hex digits of the
SHA-256 of its entry (the task and its options, as canonical JSON), with `-2`, `-3`, ... for
the second and later copies of the same entry. So the id stays the same when tasks are
added, removed or reordered, which is what a restart needs to recognise them.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import hashlib
import json
import os
import time
from collections.abc import AsyncGenerator, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, Union

from agentkit.defaults import DEFAULT_BATCH_CONCURRENCY
from agentkit.errors import AgentkitError, ConfigError
from agentkit.events import RunFinished, StepFinished
from agentkit.limits import with_call_cap
from agentkit.result import RunResult
from agentkit.store import RunInfo, SavedRun, load_run, runs_tagged
from agentkit.thinking import Sampling

if TYPE_CHECKING:
    from agentkit.agent import Agent

__all__ = [
    "DEFAULT_BATCH_CONCURRENCY",
    "BatchProgress",
    "BatchResult",
    "BatchTask",
    "ResultsFile",
    "TaskLike",
    "read_tasks",
    "run_batch",
    "task_list",
]

_THINKING = ("on", "off", "auto")


@dataclass(frozen=True)
class BatchTask:
    """One task of a batch, with the options that differ from the agent's for it.

    Attributes:
        task: The user's message.
        id: The task's id in the results (None: one is made from the entry, see the module).
        system_prompt: The system prompt of this run (JSON key `system`).
        thinking: "on", "off" or "auto" for this run.
        max_steps: Model calls of this run.
        max_tokens: Completion tokens per model call of this run (short for
            `sampling.max_tokens`).
        max_run_tokens: Completion tokens of this run, over all steps.
        timeout: Seconds of this run.
        sampling: Sampling overrides of this run (JSON: an object with `temperature`,
            `top_p`, `top_k`, `min_p`, `presence_penalty`, `repetition_penalty`, `seed`,
            `max_tokens`).
        meta: Anything to carry to the task's result line as it is.
        output_file: A file the answer is written to when the run answers (relative paths
            from the results file's folder, else the working directory).
    """

    task: str
    id: str | None = None
    system_prompt: str | None = None
    thinking: Literal["on", "off", "auto"] | None = None
    max_steps: int | None = None
    max_tokens: int | None = None
    max_run_tokens: int | None = None
    timeout: float | None = None
    sampling: Sampling | None = None
    meta: Any = None
    output_file: str | None = None

    def __post_init__(self) -> None:
        if self.thinking is not None and self.thinking not in _THINKING:
            raise ConfigError(f"thinking is {self.thinking!r}; use one of {', '.join(_THINKING)}")
        for name in ("max_steps", "max_tokens", "max_run_tokens"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")
        try:
            with_call_cap(self.max_tokens, self.sampling)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.timeout is not None and (isinstance(self.timeout, bool) or not self.timeout > 0):
            raise ConfigError(f"timeout must be seconds above 0, got {self.timeout!r}")
        if self.output_file is not None and (
            not isinstance(self.output_file, str) or not self.output_file.strip()
        ):
            raise ConfigError(f"output_file must be a file name, got {self.output_file!r}")

    @classmethod
    def from_json(cls, entry: Any) -> BatchTask:
        """A task from a tasks-file entry: a string, or an object with `task` and options.

        Raises:
            ConfigError: The entry is neither, or has a key or value that is not understood.
        """
        if isinstance(entry, str):
            return cls(entry)
        if not isinstance(entry, dict):
            raise ConfigError(
                f'a task is a string or an object with a "task" key, not {type(entry).__name__}'
            )
        unknown = [k for k in entry if k not in _KEYS]
        if unknown:
            close = difflib.get_close_matches(unknown[0], _KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"unknown key {unknown[0]!r}; {hint}a task's keys are {', '.join(_KEYS)} "
                '(put anything else under "meta")'
            )
        if not isinstance(entry.get("task"), str):
            raise ConfigError('the object has no "task" string: {"id": "a", "task": "what to do"}')
        ident = entry.get("id")
        if ident is not None and (isinstance(ident, bool) or not isinstance(ident, (str, int))):
            raise ConfigError(f"the id must be a string or a number, got {ident!r}")
        sampling = entry.get("sampling")
        if sampling is not None:
            known = {f.name for f in fields(Sampling)}
            if not isinstance(sampling, dict) or set(sampling) - known:
                raise ConfigError(f"sampling must be an object with some of {', '.join(sorted(known))}")
            try:
                sampling = Sampling(**sampling)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"sampling: {exc}") from None
        system = entry.get("system")
        if system is not None and not isinstance(system, str):
            raise ConfigError("system must be a string (the run's system prompt)")
        given = {name: entry.get(key) for name, key in _KEY_OF.items() if name not in _CHECKED}
        ident = None if ident is None else str(ident)
        return cls(entry["task"], ident, system_prompt=system, sampling=sampling, **given)

    def entry(self) -> dict[str, Any]:
        """The task as a tasks-file object, without its id (what a made id is the hash of)."""
        out: dict[str, Any] = {"task": self.task}
        for name, key in _KEY_OF.items():
            value = getattr(self, name)
            if value is not None:
                out[key] = value.body() if isinstance(value, Sampling) else value
        return out


_KEY_OF = {
    "system_prompt": "system",
    "thinking": "thinking",
    "max_steps": "max_steps",
    "max_tokens": "max_tokens",
    "max_run_tokens": "max_run_tokens",
    "timeout": "timeout",
    "sampling": "sampling",
    "meta": "meta",
    "output_file": "output_file",
}
_KEYS = ["id", "task", *_KEY_OF.values()]
_CHECKED = ("system_prompt", "sampling")
"""Options `from_json` reads itself; the others go to `BatchTask` as they are (it checks them)."""

TaskLike = Union[str, BatchTask, Mapping[str, Any]]
"""A task as the Python API takes it: its text, a `BatchTask`, or a tasks-file object."""


def task_list(tasks: Iterable[TaskLike]) -> list[BatchTask]:
    """The tasks with their ids (made where missing, see the module).

    Raises:
        ConfigError: A task is not understood, or two tasks have the same id.
    """
    out: list[BatchTask] = []
    seen: dict[str, int] = {}
    copies: dict[str, int] = {}
    for number, item in enumerate(tasks, 1):
        try:
            task = item if isinstance(item, BatchTask) else BatchTask.from_json(item)
        except ConfigError as exc:
            raise ConfigError(f"task {number}: {exc}") from None
        ident = task.id
        if ident is None:
            digest = hashlib.sha256(
                json.dumps(task.entry(), sort_keys=True, ensure_ascii=False, default=str).encode()
            ).hexdigest()
            base = "t" + digest[:10]
            copies[base] = copies.get(base, 0) + 1
            ident = base if copies[base] == 1 else f"{base}-{copies[base]}"
            task = BatchTask(**{**_fields_of(task), "id": ident})
        if ident in seen:
            raise ConfigError(
                f"tasks {seen[ident]} and {number} have the same id {ident!r}; give each its own"
            )
        seen[ident] = number
        out.append(task)
    return out


def _fields_of(task: BatchTask) -> dict[str, Any]:
    return {f.name: getattr(task, f.name) for f in fields(task)}


def read_tasks(path: str | Path) -> list[BatchTask]:
    """The tasks of a tasks file: one a line, a JSON string or object, or plain text (a line
    that does not start with `{` or `"`); blank lines are skipped.

    Raises:
        ConfigError: The file cannot be read, or a line names the problem.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the tasks file {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"the tasks file {file} is not UTF-8 text; convert it (iconv -t UTF-8)") from None
    entries: list[BatchTask] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        entry: Any = line
        if line[0] in '{"':
            try:
                entry = json.loads(line)
            except ValueError as exc:
                raise ConfigError(f"{file}, line {number}: not valid JSON ({exc})") from None
        try:
            entries.append(BatchTask.from_json(entry))
        except ConfigError as exc:
            raise ConfigError(f"{file}, line {number}: {exc}") from None
    if not entries:
        raise ConfigError(f"the tasks file {file} holds no task; write one task a line")
    return entries


@dataclass
class BatchResult:
    """What one task of a batch came to (one line of the results file).

    Attributes:
        id: The task's id.
        task: The task's text.
        output: The final answer ("" when the run stopped without one); with an agent's
            output type, its JSON data (an object, as the model wrote it and the type
            validated it).
        stop_reason: "answer", why the run stopped (see `agentkit.result.STOP_REASONS`), or
            "error" when it failed.
        steps: Model calls made.
        prompt_tokens: Prompt tokens over all steps.
        completion_tokens: Completion tokens over all steps.
        cached_tokens: Prompt tokens the server served from its prefix cache.
        duration: Seconds from the run's start to its end.
        error: What went wrong, when the task failed.
        error_type: The exception's class name, when the task failed.
        run_id: The run's id (`agentkit runs show ID`), if it started.
        transcript: The run's transcript file, if it has one.
        meta: The task's `meta`, as given.
        output_file: The file the answer was written to (the task's `output_file`).
    """

    id: str
    task: str
    output: Any = ""
    stop_reason: str = "error"
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    duration: float = 0.0
    error: str | None = None
    error_type: str | None = None
    run_id: str | None = None
    transcript: str | None = None
    meta: Any = None
    output_file: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the model answered."""
        return self.stop_reason == "answer"

    @property
    def failed(self) -> bool:
        """Whether the task failed (an error, not a limit)."""
        return self.error is not None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["duration"] = round(self.duration, 3)
        return out

    @classmethod
    def of_run(
        cls, task: BatchTask, result: RunResult | None, duration: float, error: BaseException | None = None
    ) -> BatchResult:
        """The result of a task from its run's result (None: the run never started)."""
        out = cls(str(task.id), task.task, duration=duration, meta=task.meta)
        if result is not None:
            usage = result.usage
            try:
                out.output = result.output_json()
            except ValueError:  # an answer that did not parse as the output type
                out.output = result.text
            out.stop_reason, out.steps = result.stop_reason, len(result.steps)
            out.prompt_tokens, out.completion_tokens = usage.prompt_tokens, usage.completion_tokens
            out.cached_tokens, out.run_id, out.transcript = (
                usage.cached_tokens,
                result.run_id or None,
                result.transcript,
            )
        if error is not None:
            out.stop_reason = "error"
            out.error = str(error) or type(error).__name__
            out.error_type = type(error).__name__
        return out


class ResultsFile:
    """The results of a batch on disk: one JSON line per finished task, appended and flushed
    as each finishes. Lines a kill cut short are ignored when the file is read again.

    Args:
        path: The file (made, with its folder, if missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.results: dict[str, dict[str, Any]] = {}
        """The last line of each task id already in the file."""
        self.unreadable = 0
        """Lines that could not be read (a line cut by a kill)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[bytes] = self.path.open("a+b")
        except OSError as exc:
            raise ConfigError(f"cannot write the results file {self.path}: {exc.strerror or exc}") from None
        self._file.seek(0)
        data = self._file.read()
        for line in data.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                self.unreadable += 1
                continue
            if isinstance(record, dict) and isinstance(record.get("id"), str):
                self.results[record["id"]] = record
            else:
                self.unreadable += 1
        if data and not data.endswith(b"\n"):
            self._file.write(b"\n")  # the next line starts on its own line, after a cut one

    def done(self, *, retry_failed: bool = False) -> set[str]:
        """The ids of the tasks the file holds a result of (with `retry_failed`, not those
        whose last result is a failure)."""
        return {i for i, r in self.results.items() if not (retry_failed and r.get("error") is not None)}

    def write(self, result: BatchResult) -> None:
        """Append a result and flush it to the operating system."""
        line = json.dumps(result.to_dict(), ensure_ascii=False, default=str) + "\n"
        self._file.write(line.encode("utf-8", "surrogatepass"))
        self._file.flush()
        self.results[result.id] = result.to_dict()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.fsync(self._file.fileno())
        self._file.close()


@dataclass
class BatchProgress:
    """How a batch is going, updated as it runs (a progress display reads it).

    Attributes:
        total: Tasks to run in this invocation (not counting those skipped).
        skipped: Tasks skipped, their results already in the results file.
        resumed: Tasks whose run had stopped without a result (the batch was killed or
            stopped, or the run failed and `retry_failed` is set): they go on from their
            last finished step instead of starting again.
        done: Tasks finished (failed ones included).
        failed: Tasks that failed.
        answered: Tasks the model answered.
        running: Runs in progress now.
        steps: Model calls finished over all runs.
        tokens: Prompt and completion tokens over all finished steps.
        started: `time.monotonic()` when the batch started.
    """

    total: int = 0
    skipped: int = 0
    resumed: int = 0
    done: int = 0
    failed: int = 0
    answered: int = 0
    running: int = 0
    steps: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return max(1e-9, time.monotonic() - self.started)

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.elapsed

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.elapsed

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace so far (None before the first task finishes)."""
        if not self.done:
            return None
        return (self.total - self.done) * self.elapsed / self.done


async def run_batch(
    agent: Agent,
    tasks: Iterable[TaskLike],
    *,
    concurrency: int = DEFAULT_BATCH_CONCURRENCY,
    results: str | Path | None = None,
    retry_failed: bool = False,
    progress: BatchProgress | None = None,
) -> AsyncGenerator[BatchResult, None]:
    """Run the tasks on the agent, `concurrency` at a time; yield each task's result as it
    finishes (in the order they finish). A task's `output_file` is written before its result.

    Args:
        agent: The agent every task runs on; its MCP servers start once for the batch.
        tasks: Task texts, `BatchTask`s, or tasks-file objects (`{"id", "task", ...}`).
        concurrency: Runs at once.
        results: A JSON-lines file each result is appended to as it finishes; tasks whose
            results it already holds are skipped (None: keep no file, skip nothing).
        retry_failed: Run again the tasks whose last result in the file is a failure.
        progress: Updated as the batch goes (for a progress display).

    Raises:
        ConfigError: A task is not understood, two share an id, `concurrency` is below 1,
            or the results file cannot be written. A task that fails does not raise: its
            result says why.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"concurrency must be a whole number of at least 1, got {concurrency!r}")
    listed = task_list(tasks)
    progress = progress if progress is not None else BatchProgress()
    store = ResultsFile(results) if results is not None else None
    try:
        done = store.done(retry_failed=retry_failed) if store is not None else set()
        pending = [t for t in listed if t.id not in done]
        progress.skipped = len(listed) - len(pending)
        stopped = _stopped_runs(agent, results, {str(t.id): t.task for t in pending}) if results else {}
        progress.resumed = len(stopped)
        progress.total = len(pending)
        progress.started = time.monotonic()
        if not pending:
            return
        entered = not agent._entered
        if entered:
            await agent.__aenter__()  # MCP servers and connections once, for every run
        try:
            folder = Path(results).parent if results is not None else Path.cwd()
            workers = min(concurrency, len(pending))
            batch = str(Path(results).resolve()) if results is not None else None
            runs = _Runs(batch, stopped)
            # Closed here, not when collected: a batch closed early has stopped its runs
            # (and their transcripts say so) by the time aclose() returns.
            async with contextlib.aclosing(
                _run_all(agent, pending, workers, store, progress, folder, runs)
            ) as all_:
                async for result in all_:
                    yield result
        finally:
            if entered:
                await agent.aclose()
    finally:
        if store is not None:
            store.close()


async def _run_all(
    agent: Agent,
    tasks: list[BatchTask],
    workers: int,
    store: ResultsFile | None,
    progress: BatchProgress,
    folder: Path,
    runs: _Runs,
) -> AsyncGenerator[BatchResult, None]:
    finished: asyncio.Queue[BatchResult | Exception] = asyncio.Queue()
    waiting = iter(tasks)

    async def work() -> None:
        try:
            for task in waiting:  # shared: each worker takes the next task not yet taken
                result = await _run_one(agent, task, progress, runs)
                if task.output_file is not None and result.ok:
                    _write_output(result, folder / task.output_file)
                if store is not None:
                    store.write(result)  # on disk before anyone hears of it
                progress.done += 1
                progress.failed += result.failed
                progress.answered += result.ok
                finished.put_nowait(result)
        except Exception as exc:  # the results file failed: the batch cannot go on
            finished.put_nowait(exc)

    running = [asyncio.ensure_future(work()) for _ in range(workers)]
    try:
        for _ in tasks:
            item = await finished.get()
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        for worker in running:
            worker.cancel()
        await asyncio.gather(*running, return_exceptions=True)


_RESUMABLE = ("killed", "interrupted", "error")
"""How a run that left no result may have stopped, for a batch to go on with it: its
process died, it was stopped (Ctrl-C, SIGTERM), or its server failed. Runs stopped at a
limit start again: going on would stop them at the same limit."""

_BATCH_TAG = "batch"
"""The transcript config key naming a run's batch: {"results": path, "task": id}."""


def _stopped_runs(agent: Agent, results: str | Path, pending: Mapping[str, str]) -> dict[str, SavedRun]:
    """The latest run of each pending task of this batch (the same results file, the same
    task text: {id: task}) that stopped without a result and can go on."""
    if agent.transcripts is None:
        return {}
    batch = str(Path(results).resolve())
    latest: dict[str, RunInfo] = {}
    for info, tag in runs_tagged(_BATCH_TAG, agent.transcripts):
        if isinstance(tag, dict) and tag.get("results") == batch and tag.get("task") in pending:
            latest[tag["task"]] = info  # oldest first: the last one seen is the latest
    out: dict[str, SavedRun] = {}
    for task_id, info in latest.items():
        if info.status in _RESUMABLE and info.task == pending[task_id]:
            with contextlib.suppress(AgentkitError, OSError, ValueError):  # unreadable: start again
                out[task_id] = load_run(info.path)
    return out


@dataclass(frozen=True)
class _Runs:
    """How a batch's runs are found again: its results file (resolved; None: no file, the
    runs are not tagged) and the stopped runs of its pending tasks, by task id."""

    batch: str | None
    stopped: dict[str, SavedRun]


async def _run_one(agent: Agent, task: BatchTask, progress: BatchProgress, runs: _Runs) -> BatchResult:
    """Run one task to its end (or go on with its stopped run); a failure becomes its result."""
    started = time.monotonic()
    progress.running += 1
    result: RunResult | None = None
    try:
        async for event in agent._stream_with(
            task.task,
            system_prompt=task.system_prompt,
            thinking=task.thinking,
            limits={name: getattr(task, name) for name in ("max_steps", "max_run_tokens", "timeout")},
            sampling=with_call_cap(task.max_tokens, task.sampling),
            tag={_BATCH_TAG: {"results": runs.batch, "task": str(task.id)}} if runs.batch else None,
            resume_from=runs.stopped.get(str(task.id)),
        ):
            if isinstance(event, StepFinished):
                progress.steps += 1
                progress.tokens += event.usage.total_tokens
            elif isinstance(event, RunFinished):
                result = event.result
    except Exception as exc:  # the batch goes on: the failure is this task's result
        partial = exc.result if isinstance(exc, AgentkitError) else None
        return BatchResult.of_run(task, partial, time.monotonic() - started, exc)
    finally:
        progress.running -= 1
    if result is None:
        return BatchResult.of_run(
            task, None, time.monotonic() - started, RuntimeError("the run ended without a result")
        )
    return BatchResult.of_run(task, result, time.monotonic() - started)


def _write_output(result: BatchResult, path: Path) -> None:
    """Write the answer to the task's output file; a failure to write fails the task."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = (
            result.output if isinstance(result.output, str) else json.dumps(result.output, ensure_ascii=False)
        )
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        result.stop_reason, result.error_type = "error", "ConfigError"
        result.error = f"the answer could not be written to {path}: {exc.strerror or exc}"
        return
    result.output_file = str(path)
