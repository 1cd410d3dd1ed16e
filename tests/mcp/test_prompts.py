"""Prompts without a server: their messages as a run's start, arguments, and references."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from mcp.types import (
    EmbeddedResource,
    GetPromptResult,
    ImageContent,
    PromptMessage,
    ResourceLink,
    TextContent,
    TextResourceContents,
)

from agentkit.errors import ConfigError
from agentkit.mcp.prompts import get_prompt, parse_arguments, prompt_start, split_name
from agentkit.messages import AssistantMessage, UserMessage

PNG = b"\x89PNG\r\n\x1a\nfake"


def said(role: str, text: str) -> PromptMessage:
    return PromptMessage(role=role, content=TextContent(type="text", text=text))  # type: ignore[arg-type]


def test_the_last_user_message_is_the_task_and_the_rest_history(tmp_path: Path) -> None:
    result = GetPromptResult(
        description="Names.",
        messages=[said("user", "I am Ann."), said("assistant", "Hello Ann."), said("user", "Who am I?")],
    )
    start = prompt_start(result, tmp_path, "s/p")
    assert start.task == "Who am I?"
    assert start.history == [UserMessage("I am Ann."), AssistantMessage("Hello Ann.")]
    assert start.description == "Names."


def test_messages_of_one_role_in_a_row_are_joined(tmp_path: Path) -> None:
    result = GetPromptResult(
        messages=[
            said("user", "Review this."),
            PromptMessage(
                role="user",
                content=EmbeddedResource(
                    type="resource",
                    resource=TextResourceContents(uri="docs://a", mime_type="text/markdown", text="# A"),
                ),
            ),
            PromptMessage(
                role="user",
                content=ImageContent(
                    type="image", data=base64.b64encode(PNG).decode(), mime_type="image/png"
                ),
            ),
            PromptMessage(role="user", content=ResourceLink(name="b", uri="docs://b")),
        ]
    )
    start = prompt_start(result, tmp_path, "s/p")
    assert start.history == []
    assert start.task == (
        'Review this.\n\n<resource uri="docs://a" mime="text/markdown">\n# A\n</resource>\n\n'
        "[image: image/png, 12 B, saved as prompt.png]\n\n[resource link: b docs://b]"
    )
    assert (tmp_path / "prompt.png").read_bytes() == PNG


def test_a_task_given_is_added_to_the_last_user_message(tmp_path: Path) -> None:
    result = GetPromptResult(messages=[said("user", "Summarize MCP.")])
    assert prompt_start(result, tmp_path, "s/p", "Be brief.").task == "Summarize MCP.\n\nBe brief."


def test_a_prompt_ending_with_the_assistant_needs_a_task(tmp_path: Path) -> None:
    result = GetPromptResult(messages=[said("user", "Hi."), said("assistant", "Hello.")])
    with pytest.raises(ConfigError, match=r"ends with an assistant message.*give the task as well"):
        prompt_start(result, tmp_path, "s/p")
    start = prompt_start(result, tmp_path, "s/p", "Go on.")
    assert start.task == "Go on." and start.history == [UserMessage("Hi."), AssistantMessage("Hello.")]


def test_arguments_and_names_in_their_shapes() -> None:
    assert parse_arguments(["topic=MCP", "style=a=b", "empty="]) == {
        "topic": "MCP",
        "style": "a=b",
        "empty": "",
    }
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        parse_arguments(["topic"])
    with pytest.raises(
        ConfigError, match=r"-a style=b: the argument 'style' is given twice \(-a style=a before\)"
    ):
        parse_arguments(["style=a", "topic=x", "style=b"])
    assert split_name("docs/summarize") == ("docs", "summarize")
    with pytest.raises(ConfigError, match="SERVER/NAME"):
        split_name("summarize")


async def test_an_unknown_argument_is_named_with_the_missing_one(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from mcp.types import Prompt, PromptArgument

    prompt = Prompt(
        name="summarize",
        arguments=[PromptArgument(name="topic", required=True), PromptArgument(name="style")],
    )
    session = SimpleNamespace(
        name="docs", status="ready", error=None, catalog=SimpleNamespace(prompts=[prompt])
    )
    toolset = SimpleNamespace(sessions={"docs": session})
    with pytest.raises(ConfigError) as info:
        await get_prompt(toolset, "docs/summarize", {"topc": "MCP"}, workspace=tmp_path)  # type: ignore[arg-type]
    assert "it takes no argument 'topc' (did you mean 'topic'?); it needs topic" in str(info.value)
    with pytest.raises(ConfigError, match="Did you mean docs/summarize"):
        await get_prompt(toolset, "docs/summarise", {}, workspace=tmp_path)  # type: ignore[arg-type]
