"""What the loop asks of a backend, and what a backend gives back.

A backend turns a `ModelRequest` into a stream of `ModelEvent`s ending with one `Turn`. The
loop does not know which backend it talks to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol, Union, runtime_checkable

from agentkit.messages import AssistantMessage, Message, ToolCall, ToolCallError, Usage
from agentkit.qwen3.parser import ContentDelta, ReasoningDelta, ToolCallInvalid, ToolCallReady
from agentkit.thinking import Sampling, ThinkingDecision

__all__ = [
    "Backend",
    "ExtraBody",
    "ModelEvent",
    "ModelRequest",
    "Turn",
    "TurnBuilder",
    "extra_fields",
    "usage_from",
]


@dataclass
class ModelRequest:
    """One model call.

    Attributes:
        messages: The whole conversation so far.
        tools: OpenAI function specs of the tools the model may call.
        decision: Whether this call thinks, and its reasoning budget.
        sampling: Sampling parameters (already chosen for the thinking mode).
    """

    messages: Sequence[Message]
    tools: Sequence[dict[str, Any]] = ()
    decision: ThinkingDecision = field(default_factory=lambda: ThinkingDecision(True))
    sampling: Sampling = field(default_factory=Sampling)


@dataclass
class Turn:
    """A finished model turn.

    Attributes:
        message: The assistant message (reasoning, text, readable tool calls).
        calls: Readable calls and unreadable ones, in the order the model wrote them; every
            entry gets a tool result, in this order.
        usage: Tokens used by the request(s) of this turn.
        finish_reason: Why generation stopped ("stop", "length", "tool_calls", ...).
        raw: The output text as generated, when the backend saw it.
    """

    message: AssistantMessage
    calls: list[ToolCall | ToolCallError] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    raw: str | None = None

    @property
    def errors(self) -> list[ToolCallError]:
        return [c for c in self.calls if isinstance(c, ToolCallError)]


ModelEvent = Union[ReasoningDelta, ContentDelta, ToolCallReady, ToolCallInvalid, Turn]
"""Deltas as they stream, calls as soon as each is complete, then the `Turn`."""


@runtime_checkable
class Backend(Protocol):
    """A way of talking to a model."""

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        """Run one model call; the last event is the `Turn`."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class TurnBuilder:
    """Collects a turn's events into its `Turn`."""

    def __init__(self) -> None:
        self.reasoning: list[str] = []
        self.content: list[str] = []
        self.calls: list[ToolCall | ToolCallError] = []
        self.saw_reasoning = False
        self.usage = Usage()

    def add(self, event: ModelEvent) -> ModelEvent:
        """Record an event; return it, so that a backend can `yield builder.add(event)`."""
        if isinstance(event, ReasoningDelta):
            self.reasoning.append(event.text)
            self.saw_reasoning = True
        elif isinstance(event, ContentDelta):
            self.content.append(event.text)
        elif isinstance(event, ToolCallReady):
            self.calls.append(event.call)
        elif isinstance(event, ToolCallInvalid):
            self.calls.append(event.error)
        return event

    def turn(self, *, finish_reason: str | None, raw: str | None = None) -> Turn:
        message = AssistantMessage(
            content="".join(self.content),
            reasoning="".join(self.reasoning) if self.saw_reasoning else None,
            tool_calls=[c for c in self.calls if isinstance(c, ToolCall)],
        )
        return Turn(message, self.calls, self.usage, finish_reason, raw)


def usage_from(payload: dict[str, Any]) -> Usage:
    """Usage from an OpenAI `usage` object (cached tokens from `prompt_tokens_details`)."""
    details = payload.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=payload.get("prompt_tokens") or 0,
        completion_tokens=payload.get("completion_tokens") or 0,
        cached_tokens=details.get("cached_tokens") or 0,
        requests=1,
    )


ExtraBody = Optional[Union[dict[str, Any], Callable[[ModelRequest], dict[str, Any]]]]
"""More request-body fields for a backend: a dict, or a function of the request."""


def extra_fields(extra: ExtraBody, request: ModelRequest) -> dict[str, Any]:
    """The extra body fields for one request."""
    if extra is None:
        return {}
    return extra(request) if callable(extra) else extra
