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

`--floor` compares instead agentkit with a bare aiohttp client at one concurrency (64 by
default) against one endpoint with a slot for every run, so that only the clients differ:
the bare client replays agentkit's own request bodies, ten per run, and reads each stream's
bytes without parsing them. Rounds alternate which client goes first.

    python bench/batch_scaling.py [--latency 0.05] [--slots 8] [--runs 40]
    python bench/batch_scaling.py --floor [--concurrency 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentkit import Agent, BatchProgress, tool

sys.path.insert(0, str(Path(__file__).parents[1]))
from bench.step_overhead import free_port, recording, wait_for_port

STEPS = 10
SYSTEM = "You are a careful agent."


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
    agent = Agent("stub", urls, tools=[step], transcripts=False, system_prompt=SYSTEM)
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


async def _bodies(url: str) -> list[bytes]:
    """The request bodies of one agentkit run, as the bare client replays them."""
    from agentkit.backends.completions import CompletionsBackend

    sent: list[dict[str, Any]] = []
    backend = recording(CompletionsBackend, sent)(url, "stub")
    agent = Agent("stub", url, backend=backend, tools=[step], transcripts=False, system_prompt=SYSTEM)
    result = await agent.run("task 0")
    await agent.aclose()
    assert result.ok and len(sent) == STEPS, result.stop_reason
    return [json.dumps(fields, ensure_ascii=False).encode() for fields in sent]


async def _agentkit_runs(url: str, runs: int, concurrency: int, folder: str | None) -> list[float]:
    """Each run's wall seconds, `runs` runs of agentkit `concurrency` at a time (a batch),
    writing transcripts into `folder` (None: none, as the peers' harness runs it)."""
    agent = Agent("stub", url, tools=[step], transcripts=folder or False, system_prompt=SYSTEM)
    warm = [r async for r in agent.batch([f"warm-up {i}" for i in range(4)], concurrency=4)]
    assert all(r.ok for r in warm)
    results = [r async for r in agent.batch([f"task {i}" for i in range(runs)], concurrency=concurrency)]
    await agent.aclose()
    assert all(r.ok and r.steps == STEPS for r in results)
    return [r.duration for r in results]


async def _bare_runs(url: str, bodies: list[bytes], runs: int, concurrency: int) -> list[float]:
    """Each run's wall seconds, `runs` replays of `bodies` by a bare aiohttp client,
    `concurrency` at a time on one session."""
    import aiohttp

    headers = {"Content-Type": "application/json"}
    times: list[float] = []
    left = iter(range(runs))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one() -> float:
            started = time.monotonic()
            for body in bodies:
                async with session.post(url + "/completions", data=body, headers=headers) as resp:
                    async for _ in resp.content.iter_any():
                        pass
            return time.monotonic() - started

        async def worker() -> None:
            for _ in left:
                times.append(await one())

        await one()  # warm-up
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return times


def versus_floor(concurrency: int, latency: float, runs: int, rounds: int) -> None:
    """agentkit against the bare client at one concurrency, same endpoint, alternating."""
    ideal = concurrency / (STEPS * latency)
    names = ("agentkit", "agentkit+transcripts", "bare aiohttp")
    rows: dict[str, list[tuple[float, float, list[float]]]] = {name: [] for name in names}
    with endpoints(1, latency, concurrency) as (urls, _), tempfile.TemporaryDirectory() as folder:
        bodies = asyncio.run(_bodies(urls[0]))
        clients = {
            "agentkit": lambda: _agentkit_runs(urls[0], runs, concurrency, None),
            "agentkit+transcripts": lambda: _agentkit_runs(urls[0], runs, concurrency, folder),
            "bare aiohttp": lambda: _bare_runs(urls[0], bodies, runs, concurrency),
        }
        for i in range(rounds):
            for name in list(clients)[:: 1 if i % 2 == 0 else -1]:
                wall, cpu = time.monotonic(), time.process_time()
                times = asyncio.run(clients[name]())
                rows[name].append((time.monotonic() - wall, time.process_time() - cpu, times))
    print(
        f"\n{runs} 10-step runs, {concurrency} at a time, one stub endpoint ({concurrency} slots x "
        f"{latency * 1000:g} ms): ideal {ideal:.1f} runs/s; median of {rounds} rounds\n"
    )
    print(
        "| client               | runs/s | of ideal | run p50 s | run p99 s | CPU ms/step | runs/s vs bare |"
    )
    print(
        "|----------------------|--------|----------|-----------|-----------|-------------|----------------|"
    )
    bare = statistics.median(runs / wall for wall, _, _ in rows["bare aiohttp"])
    for name, measured in rows.items():
        rate = statistics.median(runs / wall for wall, _, _ in measured)
        cpu = statistics.median(cpu / (runs * STEPS) * 1000 for _, cpu, _ in measured)
        times = sorted(t for _, _, ts in measured for t in ts)
        p50, p99 = times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]
        print(
            f"| {name:<20} | {rate:6.1f} | {rate / ideal:7.0%}  | {p50:9.3f} | {p99:9.3f} "
            f"| {cpu:11.2f} | {rate / bare:13.0%}  |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds each request holds a slot")
    parser.add_argument("--slots", type=int, default=8, help="requests an endpoint serves at once")
    parser.add_argument("--runs", type=int, default=40, help="10-step runs per endpoint and row")
    parser.add_argument("--floor", action="store_true", help="agentkit against a bare aiohttp client")
    parser.add_argument("--concurrency", type=int, default=64, help="runs at once, with --floor")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each client, with --floor")
    args = parser.parse_args()
    if args.floor:
        versus_floor(args.concurrency, args.latency, args.runs * 8, args.rounds)
        return
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
