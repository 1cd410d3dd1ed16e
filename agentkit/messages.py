"""Conversation types: messages, tool calls, tool results, token usage, and the stream items a
backend yields while a turn is being written.

Messages convert to and from the OpenAI chat format (plain dicts), which is what the Qwen3
template, the chat endpoint and transcripts use.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Union

__all__ = [
    "AssistantMessage",
    "ContentDelta",
    "Message",
    "ReasoningDelta",
    "SystemMessage",
    "ToolCall",
    "ToolCallError",
    "ToolCallInvalid",
    "ToolCallReady",
    "ToolMessage",
    "Usage",
    "UserMessage",
    "as_messages",
    "from_openai",
    "new_call_id",
    "to_openai",
]


def new_call_id() -> str:
    """A fresh tool-call id in the style OpenAI-compatible servers use."""
    return "call_" + uuid.uuid4().hex[:24]


def dumps(value: Any) -> str:
    """JSON as the Qwen3 template writes it: non-ASCII kept, keys in given order."""
    return json.dumps(value, ensure_ascii=False)


@dataclass
class ToolCall:
    """A call the model asked for.

    Attributes:
        name: The tool's name as the model wrote it.
        arguments: The decoded arguments object.
        id: The call id; tool results refer to it.
        raw: The call's text as the model wrote it, when it came from text.
    """

    name: str
    arguments: dict[str, Any]
    id: str = field(default_factory=new_call_id)
    raw: str | None = None

    def to_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": dumps(self.arguments)},
        }


@dataclass
class ToolCallError:
    """A `<tool_call>` block (or call delta) that could not be read as a call.

    Attributes:
        raw: The text of the block.
        error: Why it could not be read, phrased for the model.
        name: The tool name, when it could still be made out.
        id: The id the failed call is answered under.
    """

    raw: str
    error: str
    name: str | None = None
    id: str = field(default_factory=new_call_id)


# The stream items: what a backend yields while a turn is being written, whichever way it
# reads the model's output (agentkit's own Qwen3 parser or a server's parsed deltas).


@dataclass(frozen=True)
class ReasoningDelta:
    """More reasoning text (from inside `<think>`)."""

    text: str


@dataclass(frozen=True)
class ContentDelta:
    """More answer text (outside `<think>` and `<tool_call>`)."""

    text: str


@dataclass(frozen=True)
class ToolCallReady:
    """A tool call, complete and readable."""

    call: ToolCall


@dataclass(frozen=True)
class ToolCallInvalid:
    """A `<tool_call>` block that could not be read as a call."""

    error: ToolCallError


@dataclass
class SystemMessage:
    content: str
    role: ClassVar[Literal["system"]] = "system"


@dataclass
class UserMessage:
    content: str
    role: ClassVar[Literal["user"]] = "user"


@dataclass
class AssistantMessage:
    """One model turn: its reasoning, its text and the tool calls it made.

    Attributes:
        content: The answer text, outside the think block and the calls.
        reasoning: The think block's text; None when the turn had none.
        tool_calls: The readable calls, in the order written.
        raw: The turn exactly as it stands in a Qwen3 prompt, between
            `<|im_start|>assistant\n` and `<|im_end|>` (a non-thinking step's empty think
            block included), when agentkit rendered the prompt and read the output itself;
            the next prompt repeats these bytes so that the server's prefix cache serves
            them. None otherwise.
    """

    content: str = ""
    reasoning: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    raw: str | None = field(default=None, repr=False)
    role: ClassVar[Literal["assistant"]] = "assistant"


@dataclass
class ToolMessage:
    """The result of one tool call, as the model will read it."""

    content: str
    tool_call_id: str
    name: str = ""
    is_error: bool = False
    full_content: str | None = field(default=None, repr=False)
    """The whole output when `content` was cut to the output cap (kept for transcripts)."""
    role: ClassVar[Literal["tool"]] = "tool"


Message = Union[SystemMessage, UserMessage, AssistantMessage, ToolMessage]


def to_openai(message: Message) -> dict[str, Any]:
    """The OpenAI chat-format dict of a message (reasoning as `reasoning_content`)."""
    if isinstance(message, AssistantMessage):
        out: dict[str, Any] = {"role": "assistant", "content": message.content}
        if message.reasoning is not None:
            out["reasoning_content"] = message.reasoning
        if message.tool_calls:
            out["tool_calls"] = [call.to_openai() for call in message.tool_calls]
        return out
    if isinstance(message, ToolMessage):
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "name": message.name,
            "content": message.content,
        }
    return {"role": message.role, "content": message.content}


def _arguments(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    if not isinstance(value, dict):
        raise ValueError(f"tool-call arguments must be a JSON object, got {value!r}")
    return value


def from_openai(data: Mapping[str, Any]) -> Message:
    """A message from an OpenAI chat-format dict.

    Reads reasoning from `reasoning_content` or `reasoning`; text content parts are joined.
    """
    role = data.get("role")
    content = data.get("content")
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    text = content if isinstance(content, str) else ""
    if role == "system":
        return SystemMessage(text)
    if role == "user":
        return UserMessage(text)
    if role == "assistant":
        reasoning = data.get("reasoning_content", data.get("reasoning"))
        calls = []
        for call in data.get("tool_calls") or []:
            fn = call.get("function", call)
            calls.append(
                ToolCall(
                    name=fn.get("name", ""),
                    arguments=_arguments(fn.get("arguments", {})),
                    id=call.get("id") or new_call_id(),
                )
            )
        return AssistantMessage(text, reasoning if isinstance(reasoning, str) else None, calls)
    if role == "tool":
        return ToolMessage(text, data.get("tool_call_id", ""), data.get("name", ""))
    raise ValueError(f"unknown message role {role!r}: expected 'system', 'user', 'assistant' or 'tool'")


def as_messages(items: Iterable[Message | Mapping[str, Any]]) -> list[Message]:
    """Messages from a mix of message objects and OpenAI-style dicts."""
    return [item if not isinstance(item, Mapping) else from_openai(item) for item in items]


@dataclass
class Usage:
    """Token counts, summed over the requests of a step or a run.

    `estimated` marks counts agentkit worked out itself (from the text's length) because a
    server did not report them.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    requests: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_tokens + other.cached_tokens,
            self.requests + other.requests,
            self.estimated or other.estimated,
        )
