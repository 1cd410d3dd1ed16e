"""Agent runs against a real vLLM serving a tiny Qwen3, on both backends.

The model's weights are random, so each turn's text is forced (see `forcing.py`); the
server, its streaming, its parsers (chat backend) and agentkit's parser (completions
backend) are all real.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest

from agentkit import Agent, tool
from agentkit.backends.chat import ChatBackend
from agentkit.backends.completions import CompletionsBackend
from agentkit.events import (
    RunFinished,
    StepFinished,
    StepStarted,
    TextDelta,
    ThinkingDelta,
    ToolCallFinished,
    ToolCallStarted,
)
from agentkit.messages import ToolCallError

from .conftest import VllmServer
from .forcing import Script

WEATHER = {"Paris": "light rain, 14°C", "Tokyo": "clear, 22°C"}


@tool
def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: City name, e.g. "Paris".
    """
    return WEATHER[city]


def call(city: str, raw_city: str | None = None) -> str:
    value = raw_city if raw_city is not None else f'"{city}"'
    return f'<tool_call>\n{{"name": "get_weather", "arguments": {{"city": {value}}}}}\n</tool_call>'


THINK_AND_CALL = (
    "<think>\nI need the weather in both cities.\n</think>\n\n" + call("Paris") + "\n" + call("Tokyo")
)
ANSWER = "Paris has light rain (14°C); Tokyo is clear (22°C)."


def make_agent(kind: str, server: VllmServer, script: Script, **options: Any) -> Agent:
    cls = CompletionsBackend if kind == "completions" else ChatBackend
    backend = cls(server.base_url, server.model, extra_body=script)
    return Agent(server.model, backend=backend, tools=[get_weather], **options)


@pytest.mark.parametrize("kind", ["completions", "chat"])
async def test_think_parallel_calls_results_answer(
    kind: str, vllm_server: VllmServer, tiny_tokenizer: Any
) -> None:
    script = Script([THINK_AND_CALL, ANSWER], tiny_tokenizer)
    agent = make_agent(kind, vllm_server, script, system_prompt="You report the weather.")
    events = [event async for event in agent.stream("What's the weather in Paris and Tokyo?")]
    assert isinstance(events[-1], RunFinished)
    result = events[-1].result

    assert result.ok and result.output == ANSWER
    first = result.steps[0]
    assert first.message.reasoning == "I need the weather in both cities."
    assert [(c.name, c.arguments) for c in first.message.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Tokyo"}),
    ]
    assert [r.content for r in first.tool_results] == [WEATHER["Paris"], WEATHER["Tokyo"]]
    assert [s.decision.think for s in result.steps] == [True, False]
    assert (
        result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0 and result.usage.requests == 2
    )

    kinds = [type(e) for e in events]
    order = [
        kinds.index(StepStarted),
        kinds.index(ThinkingDelta),
        kinds.index(ToolCallStarted),
        kinds.index(ToolCallFinished),
        kinds.index(StepFinished),
        kinds.index(TextDelta),
        kinds.index(RunFinished),
    ]
    assert order == sorted(order)
    assert (
        "".join(e.text for e in events if isinstance(e, ThinkingDelta))
        == "I need the weather in both cities."
    )
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == ANSWER


async def test_step_latency_on_the_tiny_model(
    vllm_server: VllmServer, tiny_tokenizer: Any, report: Any
) -> None:
    lines = [
        f"vLLM start to /health: {vllm_server.started_in:.1f} s" if vllm_server.started_in else "vLLM: reused"
    ]
    for kind in ("completions", "chat"):
        per_step = []
        for _ in range(6):
            script = Script([THINK_AND_CALL, ANSWER], tiny_tokenizer)
            agent = make_agent(kind, vllm_server, script, system_prompt="You report the weather.")
            started = time.perf_counter()
            result = await agent.run("What's the weather in Paris and Tokyo?")
            per_step.append((time.perf_counter() - started) / len(result.steps))
            assert result.ok
        per_step = per_step[1:]  # the first run warms the server's caches
        lines.append(
            f"{kind}: {statistics.median(per_step) * 1000:.0f} ms per step (median of {len(per_step)} runs; "
            f"a step forces ~{len(tiny_tokenizer.encode(THINK_AND_CALL).ids)} or "
            f"{len(tiny_tokenizer.encode(ANSWER).ids)} tokens)"
        )
    report("step_latency", "step latency on the tiny model:\n  " + "\n  ".join(lines))


@pytest.mark.parametrize("kind", ["completions", "chat"])
async def test_thinking_off_sends_no_thinking_and_reads_plain_content(
    kind: str, vllm_server: VllmServer, tiny_tokenizer: Any
) -> None:
    script = Script(["Hello there."], tiny_tokenizer)
    result = await make_agent(kind, vllm_server, script, thinking="off").run("Say hello.")
    assert result.output == "Hello there."
    assert not result.steps[0].message.reasoning
    assert result.steps[0].decision.think is False


@pytest.mark.parametrize("kind", ["completions", "chat"])
async def test_a_malformed_call_is_answered_and_the_model_recovers(
    kind: str, vllm_server: VllmServer, tiny_tokenizer: Any
) -> None:
    bad = "<think>\nTwo lookups.\n</think>\n\n" + call("Paris") + "\n" + call("Tokyo", raw_city="Tokyo")
    retry = "<think>\nThe second call was not valid JSON; call it again.\n</think>\n\n" + call("Tokyo")
    script = Script([bad, retry, ANSWER], tiny_tokenizer)
    result = await make_agent(kind, vllm_server, script).run("Weather in Paris and Tokyo?")

    assert result.ok and result.output == ANSWER
    first = result.steps[0]
    assert [(c.name, c.arguments) for c in first.message.tool_calls] == [("get_weather", {"city": "Paris"})]
    good, broken = first.tool_results
    assert good.content == WEATHER["Paris"] and not good.is_error
    assert broken.is_error and "could not be read" in broken.content
    assert result.steps[1].decision.reason == "auto: a tool call failed"
    assert result.steps[1].tool_results[0].content == WEATHER["Tokyo"]


@pytest.mark.parametrize(
    "output",
    [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"\n</tool_call>',
        '<tool_call>\n{"arguments": {"city": "Paris"}}\n</tool_call>',
    ],
    ids=["unbalanced-json", "no-name"],
)
async def test_a_call_the_chat_server_cannot_read_still_gets_an_answer(
    output: str, vllm_server: VllmServer, tiny_tokenizer: Any
) -> None:
    script = Script([output, ANSWER], tiny_tokenizer)
    result = await make_agent("chat", vllm_server, script, thinking="off").run("Weather in Paris?")
    first = result.steps[0]
    answers = first.tool_results
    print(
        f"\n[{output[:40]!r}] finish={first.finish_reason} calls={first.message.tool_calls} answers={answers}"
    )
    assert result.ok and result.output == ANSWER
    # Repaired (the missing brace) or reported: never silently dropped.
    assert answers, "the model got no answer for its call"
    assert all(a.is_error for a in answers) or [a.content for a in answers] == [WEATHER["Paris"]]
    invalid = [c for c in result.steps[0].message.tool_calls if isinstance(c, ToolCallError)]
    assert not invalid
