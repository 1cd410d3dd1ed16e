"""The toolbox answers every call: results in order, and errors that teach the model."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

import pytest

from agentkit.events import ToolApproval
from agentkit.messages import ToolCall, ToolCallError
from agentkit.tools import Toolbox, ToolContext, ToolError, tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
async def slow(seconds: float) -> str:
    """Sleep a while."""
    await asyncio.sleep(seconds)
    return "slept"


@tool
def explode() -> str:
    """Raise."""
    raise ValueError("the disk is on fire")


@tool
def refuse() -> str:
    """Refuse politely."""
    raise ToolError("Not allowed here: ask the user first.")


def test_duplicate_names_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"two tools are named 'add'.*@tool\(name="):
        Toolbox([add, add])


def test_non_tools_are_refused() -> None:
    with pytest.raises(TypeError, match="is not a tool"):
        Toolbox([lambda: 1])  # type: ignore[list-item]


async def test_a_good_call_returns_its_result() -> None:
    box = Toolbox([add])
    result = await box.run(ToolCall("add", {"a": 2, "b": 40}, id="c1"))
    assert (result.content, result.tool_call_id, result.name, result.is_error) == ("42", "c1", "add", False)


async def test_unknown_name_suggests_the_closest_tool() -> None:
    result = await Toolbox([add, slow]).run(ToolCall("ad", {}))
    assert result.is_error
    assert "There is no tool named 'ad'. Did you mean 'add'?" in result.content
    assert "Available tools: add, slow" in result.content


async def test_invalid_arguments_name_each_problem_and_the_expected_shape() -> None:
    result = await Toolbox([add]).run(ToolCall("add", {"a": "two", "c": 1}))
    assert result.is_error
    assert "'b' is a required property" in result.content
    assert "a: 'two' is not of type 'integer'" in result.content
    assert "Additional properties are not allowed ('c' was unexpected)" in result.content
    assert "Expected: {a: integer (required), b: integer (required)}" in result.content
    assert "Call add again with corrected arguments." in result.content


async def test_an_exception_becomes_an_error_result() -> None:
    result = await Toolbox([explode]).run(ToolCall("explode", {}))
    assert result.is_error
    assert "explode failed: ValueError: the disk is on fire" in result.content


async def test_tool_error_message_is_passed_as_is() -> None:
    result = await Toolbox([refuse]).run(ToolCall("refuse", {}))
    assert result.content == "Error: Not allowed here: ask the user first."


async def test_a_call_slower_than_its_timeout_is_stopped() -> None:
    box = Toolbox([slow], timeout=0.05)
    started = time.monotonic()
    result = await box.run(ToolCall("slow", {"seconds": 5}))
    assert time.monotonic() - started < 2
    assert result.is_error and "did not finish within 0.05 s" in result.content


async def test_concurrency_limit_serialises_calls() -> None:
    box = Toolbox([slow], max_concurrency=1)
    started = time.monotonic()
    await asyncio.gather(*(box.run(ToolCall("slow", {"seconds": 0.1})) for _ in range(3)))
    assert time.monotonic() - started >= 0.3


def test_unreadable_call_answer_explains_the_format() -> None:
    answer = Toolbox.answer_unreadable(
        ToolCallError("<tool_call>{x}</tool_call>", "its JSON is invalid.", id="e1")
    )
    assert answer.is_error and answer.tool_call_id == "e1"
    assert "could not be read: its JSON is invalid." in answer.content
    assert '{"name": "<tool name>", "arguments":' in answer.content


async def test_a_broken_schema_does_not_block_the_tool() -> None:
    class Odd:
        name = "odd"
        description = "odd schema"
        parameters: ClassVar[dict[str, object]] = {"type": "not-a-type"}
        timeout = None

        def spec(self) -> dict[str, object]:
            return {}

        async def call(self, arguments: dict[str, object], context: object) -> object:
            from agentkit.tools import ToolResult

            return ToolResult("fine")

    result = await Toolbox([Odd()]).run(ToolCall("odd", {"x": 1}))  # type: ignore[list-item]
    assert result.content == "fine"


# -- approval and output caps ------------------------------------------------------------------


@tool(approval="ask")
def wipe(target: str) -> str:
    """Delete something."""
    return f"wiped {target}"


@tool(approval="deny")
def launch() -> str:
    """Never allowed."""
    return "launched"


async def test_ask_tools_run_only_when_the_approver_agrees() -> None:
    asked: list[tuple[str, dict[str, object]]] = []

    async def approver(call: ToolCall, item: object) -> bool:
        asked.append((call.name, call.arguments))
        return bool(call.arguments["target"] == "tmp")

    box = Toolbox([wipe], approver=approver)
    assert (await box.run(ToolCall("wipe", {"target": "tmp"}))).content == "wiped tmp"
    denied = await box.run(ToolCall("wipe", {"target": "home"}))
    assert denied.is_error and "the user did not allow this call to wipe. Do not repeat it" in denied.content
    assert asked == [("wipe", {"target": "tmp"}), ("wipe", {"target": "home"})]


async def test_without_an_approver_ask_tools_are_refused_and_invalid_calls_are_not_asked() -> None:
    refused = await Toolbox([wipe]).run(ToolCall("wipe", {"target": "x"}))
    assert refused.is_error and "needs the user's approval and no one can approve it here" in refused.content
    asked: list[str] = []

    def approve(call: ToolCall, item: object) -> bool:
        asked.append(call.name)
        return True

    box = Toolbox([wipe], approver=approve)
    invalid = await box.run(ToolCall("wipe", {}))
    assert invalid.is_error and "'target' is a required property" in invalid.content and asked == []


async def test_each_approval_decision_is_reported_with_who_decided_and_auto_calls_report_none() -> None:
    decisions: list[ToolApproval] = []
    context = ToolContext(step=3, on_approval=decisions.append)

    async def approver(call: ToolCall, item: object) -> bool | None:
        await asyncio.sleep(0.05)
        return {"tmp": True, "home": False}.get(call.arguments["target"])

    box = Toolbox([wipe, launch, add], approver=approver)
    await box.run(ToolCall("wipe", {"target": "tmp"}, "c1"), context)
    await box.run(ToolCall("wipe", {"target": "home"}, "c2"), context)
    await box.run(ToolCall("wipe", {"target": "nobody asked"}, "c3"), context)
    await box.run(ToolCall("launch", {}, "c4"), context)
    await box.run(ToolCall("add", {"a": 1, "b": 2}, "c5"), context)
    got = [(d.step, d.call_id, d.tool, d.policy, d.allowed, d.decided_by) for d in decisions]
    assert got == [
        (3, "c1", "wipe", "ask", True, "approver"),
        (3, "c2", "wipe", "ask", False, "approver"),
        (3, "c3", "wipe", "ask", False, "policy"),  # the approver had no answer
        (3, "c4", "launch", "deny", False, "policy"),
    ]
    assert decisions[0].reason is None and "did not allow" in (decisions[1].reason or "")
    assert "is not allowed in this session" in (decisions[3].reason or "")
    assert decisions[0].waited >= 0.04 and decisions[3].waited < 0.04


async def test_policies_by_name_and_pattern_override_the_tools_own() -> None:
    box = Toolbox([wipe, launch, add], approval={"wipe": "auto", "la*": "auto", "add": "deny"})
    assert (await box.run(ToolCall("wipe", {"target": "t"}))).content == "wiped t"
    assert (await box.run(ToolCall("launch", {}))).content == "launched"
    blocked = await box.run(ToolCall("add", {"a": 1, "b": 2}))
    assert blocked.is_error and "add is not allowed in this session" in blocked.content
    assert (await Toolbox([launch]).run(ToolCall("launch", {}))).is_error


async def test_long_results_are_cut_to_head_and_tail_and_kept_whole() -> None:
    @tool
    def dump() -> str:
        """Lots of text."""
        return "A" * 5000 + "B" * 5000

    answer = await Toolbox([dump], max_output_chars=3000).run(ToolCall("dump", {}))
    assert answer.content.startswith("A" * 2000) and answer.content.endswith("B" * 1000)
    assert (
        "[… 7,000 characters left out of 10,000; the whole output is kept in the run's transcript …]"
        in answer.content
    )
    assert answer.full_content == "A" * 5000 + "B" * 5000
    short = await Toolbox([dump], max_output_chars=20000).run(ToolCall("dump", {}))
    assert short.full_content is None and len(short.content) == 10000
