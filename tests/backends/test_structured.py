"""Structured output on the wire: the exact requests that make vLLM constrain an answer,
on `/v1/completions` (a second request from the end of the think block, on the same
append-only prompt) and on `/v1/chat/completions` (`response_format`)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from agentkit import Agent, tool
from agentkit.backends.completions import NO_THINK
from agentkit.backends.retry import RetryPolicy
from agentkit.events import ModelRetry, RunFinished, TextDelta
from agentkit.messages import SystemMessage, UserMessage
from agentkit.qwen3.template import render_prompt

from .conftest import Wire, chat_events, completion_events, sse

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
    "required": ["city", "celsius"],
}
ANSWER = '{"city": "Paris", "celsius": 14}'
CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return "14°C"


def vllm_listing(wire: Wire) -> None:
    entry = {"id": "m", "owned_by": "vllm", "max_model_len": 4096}
    wire.router.get("/models").mock(
        return_value=httpx.Response(200, json={"object": "list", "data": [entry]})
    )


def agent(wire: Wire, **options: Any) -> Agent:
    return Agent(
        "m", wire.base_url, transport=wire.transport, tools=[get_weather], output_type=SCHEMA, **options
    )


async def test_completions_write_the_answer_again_from_the_think_block_under_the_schema(wire: Wire) -> None:
    vllm_listing(wire)
    thought = "<think>\nCall the tool.\n</think>\n\n"
    answered = "<think>\nNow answer.\n</think>\n\n"
    wire.router.post("/completions").mock(
        side_effect=[
            sse(completion_events([thought, CALL])),
            sse(completion_events([answered, "It is 14 degrees."])),
            sse(completion_events(['{"city": ', '"Paris", "celsius": 14}'])),
        ]
    )
    run = agent(wire, thinking="on")
    events = [e async for e in run.stream("Weather in Paris?")]
    await run.aclose()
    assert isinstance(events[-1], RunFinished)
    result = events[-1].result

    first, second, third = wire.bodies("/completions")
    assert "structured_outputs" not in first and "structured_outputs" not in second
    # The constrained request goes on from the step's think block and the blank line after it.
    assert third["prompt"] == second["prompt"] + answered
    assert third["structured_outputs"] == {"json": SCHEMA}
    assert {k: v for k, v in third.items() if k not in ("prompt", "structured_outputs", "max_tokens")} == {
        k: v for k, v in second.items() if k not in ("prompt", "max_tokens")
    }
    # The second step's prompt extends the first's: the tool call step stands as written.
    assert second["prompt"].startswith(first["prompt"] + thought + CALL + "<|im_end|>\n")
    assert result.output == {"city": "Paris", "celsius": 14}
    assert result.steps[-1].message.raw == answered + ANSWER
    assert result.steps[-1].message.reasoning == "Now answer."
    texts = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert texts == ANSWER  # the free answer was never shown
    assert result.steps[-1].usage.requests == 2


async def test_completions_without_thinking_constrain_on_the_prompt_as_it_stands(wire: Wire) -> None:
    vllm_listing(wire)
    wire.router.post("/completions").mock(
        side_effect=[sse(completion_events(["Paris: 14."])), sse(completion_events([ANSWER]))]
    )
    run = agent(wire, thinking="off", system_prompt="Be brief.")
    result = await run.run("Weather in Paris?")
    await run.aclose()

    first, second = wire.bodies("/completions")
    assert first["prompt"].endswith("<|im_start|>assistant\n" + NO_THINK)
    assert second["prompt"] == first["prompt"]
    assert second["structured_outputs"] == {"json": SCHEMA}
    # The system prompt tells the model the schema, in the official template's bytes.
    system = result.messages[0]
    assert isinstance(system, SystemMessage) and json.dumps(SCHEMA) in system.content
    expected = render_prompt(
        [system, UserMessage("Weather in Paris?")], [get_weather.spec()], enable_thinking=False
    )
    assert first["prompt"] == expected
    assert result.output == {"city": "Paris", "celsius": 14}
    assert result.steps[-1].message.raw == NO_THINK + ANSWER


async def test_completions_write_a_constrained_answer_anew_when_its_stream_breaks(wire: Wire) -> None:
    vllm_listing(wire)
    cut = {"choices": [{"index": 0, "text": '{"city": "Par', "finish_reason": None}]}
    wire.router.post("/completions").mock(
        side_effect=[
            sse(completion_events(["<think>\nhm\n</think>\n\n", "free"])),
            sse([cut], done=False),  # the stream ends without saying why: broken
            sse(completion_events([ANSWER])),
        ]
    )
    run = agent(wire, thinking="on", retry=RetryPolicy(base=0.01))
    events = [e async for e in run.stream("Weather in Paris?")]
    await run.aclose()
    assert isinstance(events[-1], RunFinished)
    result = events[-1].result

    first, broken, again = wire.bodies("/completions")
    # Not continued from the half answer: a grammar starts at the first generated token.
    assert again == broken
    assert again["prompt"] == first["prompt"] + "<think>\nhm\n</think>\n\n"
    (retry,) = [e for e in events if isinstance(e, ModelRetry)]
    assert retry.restart and retry.kept == len("<think>\nhm\n</think>\n\n")
    assert result.output == {"city": "Paris", "celsius": 14}
    assert result.steps[-1].message.content == ANSWER


@pytest.mark.parametrize("mode", ["validate", "auto"])
async def test_completions_validate_where_the_server_is_not_asked_to_constrain(wire: Wire, mode: str) -> None:
    if mode == "validate":
        vllm_listing(wire)  # vLLM, but told not to constrain; "auto" on an unknown server the same
    wire.router.post("/completions").mock(
        side_effect=[sse(completion_events(["Paris: 14."])), sse(completion_events([ANSWER]))]
    )
    run = agent(wire, thinking="off", structured_outputs=mode)
    result = await run.run("Weather in Paris?")
    await run.aclose()

    first, second = wire.bodies("/completions")
    assert "structured_outputs" not in first and "structured_outputs" not in second
    # A new user turn: the template renders the turns before it as it does for any chat.
    rejection = result.messages[3]
    assert isinstance(rejection, UserMessage) and rejection.content.startswith("Your answer does not match")
    assert second["prompt"] == render_prompt(result.messages[:4], [get_weather.spec()], enable_thinking=False)
    assert result.output == {"city": "Paris", "celsius": 14}


async def test_chat_asks_again_with_response_format_when_the_reply_has_no_call(wire: Wire) -> None:
    vllm_listing(wire)
    call = {"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather"}}
    args = {"index": 0, "function": {"arguments": '{"city": "Paris"}'}}
    wire.router.post("/chat/completions").mock(
        side_effect=[
            sse(
                chat_events(
                    [{"reasoning": "tool"}, {"tool_calls": [call]}, {"tool_calls": [args]}],
                    finish="tool_calls",
                )
            ),
            sse(chat_events([{"reasoning": "answer"}, {"content": "It is 14."}])),
            sse(chat_events([{"content": ANSWER}])),
        ]
    )
    run = agent(wire, backend="chat", thinking="on")
    result = await run.run("Weather in Paris?")
    await run.aclose()

    first, second, third = wire.bodies("/chat/completions")
    assert "response_format" not in first and "response_format" not in second
    # The answer continues the step's own think block, closed, under the schema.
    assert third == {
        **second,
        "messages": [*second["messages"], {"role": "assistant", "content": "<think>\nanswer\n</think>\n\n"}],
        "add_generation_prompt": False,
        "continue_final_message": True,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True},
        },
    }
    assert result.output == {"city": "Paris", "celsius": 14}
    assert result.steps[-1].message.content == ANSWER
    assert result.steps[-1].message.reasoning == "answer"
    assert result.steps[-1].usage.requests == 2


async def test_chat_reads_an_answer_its_reasoning_parser_took_for_reasoning(wire: Wire) -> None:
    vllm_listing(wire)
    wire.router.post("/chat/completions").mock(
        side_effect=[
            sse(chat_events([{"reasoning": "think"}, {"content": "free"}])),
            sse(chat_events([{"reasoning": ANSWER[:9]}, {"reasoning": ANSWER[9:]}])),
        ]
    )
    run = agent(wire, backend="chat", thinking="on")
    events = [e async for e in run.stream("Weather in Paris?")]
    await run.aclose()
    assert isinstance(events[-1], RunFinished)
    result = events[-1].result
    assert result.output == {"city": "Paris", "celsius": 14}
    assert result.steps[-1].message.reasoning == "think"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == ANSWER


async def test_chat_without_thinking_asks_the_same_request_with_response_format(wire: Wire) -> None:
    vllm_listing(wire)
    wire.router.post("/chat/completions").mock(
        side_effect=[sse(chat_events([{"content": "free"}])), sse(chat_events([{"content": ANSWER}]))]
    )
    run = agent(wire, backend="chat", thinking="off")
    result = await run.run("Weather in Paris?")
    await run.aclose()
    first, second = wire.bodies("/chat/completions")
    assert second == {**first, "response_format": schema_format()}
    assert result.output == {"city": "Paris", "celsius": 14}


def schema_format() -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True}}
