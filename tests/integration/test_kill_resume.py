"""`kill -9` of the `agentkit run` process mid-run, then `agentkit runs resume`: the resumed run
gives the answer an uninterrupted run gives, and every tool call's side effect happens once.

Each case is real processes against the fault server on loopback. The CLI loads a drop-in tool
file whose `record(n)` takes a second and then appends `n` to a file; the model records steps
1 to 3 and answers, and asks again for any step whose call did not succeed (a call cut by a
kill is answered to it as an error). The test watches the transcript and the server, kills the
process group at a chosen point (mid-stream, while a call runs, between steps), checks that
the transcript shows the run died there, resumes it, and compares with an uninterrupted run.

The cases run at once, each with its own server, runs directory and side-effect file: the
module takes about as long as its slowest case (a run killed twice and resumed twice), plus
the CPU it takes to start some fifty CLI processes. Selecting some tests (`-k`) runs only
the cases they need.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Optional

import pytest

from agentkit.store import read_transcript

from ..fault_server import PIECE, Fault, FaultServer, Record, Reply, Stall, State, completion_text
from .conftest import processes_with

AGENTKIT = [sys.executable, "-m", "agentkit.cli"]
BACKENDS = ("completions", "chat")
TASK = "Record steps 1, 2 and 3."
ANSWER = "Recorded 3 steps."
STEPS = 3
EFFECTS_ENV = "KILL_RESUME_EFFECTS"
TOOL_SECONDS = 1.0
"""How long a `record` call takes before its side effect: the window to kill it in."""
TOKEN_DELAY = 0.03
"""Seconds between streamed events: a tool-calling turn streams for about a second."""
HOLD_SECONDS = 10.0
"""How long the server holds a turn for `KillPoint.hold` (the kill comes well before)."""
CLI_TIMEOUT = 60.0
"""Seconds a CLI command may take before the test kills it and fails."""
POLL_TIMEOUT = 30.0
"""Seconds to wait for a kill point."""
POLL_INTERVAL = 0.02
EXIT_TIMEOUT = 10.0
"""Seconds a killed process may take to be reaped."""

TOOL_FILE = f'''"""The kill-and-resume test's tool: each call appends one line to ${EFFECTS_ENV}."""

import os
import time

from agentkit import tool


@tool
def record(n: int) -> str:
    """Record step n (takes a while)."""
    time.sleep({TOOL_SECONDS})
    fd = os.open(os.environ["{EFFECTS_ENV}"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"%d\\n" % n)  # one write of one line: the effect happened or it did not
    finally:
        os.close(fd)
    return f"recorded {{n}}"
'''


# -- the model ------------------------------------------------------------------------------


def successes(state: State) -> int:
    """Tool results in the conversation that are not errors (an interrupted call is one)."""
    if state.api == "completions":
        blocks = str(state.body["prompt"]).split("<tool_response>")[1:]
        return sum(not block.lstrip().startswith("Error:") for block in blocks)
    return sum(
        m.get("role") == "tool" and not str(m.get("content") or "").lstrip().startswith("Error:")
        for m in state.body["messages"]
    )


def model(state: State) -> Reply:
    """Records the next step not yet recorded; answers once all are."""
    done = successes(state)
    if done < STEPS:
        n = done + 1
        reasoning = f"{done} of {STEPS} steps are recorded; step {n} is next, so I call record with n={n}."
        return Reply(reasoning=reasoning, tool="record", arguments={"n": n})
    return Reply(reasoning=f"All {STEPS} steps are recorded, so I can answer.", answer=ANSWER)


# -- where a run is -------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """What a transcript says a run had done: step numbers, and the `n` of calls, in order."""

    turns: tuple[int, ...] = ()
    started: tuple[int, ...] = ()
    finished: tuple[int, ...] = ()
    steps: tuple[int, ...] = ()

    @classmethod
    def of(cls, records: list[dict[str, Any]]) -> Progress:
        def calls(kind: str) -> tuple[int, ...]:
            return tuple(r["call"]["arguments"]["n"] for r in records if r.get("type") == kind)

        def steps(kind: str) -> tuple[int, ...]:
            return tuple(r["step"] for r in records if r.get("type") == kind)

        return cls(
            steps("turn_finished"),
            calls("tool_call_started"),
            calls("tool_call_finished"),
            steps("step_finished"),
        )


@dataclass(frozen=True)
class KillPoint:
    """Where a run is killed: once its transcript shows `progress` (and, with `streaming`, the
    server is streaming that step's turn), the test kills it; `effects` are those done by then.

    `hold` makes the server pause after the last text of that step's turn, before its finish
    event: the completions backend has started the call it read, and the turn is not recorded
    yet (the chat backend starts a call only when the turn ends: this point is not in reach).
    It counts the server's requests from the start, so only the first point of a chain holds.
    """

    progress: Progress
    effects: tuple[int, ...]
    streaming: Optional[int] = None
    hold: Optional[int] = None
    backends: tuple[str, ...] = BACKENDS

    @property
    def cuts_a_call(self) -> bool:
        return len(self.progress.started) > len(self.progress.finished)


KILL_POINTS = {
    "step 1 mid-stream": KillPoint(Progress(), (), streaming=1),
    "step 2 mid-stream": KillPoint(Progress((1,), (1,), (1,), (1,)), (1,), streaming=2),
    "tool call running": KillPoint(Progress((1, 2), (1, 2), (1,), (1,)), (1,)),
    "tool call running, turn unrecorded": KillPoint(
        Progress((1,), (1, 2), (1,), (1,)), (1,), streaming=2, hold=2, backends=("completions",)
    ),
    "between steps": KillPoint(Progress((1, 2), (1, 2), (1, 2), (1, 2)), (1, 2)),
    "answer mid-stream": KillPoint(
        Progress((1, 2, 3), (1, 2, 3), (1, 2, 3), (1, 2, 3)), (1, 2, 3), streaming=4
    ),
    "step 3 tool call running": KillPoint(Progress((1, 2, 3), (1, 2, 3), (1, 2), (1, 2)), (1, 2)),
}

CHAINS = [
    ("step 1 mid-stream", "step 3 tool call running"),
    ("step 2 mid-stream", "answer mid-stream"),
    ("tool call running",),
    ("tool call running, turn unrecorded",),
    ("between steps",),
]
"""The kill points of each case, in order: the first kills `agentkit run`, the next one the
`agentkit runs resume` that took the run up."""

CASES = [
    (backend, chain)
    for chain in CHAINS
    for backend in BACKENDS
    if all(backend in KILL_POINTS[point].backends for point in chain)
]


def holding(step: int) -> list[Optional[Fault]]:
    """The fault plan that holds step `step`'s turn after its last piece of text."""
    reply = model(State("completions", step - 1, True, {"prompt": "<tool_response>recorded" * (step - 1)}))
    pieces = -(-len(completion_text(reply)) // PIECE)
    return [*[None] * (step - 1), Stall(HOLD_SECONDS, after=pieces)]


def streaming(records: list[Record], step: int) -> Optional[Record]:
    """The request for step `step`'s turn, once part of its reply went out."""
    for record in records:
        if record.path.endswith("completions") and record.step == step - 1 and record.sent:
            return record
    return None


def generated(records: list[Record]) -> list[Any]:
    """What each model request sent: the prompt, or the chat messages."""
    bodies = [r.body for r in records if r.path.endswith("completions") and isinstance(r.body, dict)]
    return [b.get("prompt", b.get("messages")) for b in bodies]


# -- one case -------------------------------------------------------------------------------


@dataclass
class Case:
    """One run against its own server: uninterrupted (no kill points), or killed at each of
    `chain` and resumed."""

    backend: str
    chain: tuple[str, ...]
    folder: Path

    @property
    def runs(self) -> Path:
        return self.folder / "runs"

    @property
    def effects_file(self) -> Path:
        return self.folder / "effects"

    def effects(self) -> list[int]:
        if not self.effects_file.exists():
            return []
        return [int(line) for line in self.effects_file.read_text().split()]

    def env(self) -> dict[str, str]:
        kept = {k: v for k, v in os.environ.items() if not k.startswith("AGENTKIT_")}
        return {**kept, EFFECTS_ENV: str(self.effects_file), "NO_COLOR": "1", "COLUMNS": "200"}

    def transcript_path(self) -> Optional[Path]:
        paths = list(self.runs.glob("*.jsonl"))
        assert len(paths) <= 1, paths
        return paths[0] if paths else None

    def transcript(self) -> list[dict[str, Any]]:
        path = self.transcript_path()
        return read_transcript(path) if path else []

    def server(self) -> FaultServer:
        first = KILL_POINTS[self.chain[0]] if self.chain else None
        plan = holding(first.hold) if first is not None and first.hold else []
        return FaultServer(reply=model, token_delay=TOKEN_DELAY, plan=plan, fault_paths={"/v1/completions"})


@dataclass
class Kill:
    """One kill of a case: where the run stood, and what came after."""

    point: str
    progress: Progress = Progress()
    effects: list[int] = field(default_factory=list)
    status: str = ""
    in_flight: Any = None
    next_requests: list[Any] = field(default_factory=list)


@dataclass
class Outcome:
    """What a case did. For a killed case, `answer`, `code` and `stderr` are the last resume's."""

    answer: str = ""
    code: Optional[int] = None
    stderr: str = ""
    effects: list[int] = field(default_factory=list)
    status: str = ""
    kills: list[Kill] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    transcript: Optional[Path] = None
    seconds: float = 0.0
    error: Optional[BaseException] = None


def _start(case: Case, *args: str, log: Optional[IO[str]] = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*AGENTKIT, *args],
        stdout=log or subprocess.PIPE,
        stderr=subprocess.STDOUT if log else subprocess.PIPE,
        text=True,
        env=case.env(),
        start_new_session=True,
    )


def _kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the process group of `proc` (if it still runs) and reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=EXIT_TIMEOUT)


def agentkit(case: Case, *args: str) -> subprocess.CompletedProcess[str]:
    """An agentkit command to its end (killed, and failed, after `CLI_TIMEOUT`)."""
    proc = _start(case, *args)
    try:
        out, err = proc.communicate(timeout=CLI_TIMEOUT)
    finally:
        _kill(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def runs_list(case: Case) -> list[dict[str, Any]]:
    listed = agentkit(case, "runs", "list", "--json", "--runs-dir", str(case.runs))
    assert listed.returncode == 0, listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines()]


def run_args(case: Case, server: FaultServer, tool_file: Path) -> list[str]:
    # Thinking on: every turn streams its reasoning first, so chat turns that only call a
    # tool stream long enough to be cut too.
    return [
        "run", TASK, "--tools", str(tool_file), "--backend", case.backend, "--base-url", server.base_url,
        "--think", "on", "--yes", "--hide-thinking", "--runs-dir", str(case.runs),
    ]  # fmt: skip


def resume_args(case: Case, run_id: str) -> list[str]:
    return ["runs", "resume", run_id, "--runs-dir", str(case.runs), "--yes", "--hide-thinking"]


class Watch:
    """The progress of a case's run, read again from its transcript whenever the file grew."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.size = -1
        self.progress = Progress()

    def now(self) -> Progress:
        path = self.case.transcript_path()
        size = path.stat().st_size if path else 0
        if size != self.size:
            self.size, self.progress = size, Progress.of(self.case.transcript())
        return self.progress


def kill_when_reached(
    case: Case, server: FaultServer, proc: subprocess.Popen[str], kill: Kill, since: int
) -> None:
    """Poll until the run reaches the kill point, then SIGKILL it; fail if it ends or stalls
    first. `since`: the server's requests before this process started."""
    point = KILL_POINTS[kill.point]
    watch = Watch(case)
    deadline = time.monotonic() + POLL_TIMEOUT
    for _ in range(int(POLL_TIMEOUT / POLL_INTERVAL)):
        if proc.poll() is not None:
            raise AssertionError(f"the run exited ({proc.returncode}) before {kill.point}")
        if time.monotonic() > deadline:
            break
        request = streaming(server.requests[since:], point.streaming) if point.streaming else None
        if watch.now() == point.progress and (point.streaming is None or request is not None):
            _kill(proc)
            kill.in_flight = generated([request])[0] if request else None
            return
        time.sleep(POLL_INTERVAL)
    raise AssertionError(f"the run did not reach {kill.point} in {POLL_TIMEOUT:g} s: {watch.now()}")


def drive(case: Case, tool_file: Path) -> Outcome:
    """Run the case; keep what it did (an error raised on the way is kept too)."""
    outcome = Outcome()
    started = time.monotonic()
    try:
        with case.server().in_thread() as server:
            args = run_args(case, server, tool_file)
            for i, point in enumerate(case.chain):
                kill = Kill(point)
                since = len(server.requests)
                with (case.folder / f"process{i}.log").open("w") as log:
                    proc = _start(case, *args, log=log)
                    try:
                        kill_when_reached(case, server, proc, kill, since)
                    finally:
                        _kill(proc)
                if outcome.kills:  # what the resume that was just killed asked
                    outcome.kills[-1].next_requests = generated(server.requests[since:])
                kill.progress, kill.effects = Progress.of(case.transcript()), case.effects()
                (listed,) = runs_list(case)
                kill.status = listed["status"]
                outcome.kills.append(kill)
                args = resume_args(case, listed["id"])
            since = len(server.requests)
            done = agentkit(case, *args)
            if outcome.kills:
                outcome.kills[-1].next_requests = generated(server.requests[since:])
        outcome.answer, outcome.code, outcome.stderr = done.stdout.strip(), done.returncode, done.stderr
        outcome.effects = case.effects()
        outcome.records, outcome.transcript = case.transcript(), case.transcript_path()
        (listed,) = runs_list(case)
        outcome.status = listed["status"]
    except BaseException as exc:  # the test of this case raises it
        outcome.error = exc
    outcome.seconds = time.monotonic() - started
    return outcome


Outcomes = dict[tuple[str, tuple[str, ...]], Outcome]


def selected(session: pytest.Session) -> list[tuple[str, tuple[str, ...]]]:
    """The cases the module's selected tests need (each needs its backend's uninterrupted run)."""
    keys: dict[tuple[str, tuple[str, ...]], None] = {}
    for item in session.items:
        if item.path == Path(__file__):
            params = getattr(item, "callspec", None)
            backend = params.params.get("backend", "completions") if params else "completions"
            keys[backend, ()] = None
            keys[backend, params.params.get("chain", ()) if params else ()] = None
    return list(keys)


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcomes]:
    """The selected cases, run at once; no process of theirs is left when they end."""
    root = tmp_path_factory.mktemp("kill-resume")
    tool_file = root / "record_tool.py"
    tool_file.write_text(TOOL_FILE)
    cases = [
        Case(backend, chain, root / f"case{i}")
        for i, (backend, chain) in enumerate(selected(request.session))
    ]
    for case in cases:
        case.folder.mkdir()
    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        running = {(case.backend, case.chain): pool.submit(drive, case, tool_file) for case in cases}
    done = {key: future.result() for key, future in running.items()}
    try:
        yield done
    finally:
        assert processes_with(str(root)) == [], "a process of the test outlived it"


def succeeded(outcome: Outcome) -> Outcome:
    if outcome.error is not None:
        raise outcome.error
    assert outcome.code == 0, outcome.stderr
    return outcome


# -- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_uninterrupted_run_records_each_step_once_and_answers(outcomes: Outcomes, backend: str) -> None:
    baseline = succeeded(outcomes[backend, ()])
    assert baseline.answer == ANSWER
    assert baseline.effects == [1, 2, 3]
    assert baseline.status == "answer"
    assert Progress.of(baseline.records) == Progress((1, 2, 3, 4), (1, 2, 3), (1, 2, 3), (1, 2, 3, 4))


@pytest.mark.parametrize(("backend", "chain"), CASES, ids=[f"{b}-{' then '.join(c)}" for b, c in CASES])
def test_a_run_killed_mid_run_resumes_to_the_same_answer_with_each_effect_once(
    outcomes: Outcomes, backend: str, chain: tuple[str, ...]
) -> None:
    baseline = succeeded(outcomes[backend, ()])
    resumed = succeeded(outcomes[backend, chain])
    context = f"resume's stderr:\n{resumed.stderr}\ntranscript: {resumed.transcript}"
    for kill in resumed.kills:
        point = KILL_POINTS[kill.point]
        # The kill landed where it was meant to, and `runs list` saw the run die.
        assert (kill.progress, kill.effects) == (point.progress, list(point.effects)), kill.point
        assert kill.status == "killed", kill.point
        if point.streaming is not None:
            # The turn the kill cut is asked for again with the very prompt the killed run sent.
            assert kill.next_requests[0] == kill.in_flight, kill.point
        if point.cuts_a_call:
            # The call cut by the kill is answered to the model as interrupted (not run again
            # behind its back, and not taken as done); the model then asks for it again.
            interrupted = "Error: this call to record was interrupted"
            assert any(interrupted in json.dumps(request) for request in kill.next_requests), kill.point
    # The resumed run ends as the uninterrupted one did: each effect once, the same answer.
    assert resumed.effects == baseline.effects == [1, 2, 3], context
    assert resumed.answer == baseline.answer == ANSWER, context
    assert resumed.status == "answer"
    kinds = [r["type"] for r in resumed.records]
    assert kinds.count("run_resumed") == len(chain) and kinds[-1] == "run_finished"
    recorded = [
        r["call"]["arguments"]["n"]
        for r in resumed.records
        if r["type"] == "tool_call_finished" and not r["result"]["is_error"]
    ]
    assert recorded == [1, 2, 3], context


@pytest.mark.parametrize("last", ["turn_finished", "step_finished"])
def test_a_run_killed_after_its_answer_was_recorded_prints_it_on_resume(
    outcomes: Outcomes, tmp_path: Path, last: str
) -> None:
    # The last records are written back to back, too fast to kill a process between them:
    # the transcript is cut where such a kill would leave it.
    baseline = succeeded(outcomes["completions", ()])
    assert baseline.transcript is not None
    lines = baseline.transcript.read_text().splitlines(keepends=True)
    kinds = [json.loads(line)["type"] for line in lines]
    case = Case("completions", (), tmp_path)
    case.runs.mkdir()
    keep = len(kinds) - kinds[::-1].index(last)
    (case.runs / baseline.transcript.name).write_text("".join(lines[:keep]))
    run_id = json.loads(lines[0])["run_id"]
    with FaultServer(reply=model).in_thread() as server:
        done = agentkit(case, *resume_args(case, run_id), "--base-url", server.base_url)
    assert done.returncode == 0, done.stderr
    assert generated(server.requests) == []  # the answer is there: nothing to ask the model
    assert case.effects() == []
    assert done.stdout.strip() == ANSWER
