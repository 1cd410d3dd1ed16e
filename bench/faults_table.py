"""Each model-server fault, met by the real `agentkit run` CLI: what agentkit did, how long it
took to recover or to say it could not, and the exit code.

The server is tests/fault_server.py on loopback (a tool loop of one call, then an answer);
each case plans one fault for one request and runs `agentkit run` as a subprocess with its
defaults, except where the case names an option (shorter idle or retry times, so that the
table takes seconds; the defaults are 120 s each). Both backends.

    python bench/faults_table.py [--backend completions|chat|both]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fault_server import (  # noqa: E402
    Cut,
    Empty,
    ErrorEvent,
    FaultServer,
    Html,
    Reset,
    Stall,
    Status,
    Trickle,
    accept_and_hang,
    context_length_error,
)

TOOL = '''
import time
from agentkit import tool

@tool
def step(n: int) -> str:
    """Do step n."""
    time.sleep(0.5)
    return f"step {n} done"
'''


@dataclass
class Case:
    name: str
    plan: list[Any] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    during: Callable[[FaultServer], None] | None = None  # runs beside the CLI (outages)
    server: str = "fault"  # "fault", "hang" (accepts, never answers) or "none" (refused)


def outage(seconds: float | None) -> Callable[[FaultServer], None]:
    """Take the server down once the run's first request is answered; bring it back after
    `seconds` (None: never)."""

    def act(server: FaultServer) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not [r for r in server.requests if r.method == "POST"]:
            time.sleep(0.01)
        time.sleep(0.2)  # the tool runs 0.5 s: the server goes while it does
        server.down()
        if seconds is not None:
            time.sleep(seconds)
            server.up()

    return act


CASES = [
    Case("no fault (the baseline: CLI start-up, two steps, a 0.5 s tool)"),
    Case("reset before the response", [None, Reset()]),
    Case("HTTP 500", [None, Status(500)]),
    Case("HTTP 502", [None, Status(502)]),
    Case("HTTP 503", [None, Status(503)]),
    Case("HTTP 504", [None, Status(504)]),
    Case("HTTP 408", [None, Status(408)]),
    Case("HTTP 429, Retry-After: 2", [None, Status(429, retry_after=2)]),
    Case("empty 200", [None, Empty()]),
    Case("HTML 502 page with status 200", [None, Html()]),
    Case("stream cut (FIN)", [Cut(after=5)]),
    Case("stream cut (RST)", [Cut(after=5, end="reset")]),
    Case("stream closed, no finish_reason, no [DONE]", [Cut(after=5, end="terminator")]),
    Case("stream cut inside <tool_call>", [Cut(after=8)]),
    Case("finish_reason but no [DONE]", [Cut(after=None, end="terminator")]),
    Case("error event mid-stream", [ErrorEvent(after=3)]),
    Case("stall 30 s mid-stream (--idle-timeout 2)", [Stall(seconds=30, after=3)], ["--idle-timeout", "2"]),
    Case("trickle, 1 byte/s (--idle-timeout 2)", [Trickle(interval=1.0)], ["--idle-timeout", "2"]),
    Case(
        "port accepts, never answers (--idle-timeout 2 --retry-time 5)",
        options=["--idle-timeout", "2", "--retry-time", "5"],
        server="hang",
    ),
    Case("no server at all (connection refused)", server="none"),
    Case("server down 3 s mid-run", during=outage(3)),
    Case("server down for good mid-run (--retry-time 5)", options=["--retry-time", "5"], during=outage(None)),
    Case("HTTP 400 (a request the server rejects)", [None, Status(400)]),
    Case("HTTP 401", [Status(401, body='{"error": {"message": "Unauthorized"}}')]),
    Case("context-length 400", [None, context_length_error(32768, 33000, 100)]),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_case(case: Case, backend: str, tool_file: Path) -> tuple[str, float, int, str]:
    """(what agentkit did, seconds, exit code, last stderr line)."""
    runs = Path(tempfile.mkdtemp(prefix="faults-runs-"))
    env = {**os.environ, "AGENTKIT_RUNS_DIR": str(runs), "NO_COLOR": "1"}

    def cli(base_url: str) -> tuple[subprocess.CompletedProcess[str], float]:
        command = [sys.executable, "-m", "agentkit.cli", "run", "Do the step.", "--base-url", base_url,
                   "--backend", backend, "--tools", str(tool_file), "--hide-thinking", *case.options]  # fmt: skip
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        return done, time.monotonic() - started

    if case.server == "hang":
        with accept_and_hang() as hang:
            done, took = cli(hang.base_url)
    elif case.server == "none":
        done, took = cli(f"http://127.0.0.1:{free_port()}/v1")
    else:
        fault_paths = {"/v1/completions", "/v1/chat/completions"}
        with FaultServer(plan=case.plan, fault_paths=fault_paths).in_thread() as server:
            helper = threading.Thread(target=case.during, args=(server,)) if case.during else None
            if helper:
                helper.start()
            done, took = cli(server.base_url)
            if helper:
                helper.join(30)
    return what_happened(runs, done), took, done.returncode, (done.stderr.strip().splitlines() or [""])[-1]


def what_happened(runs: Path, done: subprocess.CompletedProcess[str]) -> str:
    records = [json.loads(line) for path in runs.glob("*.jsonl") for line in path.read_text().splitlines()]
    retries = [r for r in records if r["type"] == "model_retry"]
    compactions = [r for r in records if r["type"] == "compacted"]
    parts = []
    if retries:
        kinds = {"restarted the step" if r.get("restart") else "continued the stream" if r.get("kept")
                 else "retried" for r in retries}  # fmt: skip
        parts.append(f"{len(retries)} retr{'y' if len(retries) == 1 else 'ies'} ({', '.join(sorted(kinds))})")
    if compactions:
        parts.append(f"compacted {compactions[0]['tokens_before']}→{compactions[0]['tokens_after']} tokens")
    outcome = "answered" if done.returncode == 0 else "stopped"
    runs_ = [r for r in records if r["type"] == "tool_call_started"]
    ran = len([r for r in runs_ if not r.get("reused")])
    parts.append(f"{outcome}; the tool ran {ran} time{'s' if ran != 1 else ''}")
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["completions", "chat", "both"], default="both")
    parser.add_argument("--only", help="run the cases whose name holds this text")
    args = parser.parse_args()
    backends = ["completions", "chat"] if args.backend == "both" else [args.backend]
    tool_file = Path(tempfile.mkdtemp()) / "step_tool.py"
    tool_file.write_text(TOOL)
    cases = [c for c in CASES if not args.only or args.only in c.name]
    print(f"{'fault':<62} {'backend':<12} {'exit':>4} {'time':>7}  what agentkit did")
    for case in cases:
        for backend in backends:
            did, took, code, last = run_case(case, backend, tool_file)
            print(f"{case.name:<62} {backend:<12} {code:>4} {took:>6.2f}s  {did}", flush=True)
            if code not in (0,):
                print(f"{'':<62} {'':<12}      {'':>7}  └ {last[:160]}")


if __name__ == "__main__":
    main()
