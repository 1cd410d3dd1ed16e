"""The review batch in Python: `Agent.batch` over the tasks file, each result as it finishes.

python examples/batch/summarize.py              # a Qwen3 on http://127.0.0.1:8000/v1
python examples/batch/summarize.py --offline    # no server: each task's turns from script.json

It is the batch `agentkit batch examples/batch/tasks.jsonl -o reviews.jsonl` runs, with the
same results file: tasks already in reviews.jsonl (run by either) are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from agentkit import Agent, BatchProgress, ScriptedBackend
from agentkit.backends.scripted import load_script
from agentkit.batch import read_tasks

HERE = Path(__file__).parent


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offline", action="store_true", help="a scripted model instead of a server")
    parser.add_argument("--base-url", default=None, help="the Qwen3 server (default: agentkit's)")
    args = parser.parse_args()

    backend = ScriptedBackend(load_script(HERE / "script.json")) if args.offline else "completions"
    agent = Agent(base_url=args.base_url, backend=backend, builtins=["files"], workspace=HERE)
    progress = BatchProgress()
    tasks = read_tasks(HERE / "tasks.jsonl")
    async for result in agent.batch(tasks, concurrency=4, results="reviews.jsonl", progress=progress):
        print(f"{result.id} ({result.stop_reason}, {result.steps} steps): {result.error or result.output}")
    if progress.skipped:
        print(f"{progress.skipped} of {len(tasks)} tasks were already in reviews.jsonl: skipped")


if __name__ == "__main__":
    asyncio.run(main())
