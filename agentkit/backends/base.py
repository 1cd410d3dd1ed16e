"""What the loop asks of a backend, and what a backend gives back.

A backend turns a `ModelRequest` into a stream of `ModelEvent`s ending with one `Turn`. The
loop does not know which backend it talks to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Protocol, Union, runtime_checkable

from agentkit.defaults import DEFAULT_CHARS_PER_TOKEN
from agentkit.errors import ConfigError
from agentkit.messages import (
    AssistantMessage,
    ContentDelta,
    Message,
    ReasoningDelta,
    ToolCall,
    ToolCallError,
    ToolCallInvalid,
    ToolCallReady,
    Usage,
    new_call_id,
)
from agentkit.thinking import Sampling, ThinkingDecision

__all__ = [
    "STRUCTURED_OUTPUTS",
    "Backend",
    "ExtraBody",
    "ModelEvent",
    "ModelRequest",
    "Retrying",
    "StructuredOutputs",
    "Turn",
    "TurnBuilder",
    "check_extra",
    "check_structured_outputs",
    "end_run",
    "extra_fields",
    "hold_answer",
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
        max_tokens: Output tokens this call may use: what the context window leaves,
            capped by the user's setting (None: the backend decides).
        continued: The output this call already produced, when a backend sends it again
            to go on from it (a broken stream continued, a thinking budget closed). An
            `extra_body` function that constrains the output (vLLM's structured outputs)
            must constrain what comes after it.
        memo: What a backend carries from one request of a run to the next (the completions
            backend: the prompt through the run's last turn), so that every run owns its own
            however many run at once; the loop gives each run one. None: the backend keeps
            a small shared cache instead.
        output_schema: The JSON schema an answer (a turn without tool calls) must match,
            when the run has an output type. A backend whose server can constrain the
            output makes the answer match it (tool calls stay possible before it); the
            loop checks the answer whatever the backend did.
    """

    messages: Sequence[Message]
    tools: Sequence[dict[str, Any]] = ()
    decision: ThinkingDecision = field(default_factory=lambda: ThinkingDecision(True))
    sampling: Sampling = field(default_factory=Sampling)
    max_tokens: int | None = None
    continued: str = ""
    memo: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    output_schema: dict[str, Any] | None = field(default=None, repr=False)


@dataclass
class Turn:
    """A finished model turn.

    Attributes:
        message: The assistant message (reasoning, text, readable tool calls).
        calls: Readable calls and unreadable ones, in the order the model wrote them; every
            entry gets a tool result, in this order.
        usage: Tokens used by the request(s) of this turn.
        finish_reason: Why generation stopped ("stop", "length", "tool_calls", ...).
        context_tokens: Tokens of the last request's prompt plus this turn's output, as
            the server counted them (None when it did not say): how much of the window the
            conversation fills now.
    """

    message: AssistantMessage
    calls: list[ToolCall | ToolCallError] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    context_tokens: int | None = None


@dataclass(frozen=True)
class Retrying:
    """A request of this model call failed and will be sent again after `wait` seconds.

    Attributes:
        attempt: The number of the attempt about to be made (2 for the first retry).
        wait: Seconds until it is made.
        reason: What went wrong, in plain words.
        restart: The turn starts over: text and calls streamed so far are void (calls
            already running are kept if the new attempt asks for them again); from its
            first `kept` characters when that is not 0 (an answer under a schema is written
            anew after the think block it follows).
        kept: Characters of the turn received before the failure that the next attempt
            goes on from (a continued stream); 0 when it starts from the beginning.
    """

    attempt: int
    wait: float
    reason: str
    restart: bool = False
    kept: int = 0


ModelEvent = Union[ReasoningDelta, ContentDelta, ToolCallReady, ToolCallInvalid, Retrying, Turn]
"""Deltas as they stream, calls as soon as each is complete, retries, then the `Turn`."""


@runtime_checkable
class Backend(Protocol):
    """A way of talking to a model."""

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        """Run one model call; the last event is the `Turn`."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def end_run(backend: Backend, memo: dict[str, Any]) -> None:
    """Tell a backend that keeps state per run (`ReplicaBackend`: which server a run is on)
    that the run with this memo ended; other backends have nothing to do."""
    ended = getattr(backend, "end_run", None)
    if ended is not None:
        ended(memo)


class TurnBuilder:
    """Collects a turn's events into its `Turn`."""

    def __init__(self) -> None:
        self.reasoning: list[str] = []
        self.content: list[str] = []
        self.calls: list[ToolCall | ToolCallError] = []
        self.saw_reasoning = False
        self.usage = Usage()
        self.last_usage: Usage | None = None
        self._ids: set[str] = set()

    def add(self, event: ModelEvent) -> ModelEvent:
        """Record an event; return it, so that a backend can `yield builder.add(event)`."""
        if isinstance(event, ReasoningDelta):
            self.reasoning.append(event.text)
            self.saw_reasoning = True
        elif isinstance(event, ContentDelta):
            self.content.append(event.text)
        elif isinstance(event, ToolCallReady):
            self._add_call(event.call)
        elif isinstance(event, ToolCallInvalid):
            self._add_call(event.error)
        return event

    def _add_call(self, call: ToolCall | ToolCallError) -> None:
        if call.id in self._ids:  # a server that reuses ids: each call is answered by its own
            call.id = new_call_id()
        self._ids.add(call.id)
        self.calls.append(call)

    def count(self, usage: Usage) -> None:
        """Add one request's usage."""
        self.usage += usage
        self.last_usage = usage

    def estimate(self, prompt_chars: int, output_chars: int) -> None:
        """Count a request the server reported no usage for, from the text's length."""
        self.count(
            Usage(
                prompt_tokens=round(prompt_chars / DEFAULT_CHARS_PER_TOKEN),
                completion_tokens=round(output_chars / DEFAULT_CHARS_PER_TOKEN),
                requests=1,
                estimated=True,
            )
        )

    def turn(self, *, finish_reason: str | None, raw: str | None = None) -> Turn:
        message = AssistantMessage(
            content="".join(self.content),
            reasoning="".join(self.reasoning) if self.saw_reasoning else None,
            tool_calls=[c for c in self.calls if isinstance(c, ToolCall)],
            raw=raw,
        )
        last = self.last_usage
        exact = last is not None and last.prompt_tokens and not last.estimated
        context = last.prompt_tokens + last.completion_tokens if last and exact else None
        return Turn(message, self.calls, self.usage, finish_reason, context)


def hold_answer(event: ModelEvent, held: list[ModelEvent], holding: bool) -> list[ModelEvent]:
    """The events to pass on now. While `holding` (the answer will be written again under
    a constraint), content is held back until a call comes: then it goes first, as the
    text before the call it was. A turn that starts over drops what was held."""
    if not holding:
        return [event]
    if isinstance(event, ContentDelta):
        held.append(event)
        return []
    if isinstance(event, (ToolCallReady, ToolCallInvalid)):
        out = [*held, event]
        held.clear()
        return out
    if isinstance(event, Retrying) and event.restart:
        held.clear()
    return [event]


def usage_from(payload: dict[str, Any]) -> Usage:
    """Usage from an OpenAI `usage` object (cached tokens from `prompt_tokens_details`)."""
    details = payload.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=payload.get("prompt_tokens") or 0,
        completion_tokens=payload.get("completion_tokens") or 0,
        cached_tokens=details.get("cached_tokens") or 0,
        requests=1,
    )


StructuredOutputs = Literal["auto", "server", "validate"]
"""How a backend gets an answer of the run's output type: "server" constrains it with the
server's structured outputs, "validate" leaves it free (the loop checks it and sends a
wrong one back), "auto" constrains where the server is known to support it (vLLM)."""

STRUCTURED_OUTPUTS = ("auto", "server", "validate")


def check_structured_outputs(mode: str) -> StructuredOutputs:
    """`mode`, if it is one of `STRUCTURED_OUTPUTS`; else a `ConfigError` naming them."""
    if mode not in STRUCTURED_OUTPUTS:
        raise ConfigError(f"structured_outputs must be one of {', '.join(STRUCTURED_OUTPUTS)}, got {mode!r}")
    return mode  # type: ignore[return-value]


ExtraBody = Optional[Union[dict[str, Any], Callable[[ModelRequest], dict[str, Any]]]]
"""More request-body fields for a backend: a dict, or a function of the request."""


RESERVED_FIELDS = frozenset({"model", "prompt", "messages", "stream", "stream_options"})
"""Request fields agentkit sets itself: extra body fields may not replace them."""


def extra_fields(extra: ExtraBody, request: ModelRequest) -> dict[str, Any]:
    """The extra body fields for one request.

    Raises:
        ConfigError: They would replace a field agentkit sets (the prompt, the model, ...).
    """
    if extra is None:
        return {}
    return check_extra(extra(request) if callable(extra) else extra)


def check_extra(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields`, if none of them replaces a field agentkit sets; else a `ConfigError`."""
    clash = RESERVED_FIELDS.intersection(fields)
    if clash:
        raise ConfigError(
            f"extra body fields may not replace what agentkit sends itself: {', '.join(sorted(clash))}; "
            "choose the model with --model (Agent(model=...)) and leave the prompt and streaming to agentkit"
        )
    return fields
