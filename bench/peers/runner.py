"""Run one framework's 10-step tool loop in this process, and print what it cost as JSON.

The harness (bench/peers/compare.py) starts one runner process per framework and
measurement, so that no framework pays for another's imports, threads or garbage.

    python bench/peers/runner.py "agentkit chat" --base-url URL steps --runs 20
    python bench/peers/runner.py smolagents --base-url URL load --concurrency 64

`steps`: runs one after another; each run's CPU and wall time per model call.
`load`: `--concurrency` runs at once, each starting a new run when one ends; over a window
after a warm-up, the model calls finished per second, the run times of the runs that
finished in it, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[2]))
from bench.peers.adapters import FRAMEWORKS, STEPS, TOOL_CALLS, Framework, Run, Unsupported

RESULT_FD = 1  # where the result goes: the original stdout


async def call(framework: Framework, run: Run) -> int:
    """One run, awaited (a sync framework's in a thread)."""
    if framework.sync:
        return int(await asyncio.to_thread(run))
    return int(await run())


async def steps(framework: Framework, base_url: str, stream: bool, runs: int, warmup: int) -> dict[str, Any]:
    """CPU and wall milliseconds per model call of `runs` runs one after another."""
    run = await framework.make(base_url, stream, 1)
    cpu, wall = [], []
    for i in range(warmup + runs):
        tools = next(TOOL_CALLS)
        c0, w0 = time.process_time(), time.perf_counter()
        calls = int(run()) if framework.sync else int(await run())
        c1, w1 = time.process_time(), time.perf_counter()
        tools = next(TOOL_CALLS) - tools - 1
        if calls != STEPS or tools != STEPS - 1:
            raise AssertionError(
                f"{framework.name}: {calls} model calls and {tools} tool calls, not 10 and 9"
            )
        if i >= warmup:
            cpu.append((c1 - c0) / calls * 1000)
            wall.append((w1 - w0) / calls * 1000)
    return {"cpu_ms": cpu, "wall_ms": wall}


async def load(
    framework: Framework, base_url: str, stream: bool, concurrency: int, warmup: float, window: float
) -> dict[str, Any]:
    """Model calls a second with `concurrency` runs at once, over `window` seconds after `warmup`."""
    if framework.sync:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(concurrency))
    run = await framework.make(base_url, stream, concurrency)
    answers = 0  # runs finished: their last model call is their answer, not a tool call
    finished: list[tuple[float, float]] = []  # (end, duration) of every run
    lock = threading.Lock()
    errors: list[str] = []

    async def worker() -> None:
        nonlocal answers
        while True:
            start = time.perf_counter()
            try:
                await call(framework, run)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                raise
            end = time.perf_counter()
            with lock:
                answers += 1
                finished.append((end, end - start))

    def done() -> int:
        return next(TOOL_CALLS) + answers  # model calls so far (next() adds one: it is subtracted below)

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await asyncio.sleep(warmup)
    if errors:
        raise RuntimeError(errors[0])
    calls0, cpu0, t0 = done(), time.process_time(), time.perf_counter()
    await asyncio.sleep(window)
    calls1, cpu1, t1 = done(), time.process_time(), time.perf_counter()
    if errors:
        raise RuntimeError(errors[0])
    for task in tasks:
        task.cancel()
    durations = sorted(d for end, d in finished if t0 <= end <= t1)
    return {
        "calls_per_s": (calls1 - calls0 - 1) / (t1 - t0),
        "cpu_ms_per_call": (cpu1 - cpu0) / max(calls1 - calls0 - 1, 1) * 1000,
        "runs": len(durations),
        "run_p50_s": durations[len(durations) // 2] if durations else None,
        "run_p99_s": durations[min(len(durations) - 1, int(0.99 * len(durations)))] if durations else None,
        "peak_rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM, which starts afresh at exec. (ru_maxrss
    does not: Linux keeps the parent's peak across fork and exec, so every runner started by
    a harness that had grown to 90 MB reported 90 MB.)"""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("framework", choices=sorted(FRAMEWORKS))
    parser.add_argument("--base-url", required=True, help="the stub server, e.g. http://127.0.0.1:8765/v1")
    parser.add_argument("--no-stream", action="store_true", help="ask for whole answers, not streams")
    modes = parser.add_subparsers(dest="mode", required=True)
    one = modes.add_parser("steps", help="runs one after another")
    one.add_argument("--runs", type=int, default=20)
    one.add_argument("--warmup", type=int, default=3, help="runs not counted")
    many = modes.add_parser("load", help="runs at once")
    many.add_argument("--concurrency", type=int, default=64)
    many.add_argument("--warmup", type=float, default=3.0, help="seconds not counted")
    many.add_argument("--window", type=float, default=10.0, help="seconds counted")
    args = parser.parse_args()
    framework = FRAMEWORKS[args.framework]
    # What the frameworks print (smolagents draws its streamed output even when told to be
    # quiet) goes to stderr; the result alone to stdout.
    global RESULT_FD
    RESULT_FD = os.dup(1)
    os.dup2(2, 1)
    stream = not args.no_stream
    if args.mode == "steps":
        measure = steps(framework, args.base_url, stream, args.runs, args.warmup)
    else:
        measure = load(framework, args.base_url, stream, args.concurrency, args.warmup, args.window)
    asyncio.run(report(measure))


async def report(measure: Coroutine[Any, Any, dict[str, Any]]) -> None:
    """Print the measurement as one line of JSON, and leave at once: the runs still under way
    in threads (the sync frameworks') cannot be cancelled, and nothing else needs closing."""
    try:
        result = await measure
    except Unsupported as exc:
        result = {"unsupported": str(exc)}
    os.write(RESULT_FD, (json.dumps(result) + "\n").encode())
    os._exit(0)


if __name__ == "__main__":
    main()
