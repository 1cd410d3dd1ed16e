"""The context budget: compaction by its documented policy, output tokens from what the window
leaves, and runs whose tool results outgrow the window finishing through compaction."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from agentkit import Agent, tool
from agentkit.context import ContextPolicy, compact, result_note
from agentkit.errors import ContextOverflow
from agentkit.events import Compacted, RunFinished
from agentkit.messages import AssistantMessage, Message, SystemMessage, ToolCall, ToolMessage, UserMessage

from .fault_server import FaultServer, context_length_error, estimate_tokens


def conversation(turns: int, size: int = 4000) -> list[Message]:
    messages: list[Message] = [SystemMessage("You are careful."), UserMessage("Read the files.")]
    for i in range(turns):
        call = ToolCall("read", {"n": i}, id=f"c{i}")
        call_text = f'<tool_call>\n{{"name": "read", "arguments": {{"n": {i}}}}}\n</tool_call>'
        raw = f"<think>\n{'why ' * 50}\n</think>\n\n{call_text}"
        messages.append(AssistantMessage("", "why " * 50, [call], raw=raw))
        messages.append(ToolMessage(f"{i}" * size, f"c{i}", "read"))
    return messages


def test_compaction_replaces_the_oldest_tool_results_first_and_stops_at_the_target() -> None:
    messages = conversation(5)
    before = list(messages)
    done = compact(messages, size=6000, target=4100, chars_per_token=4.0)
    assert done is not None and done.results == 2 and done.thoughts == 0
    assert [c.index for c in done.changes] == [3, 5]  # the two oldest results
    assert isinstance(before[3], ToolMessage)
    assert (
        messages[3].content
        == result_note(before[3])
        == ("[read result of 4,000 characters left out to fit the context window; call read again to see it]")
    )
    assert messages[7] is before[7]  # the rest stays as it was
    assert done.after < 6000 - 1900


def test_compaction_then_drops_earlier_thinking_but_never_the_system_the_task_or_the_latest_turn() -> None:
    messages = conversation(3)
    latest_turn, latest_result = messages[-2], messages[-1]
    done = compact(messages, size=100_000, target=10, chars_per_token=4.0)
    assert done is not None and done.results == 2 and done.thoughts == 2
    assert messages[0] == SystemMessage("You are careful.") and messages[1] == UserMessage("Read the files.")
    assert messages[-2] is latest_turn and messages[-1] is latest_result
    stripped = messages[2]
    assert isinstance(stripped, AssistantMessage) and stripped.reasoning is None
    # The turn's exact text loses its think block the way the template would leave it out.
    assert stripped.raw == '<tool_call>\n{"name": "read", "arguments": {"n": 0}}\n</tool_call>'
    assert compact(messages, size=100_000, target=10, chars_per_token=4.0) is None  # nothing left to do


class Reader:
    """A tool that returns a lot of text, and counts its runs."""

    def __init__(self, size: int) -> None:
        self.runs = 0

        @tool
        def step(n: int) -> str:
            """Read part n."""
            self.runs += 1
            return f"part {n}: " + "lorem ipsum " * (size // 12)

        self.tool = step


def check_requests(server: FaultServer) -> list[Any]:
    """Each model request fits the window with the output it asks for."""
    posts = [r.body for r in server.requests if r.method == "POST" and not r.path.endswith("/tokenize")]
    for body in posts:
        text = body.get("prompt") or __import__("json").dumps(body["messages"], ensure_ascii=False)
        assert estimate_tokens(text) + body["max_tokens"] <= server.max_model_len
        assert body["max_tokens"] < server.max_model_len
    return posts


@pytest.mark.parametrize("backend", ["completions", "chat"])
async def test_a_tool_loop_that_outgrows_the_window_finishes_through_compaction(backend: str) -> None:
    reader = Reader(size=6000)
    async with FaultServer(calls=12, max_model_len=8192, check_max_tokens=True) as server:
        agent = Agent(server.model, server.base_url, backend=backend, tools=[reader.tool], transcripts=False)
        events = [e async for e in agent.stream("Read all twelve parts.")]
        posts = check_requests(server)
    assert isinstance(events[-1], RunFinished)
    result = events[-1].result
    assert result.ok and reader.runs == 12
    compactions = [e for e in events if isinstance(e, Compacted)]
    assert compactions and all(c.tokens_after < c.tokens_before for c in compactions)
    # Between compactions the prompt only grows: each extends the one before, byte for byte.
    if backend == "completions":
        prompts = [p["prompt"] for p in posts]  # one request per step: no faults here
        compacted = {c.step for c in compactions}
        for k in range(1, len(prompts)):
            if k + 1 not in compacted:
                assert prompts[k].startswith(prompts[k - 1]), f"step {k + 1} is not append-only"
        assert len(compactions) <= 4  # large steps, not one per request


async def test_without_the_budget_the_same_loop_overflows() -> None:
    reader = Reader(size=6000)
    async with FaultServer(calls=12, max_model_len=8192, check_max_tokens=True) as server:
        agent = Agent(
            server.model,
            server.base_url,
            tools=[reader.tool],
            transcripts=False,
            context=ContextPolicy(enabled=False),
        )
        with pytest.raises(ContextOverflow, match="maximum context length is 8192 tokens"):
            await agent.run("Read all twelve parts.")


@pytest.mark.parametrize("backend", ["completions", "chat"])
async def test_a_context_length_400_compacts_once_and_retries_the_step(backend: str) -> None:
    reader = Reader(size=2000)
    plan = [None, None, None, context_length_error(32768, 33000, 100)]
    async with FaultServer(
        calls=4, plan=plan, fault_paths={"/v1/completions", "/v1/chat/completions"}
    ) as server:
        agent = Agent(server.model, server.base_url, backend=backend, tools=[reader.tool], transcripts=False)
        events = [e async for e in agent.stream("Read four parts.")]
    assert isinstance(events[-1], RunFinished)
    result = events[-1].result
    assert result.ok and reader.runs == 4
    (compacted,) = [e for e in events if isinstance(e, Compacted)]
    assert compacted.step == 4 and compacted.results >= 1


async def test_no_compaction_that_cannot_get_under_the_room_while_the_step_still_fits() -> None:
    """A long system prompt fills most of the window; old thinking could be dropped, but that
    would not bring the prompt under the room: the prompt stays append-only instead."""
    async with FaultServer(calls=4, max_model_len=4096, check_max_tokens=True) as server:
        agent = Agent(
            server.model, server.base_url, tools=[Reader(size=20).tool], transcripts=False, thinking="on",
            system_prompt="Follow the house rules. " * 520,
        )  # fmt: skip
        events = [e async for e in agent.stream("Read four parts.")]
        prompts = [p["prompt"] for p in check_requests(server)]
    assert isinstance(events[-1], RunFinished) and events[-1].result.ok
    assert not [e for e in events if isinstance(e, Compacted)]
    assert all(b.startswith(a) for a, b in itertools.pairwise(prompts))
