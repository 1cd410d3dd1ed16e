"""Batch throughput against 1, 2 and 4 endpoints of a stub server of fixed capacity.

Each endpoint is bench/stub_server.py in its own process, with `--slots` places held
`--latency` seconds per request (a GPU's fixed capacity: `slots / latency` requests a
second). One `Agent` with every endpoint's base URL runs a batch of 10-step tool loops
(nine calls, then the answer) at a concurrency above what the endpoints can serve, so that
the endpoints are the limit, until the client's own CPU is. Runs per row grow with the
endpoints so that each row lasts about as long.

Per row: runs/s, steps/s, the servers' bound (endpoints x slots / latency), the client's CPU
per step and its share of one core (an asyncio client uses one core), and the stub servers'
CPU. The last row lifts the capacity limit (no slots, no latency) to show the client's own
ceiling: where its CPU is the limit.

    python bench/batch_scaling.py [--latency 0.05] [--slots 8] [--runs 40]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from agentkit import Agent, BatchProgress, tool

sys.path.insert(0, str(Path(__file__).parents[1]))
from bench.step_overhead import free_port, wait_for_port

STEPS = 10


@tool
async def step(n: int) -> str:
    """Do one step of the task."""
    return f"step {n} done"


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process so far (Linux /proc)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def endpoints(count: int, latency: float, slots: int) -> Iterator[tuple[list[str], list[int]]]:
    """`count` stub servers in their own processes; their base URLs and pids."""
    script = str(Path(__file__).with_name("stub_server.py"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        urls = []
        for _ in range(count):
            port = free_port()
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        script,
                        "--port",
                        str(port),
                        "--calls",
                        str(STEPS - 1),
                        "--token-delay",
                        "0",
                        "--latency",
                        str(latency),
                        "--slots",
                        str(slots),
                    ]
                )
            )
            wait_for_port(port)
            urls.append(f"http://127.0.0.1:{port}/v1")
        yield urls, [p.pid for p in procs]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


async def batch(urls: list[str], runs: int, concurrency: int) -> tuple[float, float, BatchProgress]:
    """Wall seconds and client CPU seconds of a batch, and its progress counts."""
    agent = Agent("stub", urls, tools=[step], transcripts=False, system_prompt="You are a careful agent.")
    warm = [
        r
        async for r in agent.batch([f"warm-up {i}" for i in range(len(urls) * 2)], concurrency=len(urls) * 2)
    ]
    assert all(r.ok for r in warm)
    progress = BatchProgress()
    wall, cpu = time.monotonic(), time.process_time()
    results = [
        r
        async for r in agent.batch(
            [f"task {i}" for i in range(runs)], concurrency=concurrency, progress=progress
        )
    ]
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    bad = [r for r in results if not r.ok or r.steps != STEPS]
    assert not bad, bad[0]
    return wall, cpu, progress


def row(label: str, count: int, runs: int, concurrency: int, latency: float, slots: int) -> str:
    with endpoints(count, latency, slots) as (urls, pids):
        before = sum(cpu_seconds(p) for p in pids)
        wall, cpu, progress = asyncio.run(batch(urls, runs, concurrency))
        servers = sum(cpu_seconds(p) for p in pids) - before
    steps = progress.steps
    bound = f"{count * slots / latency:7.0f}" if slots else "      -"
    return (
        f"| {label:<22} | {runs:4d} | {concurrency:4d} | {runs / wall:6.1f} | {steps / wall:7.0f} | {bound} "
        f"| {cpu / steps * 1000:6.2f} | {cpu / wall * 100:5.0f}% | {servers / steps * 1000:6.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds each request holds a slot")
    parser.add_argument("--slots", type=int, default=8, help="requests an endpoint serves at once")
    parser.add_argument("--runs", type=int, default=40, help="10-step runs per endpoint and row")
    args = parser.parse_args()
    concurrency = 4 * args.slots * 2  # twice what four endpoints serve at once
    print(
        f"\nBatch throughput: 10-step runs, concurrency {concurrency}, stub endpoints of {args.slots} slots "
        f"x {args.latency * 1000:g} ms each\n"
    )
    print(
        "| endpoints              | runs | conc | runs/s | steps/s | bound/s | client CPU ms/step | client core | stub CPU ms/step |"
    )
    print(f"|{'-' * 24}|------|------|--------|---------|---------|{'-' * 20}|{'-' * 13}|{'-' * 18}|")
    for count in (1, 2, 4):
        print(row(f"{count}", count, args.runs * count, concurrency, args.latency, args.slots), flush=True)
    print(row("4, no capacity limit", 4, args.runs * 4, concurrency, 0.0, 0), flush=True)


if __name__ == "__main__":
    main()
