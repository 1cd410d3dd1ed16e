"""What the sandbox costs: the time to start run_python's worker and the time per call,
and run_shell's time per call, with bubblewrap (mode required) and without it (mode off).

Each figure is the median of N runs (and the 90th percentile), measured around the real
tool call as the loop makes it. A first call includes the worker's start; later calls reuse
the worker. run_shell starts a process (and, sandboxed, a sandbox) for every call.

    python bench/sandbox_cost.py [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentkit.builtins.python import run_python  # noqa: E402
from agentkit.builtins.shell import run_shell  # noqa: E402
from agentkit.sandbox import SandboxPolicy, sandbox_status  # noqa: E402
from agentkit.tools.scope import RunScope  # noqa: E402
from agentkit.tools.tool import ToolContext  # noqa: E402


async def timed(tool: object, arguments: dict[str, object], ctx: ToolContext) -> float:
    started = time.perf_counter()
    result = await tool.call(arguments, ctx)  # type: ignore[attr-defined]
    took = time.perf_counter() - started
    assert not result.is_error and "Traceback" not in result.content, result.content
    return took


async def measure(mode: str, runs: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"python start + first call": [], "python call": [], "shell call": []}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            scope = RunScope(folder, SandboxPolicy(mode))  # type: ignore[arg-type]
            python = ToolContext(tool_name="run_python", scope=scope)
            shell = ToolContext(tool_name="run_shell", scope=scope)
            try:
                figures["python start + first call"].append(
                    await timed(run_python, {"code": "1 + 1"}, python)
                )
                figures["python call"].append(await timed(run_python, {"code": "sum(range(10))"}, python))
                figures["shell call"].append(await timed(run_shell, {"command": "echo hi > f.txt"}, shell))
            finally:
                await scope.aclose()
    return figures


def ms(values: list[float], q: float) -> str:
    ordered = sorted(values)
    return f"{1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.1f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    status = sandbox_status()
    if not status.available:
        sys.exit(f"no sandbox here: {status.problem}")
    results = {mode: await measure(mode, args.runs) for mode in ("off", "required")}
    print(f"{status.tool}; {args.runs} runs each; milliseconds (median / p90)")
    print(f"{'':28} {'no sandbox':>16} {'sandbox':>16} {'added':>9}")
    for name in results["off"]:
        off, on = results["off"][name], results["required"][name]
        added = 1000 * (statistics.median(on) - statistics.median(off))
        print(
            f"{name:28} {ms(off, 0.5):>7} / {ms(off, 0.9):>6} {ms(on, 0.5):>7} / {ms(on, 0.9):>6} {added:>8.1f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
