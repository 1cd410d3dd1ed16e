"""Conversation types and their OpenAI-format dicts."""

from __future__ import annotations

import pytest

from agentkit.messages import (
    AssistantMessage,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
    as_messages,
    from_openai,
    to_openai,
)


def test_assistant_round_trip_keeps_reasoning_and_calls() -> None:
    message = AssistantMessage("Checking.", "need data", [ToolCall("f", {"city": "Zürich"}, id="c1")])
    data = to_openai(message)
    assert data == {
        "role": "assistant",
        "content": "Checking.",
        "reasoning_content": "need data",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"city": "Zürich"}'}}
        ],
    }
    assert from_openai(data) == AssistantMessage(
        "Checking.", "need data", [ToolCall("f", {"city": "Zürich"}, id="c1")]
    )


def test_reasoning_is_read_from_either_field_and_content_parts_are_joined() -> None:
    message = from_openai(
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            "reasoning": "r",
        }
    )
    assert message == AssistantMessage("ab", "r", [])


def test_unknown_role_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="expected 'system', 'user', 'assistant' or 'tool'"):
        from_openai({"role": "developer", "content": "x"})


def test_as_messages_mixes_objects_and_dicts() -> None:
    user = UserMessage("hi")
    assert as_messages([user, {"role": "tool", "tool_call_id": "1", "content": "r"}]) == [
        user,
        ToolMessage("r", "1"),
    ]


def test_usage_adds_up() -> None:
    total = Usage(10, 2, 5, 1) + Usage(20, 3, 15, 1)
    assert (
        total.prompt_tokens,
        total.completion_tokens,
        total.cached_tokens,
        total.requests,
        total.total_tokens,
    ) == (30, 5, 20, 2, 35)
