"""The typed events a run emits, in order: what the CLI renders and transcripts record.

A run yields `RunStarted`, a `ServerStatus` per MCP server it starts, then per step
`StepStarted`, `ThinkingDelta`s and `TextDelta`s as the model writes, `ToolCallStarted` as soon
as a call is complete, `ToolProgress` while calls report it, `ToolCallFinished` as each
finishes, `StepFinished`; and at last `RunFinished` or `RunFailed`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Union

from agentkit.messages import AssistantMessage, ToolCall, ToolCallError, ToolMessage, Usage
from agentkit.thinking import ThinkingDecision

if TYPE_CHECKING:
    from agentkit.result import RunResult

__all__ = [
    "Event",
    "RunFailed",
    "RunFinished",
    "RunStarted",
    "ServerStatus",
    "StepFinished",
    "StepStarted",
    "TextDelta",
    "ThinkingDelta",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolProgress",
    "event_to_dict",
]


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    task: str
    backend: str
    model: str | None
    workspace: str | None = None
    type: ClassVar[str] = "run_started"


@dataclass(frozen=True)
class StepStarted:
    """A model call begins; `decision` says whether it thinks and why."""

    step: int
    decision: ThinkingDecision
    type: ClassVar[str] = "step_started"


@dataclass(frozen=True)
class ThinkingDelta:
    step: int
    text: str
    type: ClassVar[str] = "thinking_delta"


@dataclass(frozen=True)
class TextDelta:
    step: int
    text: str
    type: ClassVar[str] = "text_delta"


@dataclass(frozen=True)
class ToolCallStarted:
    """A complete call was read and is dispatched (possibly while the model still writes)."""

    step: int
    call: ToolCall
    type: ClassVar[str] = "tool_call_started"


@dataclass(frozen=True)
class ToolProgress:
    """A running call reported progress (MCP progress notifications, `ToolContext.progress`)."""

    step: int
    call_id: str
    tool: str
    progress: float
    total: float | None
    message: str | None
    type: ClassVar[str] = "tool_progress"


@dataclass(frozen=True)
class ServerStatus:
    """An MCP server started, or failed to (the run goes on without it)."""

    name: str
    target: str
    ok: bool
    tools: tuple[str, ...]
    seconds: float
    error: str | None
    type: ClassVar[str] = "server_status"


@dataclass(frozen=True)
class ToolCallFinished:
    """A call's result is ready. `call` is a `ToolCallError` for an unreadable call."""

    step: int
    call: ToolCall | ToolCallError
    result: ToolMessage
    duration: float
    type: ClassVar[str] = "tool_call_finished"


@dataclass(frozen=True)
class StepFinished:
    step: int
    message: AssistantMessage
    usage: Usage
    finish_reason: str | None
    duration: float
    type: ClassVar[str] = "step_finished"


@dataclass(frozen=True)
class RunFinished:
    result: RunResult
    type: ClassVar[str] = "run_finished"


@dataclass(frozen=True)
class RunFailed:
    """The run ended early on an error; `error` says what and what to do."""

    error: str
    kind: str
    type: ClassVar[str] = "run_failed"


Event = Union[
    RunStarted,
    ServerStatus,
    StepStarted,
    ThinkingDelta,
    TextDelta,
    ToolCallStarted,
    ToolProgress,
    ToolCallFinished,
    StepFinished,
    RunFinished,
    RunFailed,
]


def event_to_dict(event: Event) -> dict[str, Any]:
    """A JSON-ready dict of an event, with its `type` first."""
    if isinstance(event, RunFinished):
        body: dict[str, Any] = event.result.summary()
    else:
        body = dataclasses.asdict(event)
        if isinstance(event, ToolCallFinished):
            body["call"]["kind"] = "invalid" if isinstance(event.call, ToolCallError) else "call"
    return {"type": event.type, **body}
