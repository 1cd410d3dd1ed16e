"""How much of each step's prompt vLLM serves from its prefix cache, per backend.

A 5-step agent loop (four think-and-call steps, then the answer) with a long system prompt,
as real agents have. vLLM's `/metrics` counters `vllm:prefix_cache_queries_total` and
`vllm:prefix_cache_hits_total` are read before and after every model call. On the CPU
backend the cache works in blocks of 128 tokens, so a step can reuse at most the whole
blocks of the request before it (its prompt and its output).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from agentkit import Agent, tool
from agentkit.backends.chat import ChatBackend
from agentkit.backends.completions import CompletionsBackend
from agentkit.context import ContextPolicy
from agentkit.events import RunFinished, StepFinished, StepStarted

from .conftest import VllmServer
from .forcing import Script

QUERIES = "vllm:prefix_cache_queries_total"
HITS = "vllm:prefix_cache_hits_total"

RULES = "\n".join(
    f"{i}. When the user asks about item {i}, look it up with the lookup tool before answering; "
    "never guess a value, and report the unit the tool gives."
    for i in range(1, 40)
)


@tool
def lookup(item: int) -> str:
    """Look up an item's value.

    Args:
        item: The item number.
    """
    return f"item {item} = {item * 7} kg"


def step(i: int) -> str:
    return (
        f"<think>\nI still need item {i}.\n</think>\n\n"
        f'<tool_call>\n{{"name": "lookup", "arguments": {{"item": {i}}}}}\n</tool_call>'
    )


TURNS = [
    step(1),
    step(2),
    step(3),
    step(4),
    "<think>\nI have all four.\n</think>\n\nItems 1-4 weigh 7, 14, 21 and 28 kg.",
]


@pytest.mark.parametrize("kind", ["completions", "chat"])
async def test_prefix_cache_share_over_steps_2_to_5(
    kind: str, vllm_server: VllmServer, tiny_tokenizer: Any, report: Any
) -> None:
    script = Script(TURNS, tiny_tokenizer)
    cls = CompletionsBackend if kind == "completions" else ChatBackend
    backend = cls(vllm_server.base_url, vllm_server.model, extra_body=script)
    # A fresh system prompt per run, so no other test's prompt is in the cache.
    system = f"Session {uuid.uuid4()}.\n{RULES}"
    # The prompt fills most of the 2,048-token window: compaction (tested on its own in
    # test_vllm_faults.py) would drop old thinking near the end; this measures the prompt as is.
    agent = Agent(
        vllm_server.model, backend=backend, tools=[lookup], system_prompt=system, thinking="on",
        context=ContextPolicy(enabled=False),
    )  # fmt: skip
    rows: list[tuple[int, float, float, int, int, int]] = []
    before: dict[str, float] = {}
    async for event in agent.stream("What do items 1 to 4 weigh?"):
        if isinstance(event, StepStarted):
            before = vllm_server.metrics()
        elif isinstance(event, StepFinished):
            after = vllm_server.metrics()
            usage = event.usage
            queries, hits = after[QUERIES] - before[QUERIES], after[HITS] - before[HITS]
            rows.append(
                (event.step, queries, hits, usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens)
            )
        elif isinstance(event, RunFinished):
            assert event.result.ok, event.result.stop_reason
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5]

    later = rows[1:]
    share = sum(r[2] for r in later) / sum(r[1] for r in later)
    # At most the whole 128-token blocks of the previous request (prompt and output) are cached.
    bound = sum((prev[3] + prev[5]) // 128 * 128 for prev in rows[:-1]) / sum(r[1] for r in later)
    lines = [
        f"prefix cache, {kind} backend: step | prompt tokens | cache queries | hits | usage cached_tokens"
    ]
    lines += [f"  {n} | {prompt} | {q:.0f} | {h:.0f} | {c}" for n, q, h, prompt, c, _ in rows]
    lines.append(
        f"  steps 2-5: {share:.1%} of prompt tokens served from the prefix cache "
        f"(whole blocks of the previous request allow {bound:.1%})"
    )
    report(f"prefix_cache_{kind}", "\n".join(lines), **{f"prefix_cache_share_{kind}": round(share, 4)})

    for _, queries, hits, prompt, cached, _ in rows:
        assert queries == prompt and hits == cached
    # Every whole block of the previous request is reused: the completions backend's prompt
    # extends the previous one byte for byte, and the server's re-rendering of the chat
    # history reproduces what the model wrote.
    assert share == pytest.approx(bound)
    assert share > 0.9
