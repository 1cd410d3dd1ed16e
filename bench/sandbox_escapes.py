"""Every escape and abuse case of tests/sandbox_cases.py, through the real `run_python` and
`run_shell`, with the sandbox (mode required) and without it (mode off): what each gave.

Without the sandbox, the fork bomb through run_shell is not run: run_shell has no process
limit there, and as root it would take the machine down.

    python bench/sandbox_escapes.py [--mode both|required|off]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentkit.sandbox import SandboxPolicy, sandbox_status  # noqa: E402
from tests.sandbox_cases import CASES, TOOLS, Env  # noqa: E402

UNSAFE_OFF = {("fork bomb", "run_shell")}


async def run_case(mode: str, name: str, tool: str) -> tuple[str, float]:
    if mode == "off" and (name, tool) in UNSAFE_OFF:
        return "not run (no process limit without the sandbox)", 0.0
    case = dict(CASES)[name]
    with tempfile.TemporaryDirectory() as folder:
        env = Env(Path(folder), SandboxPolicy(mode))  # type: ignore[arg-type]
        started = time.monotonic()
        try:
            blocked, what = await case(env, TOOLS[tool])
        finally:
            await env.close()
    return f"{'blocked' if blocked else 'ESCAPED'}: {what}", time.monotonic() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["both", "required", "off"], default="both")
    args = parser.parse_args()
    modes = ["required", "off"] if args.mode == "both" else [args.mode]
    status = sandbox_status()
    print(f"sandbox here: {status.tool if status.available else status.problem}")
    print(f"{'case':42} {'tool':11} {'mode':9} {'time':>6}  what it gave")
    for name, _ in CASES:
        for tool in TOOLS:
            for mode in modes:
                what, took = await run_case(mode, name, tool)
                print(f"{name:42} {tool:11} {mode:9} {took:5.1f}s  {what}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
