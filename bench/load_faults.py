"""Load with faults: 200 concurrent runs on one Agent against a model server that fails 10 % of requests.

The fault server (tests/fault_server.py's `FaultServer`, in a process of its own on a free
loopback port) streams like vLLM with 50 ms before each stream's first event, and plays a
tool loop: `--calls` tool calls, then the answer (4 model requests per run by default). A
seeded 10 % of its POSTs get a fault drawn evenly from the mix below. All runs start at once
on one `Agent` (so one connection pool and one shared `GET /v1/models`), each bounded by
`asyncio.wait_for` so that a hung run is counted as hung and never blocks the benchmark.

The mix (`--kind` replaces it; the forms are `tests/fault_server.py`'s `parse_fault`):

    reset                     TCP RST after the request is read, before any response byte
    status:500, status:503    an HTTP error (keep-alive)
    status:429,retry_after=1  overload, with `Retry-After: 1`
    stall:5                   5 s of silence before the response headers
    stall:5,after=3           5 s of silence mid-stream, after 3 events
    cut:3,partial=true        3 events and half of the 4th, then FIN (chunked body unterminated)
    cut:6,end=reset           6 events, then RST

Agent settings are agentkit's defaults (retry policy: 10 attempts, 120 s, backoff 0.5 s
doubling, cap 20 s; connect timeout 10 s) except:
- `transcripts=False`: the benchmark measures the client, not the disk (`--transcripts`
  writes them to a temporary directory, to see what they cost).
- `model=None`: every run needs the served name before its first request, so all 200 wait
  on the one `GET /v1/models` the backend shares.
- `idle_timeout`: each backend runs twice. With the default (120 s) the 5 s stalls are
  waited out: they slow their runs down but cause no retry. With `idle_timeout=2` they are
  cut short: a stall before the headers is retried, one mid-stream is continued
  (completions: same prompt plus the text received) or restarted (chat).

Counting: `tests/fault_server.py` run as a script prints only its URL (it keeps records in
memory, out of reach of another process), so this script starts the same `FaultServer` in a
child process of its own (`--serve`, internal) that prints, when told to stop, what it saw:
requests by method and path (hence the `GET /v1/models` count, which must be 1 per Agent),
faults applied by kind, continued prompts and connections. On the client, `ModelRetry`
events are counted by reason and the tool records each execution per run.

A run failed when it does not answer (an error after retries, another stop reason), answers
wrongly, or runs a tool call twice; it is hung when its bound passes. The exit status is 1
when any run failed or hung, or when a row listed the models more than once.

Peak RSS is `ru_maxrss` of this process after the row, so a later row shows the high-water
mark of all rows before it too (`--backend chat` alone gives chat's own figure). CPU time and
CPU wait (time ready to run but not running, from Linux schedstat) are given for both
processes: on a loaded machine the wait, not agentkit, is most of the wall time.

    python bench/load_faults.py [--runs 200] [--backend completions|chat|both] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import json
import os
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentkit import Agent, ModelError, Timeouts, tool
from agentkit.defaults import DEFAULT_IDLE_TIMEOUT
from agentkit.events import ModelRetry, RunFailed, RunFinished

ROOT = Path(__file__).resolve().parent.parent

KINDS = (
    "reset",
    "status:500",
    "status:503",
    "status:429,retry_after=1",
    "stall:5",
    "stall:5,after=3",
    "cut:3,partial=true",
    "cut:6,end=reset",
)
"""The default fault mix, drawn evenly at `--rate`."""

TASK = "Do the task step by step with the step tool, then answer."

RETRY_KINDS = ("reset/cut", "5xx", "429", "stall", "other")

_tool_runs: contextvars.ContextVar[list[int]] = contextvars.ContextVar("tool_runs")


@tool
async def step(n: int) -> str:
    """Do one step of the task."""
    _tool_runs.get().append(n)  # the run's own list: tool tasks copy the run task's context
    return f"step {n} done"


def retry_kind(reason: str) -> str:
    """The category of a retry, from its reason's words."""
    if "HTTP 429" in reason:
        return "429"
    if re.search(r"HTTP 5\d\d", reason):
        return "5xx"
    if "idle timeout" in reason:
        return "stall"
    if re.search(r"broke|reset|cut off|no \[DONE\]|closed the connection", reason):
        return "reset/cut"
    return "other"


# -- the fault server, in its own process ---------------------------------------------------


def serve(config: dict[str, Any]) -> None:
    """Run a FaultServer until SIGTERM; print its URL first and what it saw last (JSON lines)."""
    sys.path.insert(0, str(ROOT))
    from tests.fault_server import FaultServer, parse_fault

    kinds = [(fault, text) for text in config["kinds"] if (fault := parse_fault(text)) is not None]
    names = dict(kinds)
    server = FaultServer(
        calls=config["calls"],
        rate=config["rate"],
        seed=config["seed"],
        kinds=[fault for fault, _ in kinds],  # a kind given twice is drawn twice as often
        latency=config["latency"],
        keep=None,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with server:
            print(json.dumps({"base_url": server.base_url}), flush=True)
            before = _cpu()
            peak = 0
            while not stop.is_set():  # sample the open connections
                peak = max(peak, len(server._writers))
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.01)
        seen = Counter(f"{r.method} {r.path}" for r in server.requests)
        faults = Counter(names.get(r.fault, str(r.fault)) for r in server.requests if r.fault is not None)
        continued = sum(1 for r in server.requests if r.resumed)
        report = {
            "requests": dict(seen),
            "faults": dict(faults),
            "continued": continued,
            "connections": server._connections,
            "peak_open": peak,
            "cpu": [now - then for now, then in zip(_cpu(), before, strict=True)],
        }
        print(json.dumps(report), flush=True)

    asyncio.run(main())


def _cpu() -> tuple[float, float]:
    """Seconds this process ran on a CPU, and seconds it was ready to run but waited for one
    (Linux schedstat, summed over threads; 0 where there is none): the machine's load."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    waited = 0
    for path in Path("/proc/self/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            waited += int(path.read_text().split()[1])
    return usage.ru_utime + usage.ru_stime, waited / 1e9


@dataclass
class ServerView:
    requests: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    continued: int = 0
    connections: int = 0
    cpu: tuple[float, float] = (0.0, 0.0)
    peak_open: int = 0

    @property
    def posts(self) -> int:
        return sum(n for key, n in self.requests.items() if key.startswith("POST"))

    @property
    def listings(self) -> int:
        return sum(n for key, n in self.requests.items() if key.startswith("GET") and "models" in key)


@contextlib.contextmanager
def fault_server(config: dict[str, Any], view: ServerView) -> Iterator[str]:
    """The fault server in its own process; yields its base URL and fills `view` when it stops."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", json.dumps(config)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the fault server did not start")
        yield json.loads(line)["base_url"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        if out.strip():
            report = json.loads(out.strip().splitlines()[-1])
            view.requests, view.faults = report["requests"], report["faults"]
            view.continued, view.connections = report["continued"], report["connections"]
            view.cpu, view.peak_open = tuple(report["cpu"]), report["peak_open"]


# -- the runs -------------------------------------------------------------------------------


@dataclass
class RunRecord:
    """What one run did, filled in as it goes (a hung run keeps what it had)."""

    seconds: float = 0.0
    steps: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    continued: int = 0
    restarted: int = 0
    outcome: str = "hung"  # "answered", "hung", or why it failed
    detail: str = ""


async def one_run(agent: Agent, calls: int, answer: str, record: RunRecord) -> None:
    runs: list[int] = []
    _tool_runs.set(runs)
    started = time.monotonic()
    try:
        async for event in agent.stream(TASK):
            if isinstance(event, ModelRetry):
                record.retries[retry_kind(event.reason)] += 1
                record.continued += int(event.kept > 0)
                record.restarted += int(event.restart)
                if retry_kind(event.reason) == "other":
                    record.detail = event.reason
            elif isinstance(event, RunFinished):
                result = event.result
                record.steps = len(result.steps)
                if not result.ok:
                    record.outcome, record.detail = f"stop: {result.stop_reason}", result.error or ""
                elif result.output != answer:
                    record.outcome, record.detail = "wrong answer", result.output[:200]
                elif runs != list(range(1, calls + 1)):
                    record.outcome, record.detail = "tool runs wrong", str(runs)
                else:
                    record.outcome = "answered"
            elif isinstance(event, RunFailed) and event.result is not None:
                record.steps = len(event.result.steps)
    except ModelError as exc:
        what = f"HTTP {exc.status}" if exc.status is not None else retry_kind(str(exc))
        record.outcome = f"{type(exc).__name__}: {what}"
        record.detail = str(exc)
    except Exception as exc:
        record.outcome, record.detail = f"crash: {type(exc).__name__}", repr(exc)
    finally:
        record.seconds = time.monotonic() - started


@dataclass
class Row:
    backend: str
    idle: float
    records: list[RunRecord]
    wall: float
    cpu: tuple[float, float]
    rss_mb: float
    server: ServerView
    transcript_bytes: int | None = None

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.records if r.outcome == outcome)

    @property
    def failed(self) -> Counter[str]:
        return Counter(r.outcome for r in self.records if r.outcome not in ("answered", "hung"))

    @property
    def retries(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for r in self.records:
            total.update(r.retries)
        return total


async def measure(backend: str, idle: float, base_url: str, args: argparse.Namespace) -> Row:
    with contextlib.ExitStack() as stack:
        directory: str | None = None
        if args.transcripts:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="load_faults-"))
        agent = Agent(
            None,
            base_url,
            backend=backend,
            tools=[step],
            system_prompt="You are a careful agent.",
            timeouts=Timeouts(idle=idle),
            transcripts=directory or False,
        )
        records = [RunRecord() for _ in range(args.runs)]

        async def bounded(record: RunRecord) -> None:
            started = time.monotonic()
            try:
                await asyncio.wait_for(one_run(agent, args.calls, args.answer, record), args.run_timeout)
            except asyncio.TimeoutError:
                record.outcome, record.seconds = "hung", time.monotonic() - started

        c0, t0 = _cpu(), time.monotonic()
        async with agent:
            await asyncio.gather(*(bounded(r) for r in records))
        wall, c1 = time.monotonic() - t0, _cpu()
        cpu = (c1[0] - c0[0], c1[1] - c0[1])
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        size = None
        if directory is not None:
            size = sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())
        return Row(backend, idle, records, wall, cpu, rss, ServerView(), size)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def print_table(rows: list[Row], args: argparse.Namespace, load: tuple[float, float], rss: float) -> None:
    print(
        f"\n{args.runs} concurrent runs per row on one Agent, {args.calls + 1} model requests per run, "
        f"{args.latency * 1000:.0f} ms latency, {args.rate:.0%} of POSTs faulted (seed {args.seed})\n"
    )
    heads = [
        "backend",
        "idle s",
        "runs",
        "answered",
        "failed",
        "hung",
        "retries",
        *RETRY_KINDS,
        "cont/restart",
        "POSTs srv",
        "steps+retries",
        "faults srv",
        "GET models",
        "wall s",
        "CPU s cli/srv",
        "CPU wait s",
        "p50 s",
        "p99 s",
        "peak RSS MB",
    ]
    lines = []
    for row in rows:
        retries = row.retries
        done = [r.seconds for r in row.records if r.outcome == "answered"]
        steps = sum(r.steps for r in row.records)
        lines.append(
            [
                row.backend,
                f"{row.idle:g}",
                str(len(row.records)),
                str(row.count("answered")),
                str(sum(row.failed.values())),
                str(row.count("hung")),
                str(sum(retries.values())),
                *(str(retries[k]) for k in RETRY_KINDS),
                f"{sum(r.continued for r in row.records)}/{sum(r.restarted for r in row.records)}",
                str(row.server.posts),
                str(steps + sum(retries.values())),
                str(sum(row.server.faults.values())),
                str(row.server.listings),
                f"{row.wall:.1f}",
                f"{row.cpu[0]:.1f}/{row.server.cpu[0]:.1f}",
                f"{row.cpu[1]:.1f}/{row.server.cpu[1]:.1f}",
                f"{statistics.median(done) if done else float('nan'):.2f}",
                f"{percentile(done, 0.99):.2f}",
                f"{row.rss_mb:.0f}",
            ]
        )
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(heads)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines:
        print(
            "| "
            + " | ".join(
                c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
            + " |"
        )
    print(
        "\nretries by reason: reset/cut = connection reset or stream cut (RST or FIN); 5xx = HTTP 500/503; "
        "429 = HTTP 429; stall = idle timeout. cont/restart = retries that continued a stream from "
        "the text received (completions) / restarted a turn whose text had begun (chat)."
    )
    print(
        "POSTs srv = model requests the server read; steps+retries = the client's count of the same "
        "(equal unless a run hung); faults srv = faults the server applied (a stall waited out is a "
        "fault with no retry)."
    )
    print(
        "CPU s cli/srv = CPU time of this process / of the fault server over the row; CPU wait s = time "
        "each was ready to run but waited for a CPU (other work on the machine): wall time beyond "
        "the latencies, stalls and backoffs is mostly this wait."
    )
    for row in rows:
        server = row.server
        faults = ", ".join(f"{k} {n}" for k, n in sorted(server.faults.items()))
        size = row.transcript_bytes
        print(
            f"- {row.backend}, idle {row.idle:g} s: faults {faults or 'none'}; continued prompts seen by "
            f"the server {server.continued}; connections {server.connections} (at most "
            f"{server.peak_open} open at once)" + (f"; transcripts {size / 1e6:.1f} MB" if size else "")
        )
        for outcome, n in sorted(row.failed.items()):
            example = next(r.detail for r in row.records if r.outcome == outcome)
            print(f"  FAILED {n} x {outcome}: {example[:300]}")
        if row.count("hung"):
            print(f"  HUNG {row.count('hung')} runs (bound {args.run_timeout:g} s)")
        others = Counter(r.detail for r in row.records if r.retries["other"])
        for detail, n in others.most_common(3):
            print(f"  other retry reason ({n} runs): {detail[:300]}")
        if row.server.posts != sum(r.steps for r in row.records) + sum(row.retries.values()):
            print("  note: the server read a different number of model requests than the client counted")
    print(
        f"\nload average {load[0]:.2f} before, {load[1]:.2f} after (1 min); {os.cpu_count()} CPUs; "
        f"peak RSS is this process's high-water mark so far ({rss:.0f} MB before the first row)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="concurrent runs per row")
    parser.add_argument("--backend", choices=("completions", "chat", "both"), default="both")
    parser.add_argument("--calls", type=int, default=3, help="tool calls per run before the answer")
    parser.add_argument("--rate", type=float, default=0.1, help="share of POSTs that get a fault")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds before a stream's first event")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault draws and of the retry jitter")
    parser.add_argument(
        "--kind", action="append", help=f"a fault of the mix (repeat; default: {' '.join(KINDS)})"
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        action="append",
        help=f"the Agent's idle_timeout, one row each (repeat; default: {DEFAULT_IDLE_TIMEOUT:g} and 2)",
    )
    parser.add_argument(
        "--run-timeout", type=float, default=120.0, help="seconds before a run counts as hung"
    )
    parser.add_argument(
        "--transcripts", action="store_true", help="write transcripts to a temporary directory"
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # internal: run the fault server
    args = parser.parse_args()
    if args.serve:
        serve(json.loads(args.serve))
        return
    sys.path.insert(0, str(ROOT))
    from tests.fault_server import ANSWER, parse_fault

    args.answer = ANSWER
    kinds = args.kind or list(KINDS)
    for text in kinds:
        parse_fault(text)  # a typo fails here, not in the server process
    idles = args.idle_timeout or [DEFAULT_IDLE_TIMEOUT, 2.0]
    backends = ("completions", "chat") if args.backend == "both" else (args.backend,)
    random.seed(args.seed)
    config = {
        "calls": args.calls,
        "rate": args.rate,
        "seed": args.seed,
        "kinds": kinds,
        "latency": args.latency,
    }
    load_before = os.getloadavg()[0]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = []
    for backend in backends:
        for idle in idles:
            view = ServerView()
            with fault_server(config, view) as base_url:
                row = asyncio.run(measure(backend, idle, base_url, args))
            row.server = view
            rows.append(row)
    print_table(rows, args, (load_before, os.getloadavg()[0]), rss)
    bad = [r for r in rows if r.failed or r.count("hung") or r.server.listings != 1]
    if bad:
        print(f"\nFAIL: {len(bad)} row(s) had failed or hung runs, or listed the models more than once")
        sys.exit(1)


if __name__ == "__main__":
    main()
