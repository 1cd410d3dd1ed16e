"""`Limits` and `Timeouts`: checked when made, and each one reaching what it bounds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from agentkit import Agent, BatchTask, Limits, ScriptedBackend, Timeouts, tool
from agentkit.backends.base import ModelRequest, Turn
from agentkit.defaults import DEFAULT_MAX_STEPS, DEFAULT_STEP_CANCEL_GRACE, DEFAULT_TOOL_CANCEL_GRACE
from agentkit.errors import ConfigError
from agentkit.messages import AssistantMessage, ToolCall, Usage
from agentkit.result import STOP_REASONS, stop_reason_of
from agentkit.thinking import Sampling

CALL = '<tool_call>\n{"name": "echo", "arguments": {"text": "x"}}\n</tool_call>'


@tool
def echo(text: str) -> str:
    """Say the text back."""
    return text


class Spending:
    """A backend whose every turn calls `echo` and reports `tokens` completion tokens."""

    name = "spending"

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self.requests: list[ModelRequest] = []

    async def stream(self, request: ModelRequest) -> AsyncGenerator[Any, None]:
        self.requests.append(request)
        call = ToolCall("echo", {"text": str(len(self.requests))})
        yield Turn(AssistantMessage("", None, [call]), [call], Usage(completion_tokens=self.tokens))

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize(
    ("made", "message"),
    [
        (lambda: Limits(max_steps=0), "Limits(max_steps=0): must be a whole number, 1 or more"),
        (lambda: Limits(max_steps=None), "Limits(max_steps=None): must be a whole number"),  # type: ignore[arg-type]
        (lambda: Limits(max_run_tokens=0), "Limits(max_run_tokens=0): must be a whole number, 1 or more"),
        (lambda: Limits(timeout=0), "Limits(timeout=0): must be seconds above 0"),
        (lambda: Limits(output_retries=-1), "Limits(output_retries=-1): must be a whole number, 0 or more"),
        (lambda: Limits(max_repeats=True), "Limits(max_repeats=True): must be a whole number"),
        (lambda: Timeouts(connect=0), "Timeouts(connect=0): must be seconds above 0 (leave it out for its"),
        (
            lambda: Timeouts(idle=None),  # type: ignore[arg-type]
            "Timeouts(idle=None): every wait needs a bound",
        ),
    ],
)
def test_a_bad_setting_is_refused_naming_the_field_and_what_it_takes(made: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        made()
    assert str(caught.value).startswith(message)


def test_the_defaults_are_the_named_ones_and_none_means_no_limit() -> None:
    assert Limits().max_steps == DEFAULT_MAX_STEPS and Limits().max_run_tokens is None
    assert Limits(max_repeats=None, max_malformed=None, timeout=None).max_repeats is None
    assert Timeouts().tool_cancel_grace == DEFAULT_TOOL_CANCEL_GRACE
    assert Timeouts().step_cancel_grace == DEFAULT_STEP_CANCEL_GRACE
    assert Limits(max_steps=5).override(max_steps=None, timeout=3) == Limits(max_steps=5, timeout=3)


def test_an_agent_takes_only_a_limits_object_for_limits() -> None:
    with pytest.raises(TypeError, match=r"limits must be a Limits, got dict: Agent\(limits=Limits\(...\)\)"):
        Agent(backend=ScriptedBackend([]), limits={"max_steps": 3})  # type: ignore[arg-type]


async def test_max_tokens_caps_each_model_call_not_the_run() -> None:
    backend = ScriptedBackend([CALL, CALL, "Done."])
    agent = Agent(backend=backend, tools=[echo], max_tokens=64, transcripts=False)
    result = await agent.run("Echo twice.")
    assert result.stop_reason == "answer" and len(backend.requests) == 3
    assert [r.sampling.max_tokens for r in backend.requests] == [64, 64, 64]


def test_max_tokens_and_a_sampling_cap_that_disagree_are_refused() -> None:
    with pytest.raises(ValueError, match="max_tokens=64 and sampling max_tokens=32 both cap each model call"):
        Agent(backend=ScriptedBackend([]), max_tokens=64, sampling=Sampling(max_tokens=32))
    agreed = Agent(backend=ScriptedBackend([]), max_tokens=64, sampling=Sampling(max_tokens=64, seed=1))
    assert agreed.sampling_for(True).max_tokens == 64 and agreed.sampling_for(True).seed == 1


async def test_max_run_tokens_ends_the_run_once_its_steps_wrote_that_many() -> None:
    backend = Spending(tokens=40)
    agent = Agent(backend=backend, tools=[echo], limits=Limits(max_run_tokens=100), transcripts=False)
    result = await agent.run("Echo forever.")
    assert result.stop_reason == "max_run_tokens" and len(result.steps) == 3  # 40, 80, 120
    assert result.usage.completion_tokens == 120 and STOP_REASONS["max_run_tokens"][0] == 4


def test_a_stop_reason_written_under_its_former_name_reads_as_todays() -> None:
    assert stop_reason_of("max_tokens") == "max_run_tokens"
    assert stop_reason_of("max_steps") == "max_steps"


async def test_a_runs_own_limits_replace_the_agents_for_that_run_only() -> None:
    agent = Agent(backend=Spending(tokens=1), tools=[echo], limits=Limits(max_steps=4), transcripts=False)
    short = await agent.run("Echo.", limits=Limits(max_steps=2))
    full = await agent.run("Echo.")
    assert (short.stop_reason, len(short.steps)) == ("max_steps", 2)
    assert (full.stop_reason, len(full.steps)) == ("max_steps", 4) and agent.limits.max_steps == 4


async def test_a_batch_tasks_max_tokens_caps_its_calls_and_max_run_tokens_its_run() -> None:
    backend = Spending(tokens=40)
    agent = Agent(backend=backend, tools=[echo], transcripts=False)
    (result,) = await asyncio.wait_for(
        _one(agent, {"task": "Echo.", "max_tokens": 16, "max_run_tokens": 50}), 30
    )
    assert result.stop_reason == "max_run_tokens" and result.steps == 2
    assert [r.sampling.max_tokens for r in backend.requests] == [16, 16]


def test_a_batch_task_whose_two_call_caps_disagree_is_refused() -> None:
    with pytest.raises(ConfigError, match="max_tokens=16 and sampling max_tokens=8"):
        BatchTask.from_json({"task": "x", "max_tokens": 16, "sampling": {"max_tokens": 8}})


async def _one(agent: Agent, task: dict[str, Any]) -> list[Any]:
    return [r async for r in agent.batch([task])]


def test_timeouts_reach_the_backends_transport_the_toolbox_and_the_mcp_asks() -> None:
    timeouts = Timeouts(connect=1.5, idle=7.0, tool=9.0, mcp_ask=11.0, set_aside=3.0)
    agent = Agent(
        "m",
        "http://127.0.0.1:1/v1",
        timeouts=timeouts,
        transcripts=False,
        mcp={"mcpServers": {"x": {"command": "true"}}},
    )
    transport = agent.backend.server.transport  # type: ignore[attr-defined]
    assert (transport.connect_timeout, transport.idle_timeout) == (1.5, 7.0)
    assert agent.toolbox.timeout == 9.0 and agent._asks is not None and agent._asks.timeout == 11.0
    several = Agent("m", ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"], timeouts=timeouts, mcp=False)
    assert several.backend.set_aside == 3.0  # type: ignore[attr-defined]
    replica = several.backend.replicas[0].backend  # type: ignore[attr-defined]
    assert replica.server.transport.idle_timeout == 7.0


async def test_tool_cancel_grace_bounds_the_wait_for_a_call_stopped_at_the_time_limit() -> None:
    @tool
    async def stubborn() -> str:
        """Take long, and longer still to stop."""
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(5)  # a slow clean-up
            raise
        return "never"

    call = '<tool_call>\n{"name": "stubborn", "arguments": {}}\n</tool_call>'
    agent = Agent(
        backend=ScriptedBackend([call]),
        tools=[stubborn],
        limits=Limits(timeout=0.2),
        timeouts=Timeouts(tool_cancel_grace=0.3),
        transcripts=False,
    )
    started = time.monotonic()
    result = await asyncio.wait_for(agent.run("Go."), 10)
    took = time.monotonic() - started
    assert result.stop_reason == "timeout" and 0.4 < took < 1.5, took  # not the 2 s default


def test_a_setting_that_moved_into_limits_or_timeouts_is_refused_saying_where_it_is_now() -> None:
    with pytest.raises(TypeError) as raised:
        Agent(max_steps=5, idle_timeout=3, tiemout=1)  # type: ignore[arg-type]
    assert str(raised.value) == (
        "max_steps= is now limits=Limits(max_steps=...); idle_timeout= is now timeouts=Timeouts(idle=...); "
        "Agent has no setting tiemout= (did you mean timeouts=?) "
        "(Limits and Timeouts are imported from agentkit)"
    )


def test_an_unknown_setting_is_refused_with_the_nearest_one_or_what_agent_takes_instead() -> None:
    with pytest.raises(TypeError) as raised:
        Agent(script=["Hi."])  # type: ignore[arg-type]
    assert str(raised.value) == (
        "Agent has no setting script=: a scripted model is backend=ScriptedBackend(turns) (from agentkit)"
    )
    with pytest.raises(TypeError) as raised:
        Agent(sytem_prompt="Be brief.")  # type: ignore[arg-type]
    assert str(raised.value) == "Agent has no setting sytem_prompt= (did you mean system_prompt=?)"
    with pytest.raises(TypeError) as raised:
        Agent(zzz=1)  # type: ignore[arg-type]
    assert str(raised.value) == "Agent has no setting zzz= (help(Agent) lists its settings)"
