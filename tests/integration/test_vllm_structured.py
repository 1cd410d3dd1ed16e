"""Structured output against a real vLLM: valid by construction.

The tiny model's weights are random, so whatever it writes on its own is noise. An answer
that matches a schema with required fields, an enum, a number range and a nested object can
only come from the constraint agentkit asks vLLM for: on `/v1/completions` a second request
from the end of the step's think block with `structured_outputs.json`, on
`/v1/chat/completions` `response_format`. Several seeds, both endpoints, with and without
thinking; one run first calls a tool (forced), then answers free.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from agentkit import Agent, Limits, tool
from agentkit.backends.base import ModelRequest
from agentkit.backends.chat import ChatBackend
from agentkit.backends.completions import CompletionsBackend
from agentkit.events import OutputRejected, RunFinished
from agentkit.messages import ToolMessage
from agentkit.thinking import Sampling

from .conftest import VllmServer
from .forcing import forced


class Place(BaseModel):
    name: str = Field(min_length=1, max_length=12)
    country: Literal["CH", "FR", "JP"]


class Report(BaseModel):
    place: Place
    celsius: int = Field(ge=-40, le=50)
    sky: Literal["clear", "cloudy", "rain"]
    tags: list[Literal["wind", "fog", "sun"]] = Field(max_length=3)


SEEDS = (1, 2, 3)
FREE_TOKENS = 160
"""Output tokens per model call (the free text, and the constrained answer after it): room for
the JSON of a `Report` spelled in short random tokens."""

CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return "14°C, rain"


def make_agent(
    kind: str, server: VllmServer, thinking: Literal["off", "on"], seed: int, extra: Any = None
) -> Agent:
    cls = CompletionsBackend if kind == "completions" else ChatBackend
    backend = cls(server.base_url, server.model, extra_body=extra)
    return Agent(
        server.model,
        backend=backend,
        tools=[get_weather],
        thinking=thinking,
        sampling=Sampling(max_tokens=FREE_TOKENS, seed=seed),
        output_type=Report,
        limits=Limits(output_retries=0),  # no second chance: the first answer must be valid
        transcripts=False,
    )


@pytest.mark.parametrize("kind", ["completions", "chat"])
@pytest.mark.parametrize("thinking", ["off", "on"])
async def test_answers_of_noise_are_valid_by_construction(
    kind: str, thinking: Literal["off", "on"], vllm_server: VllmServer, report: Any
) -> None:
    lines = []
    for seed in SEEDS:
        agent = make_agent(kind, vllm_server, thinking, seed)
        events = [e async for e in agent.stream("Report the weather in Paris.")]
        assert isinstance(events[-1], RunFinished)
        result = events[-1].result
        assert not [e for e in events if isinstance(e, OutputRejected)]
        assert result.stop_reason == "answer", result.error
        assert isinstance(result.output, Report)
        assert Report.model_validate_json(result.text) == result.output
        assert result.steps[-1].usage.requests == 2  # the free answer, then the constrained one
        lines.append(f"  seed {seed}: {result.text}")
    report(f"structured_{kind}_{thinking}", f"{kind}, thinking {thinking}:\n" + "\n".join(lines))


@pytest.mark.parametrize("kind", ["completions", "chat"])
async def test_a_tool_call_then_a_valid_answer(
    kind: str, vllm_server: VllmServer, tiny_tokenizer: Any
) -> None:
    def call_first(request: ModelRequest) -> dict[str, Any]:
        if any(isinstance(m, ToolMessage) for m in request.messages):
            return {}  # the answer step: noise, constrained by agentkit alone
        return forced(CALL, tiny_tokenizer)

    agent = make_agent(kind, vllm_server, "off", 7, call_first)
    result = await agent.run("Report the weather in Paris.")
    assert result.stop_reason == "answer", result.error
    assert [r.content for r in result.steps[0].tool_results] == ["14°C, rain"]
    assert isinstance(result.output, Report)
    assert json.loads(result.text) == result.output.model_dump()


async def test_without_the_constraint_the_noise_is_not_valid(vllm_server: VllmServer) -> None:
    """The control: the same runs, told to validate only, do not answer valid JSON."""
    backend = CompletionsBackend(vllm_server.base_url, vllm_server.model, structured_outputs="validate")
    agent = Agent(
        vllm_server.model,
        backend=backend,
        thinking="off",
        sampling=Sampling(max_tokens=FREE_TOKENS, seed=SEEDS[0]),
        output_type=Report,
        limits=Limits(output_retries=1),
        transcripts=False,
    )
    result = await agent.run("Report the weather in Paris.")
    assert result.stop_reason == "invalid_output"
    assert result.error is not None and "does not match the output type Report" in result.error
    assert len(result.steps) == 2  # the answer and one retry, each a single free request
