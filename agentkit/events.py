"""The typed events a run emits, in order: what the CLI renders and transcripts record.

A run yields `RunStarted`, a `ServerStarting` per MCP server it starts and a `ServerStatus`
as each is up or has failed, then per step
`Compacted` when history had to shrink to fit the window, `StepStarted`, `ThinkingDelta`s and
`TextDelta`s as the model writes (`ModelRetry` when a request failed and is sent again),
`ToolCallStarted` as soon as a call is complete, `TurnFinished` when the model's turn is
complete, `ToolApproval` when a call's approval policy ("ask" or "deny") has been decided,
`ToolProgress` while calls report it, `ToolCallFinished` as each finishes,
`StepFinished` (then `OutputRejected` when an answer does not match the run's output
type and goes back to the model); and at last `RunFinished` or `RunFailed`. What MCP servers
send or ask comes between them as it happens, also while a tool call runs: `McpLog`,
`McpSampling`, `McpElicitation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Union

from agentkit._plain import as_plain
from agentkit.messages import AssistantMessage, ToolCall, ToolCallError, ToolMessage, Usage
from agentkit.thinking import ThinkingDecision

if TYPE_CHECKING:
    from agentkit.result import RunResult

__all__ = [
    "Compacted",
    "Event",
    "McpElicitation",
    "McpLog",
    "McpSampling",
    "ModelRetry",
    "OutputRejected",
    "RunFailed",
    "RunFinished",
    "RunStarted",
    "ServerStarting",
    "ServerStatus",
    "StepFinished",
    "StepStarted",
    "TextDelta",
    "ThinkingDelta",
    "ToolApproval",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolProgress",
    "TurnFinished",
    "event_to_dict",
]


@dataclass(frozen=True)
class RunStarted:
    """A run begins, or a run taken up again (`resumed`) goes on from `first_step`.

    `sandbox` says how the code the model writes is confined (`SandboxPolicy.describe`);
    None when the run has no tool that runs code.
    """

    run_id: str
    task: str
    backend: str
    model: str | None
    workspace: str | None = None
    resumed: bool = False
    first_step: int = 1
    sandbox: str | None = None
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
class ModelRetry:
    """A model request failed and is sent again after `wait` seconds.

    `restart` means the step's text so far is void and streams again from the start;
    `kept` counts the characters the next attempt goes on from (a continued stream).
    """

    step: int
    attempt: int
    wait: float
    reason: str
    restart: bool = False
    kept: int = 0
    type: ClassVar[str] = "model_retry"


@dataclass(frozen=True)
class Compacted:
    """History was compacted to fit the window before this step (see `agentkit.context`)."""

    step: int
    tokens_before: int
    tokens_after: int
    results: int
    thoughts: int
    changes: tuple[dict[str, Any], ...] = ()
    type: ClassVar[str] = "compacted"


@dataclass(frozen=True)
class ToolCallStarted:
    """A complete call was read and is dispatched (possibly while the model still writes).

    `reused` names the earlier call whose outcome answers this one instead of a new run:
    a call already running when a broken stream was retried, or one that finished (or was
    interrupted) before the run was resumed.
    """

    step: int
    call: ToolCall
    reused: str | None = None
    type: ClassVar[str] = "tool_call_started"


@dataclass(frozen=True)
class TurnFinished:
    """The model's turn is complete: what it said and every call it made, in order."""

    step: int
    message: AssistantMessage
    calls: tuple[ToolCall | ToolCallError, ...]
    usage: Usage
    finish_reason: str | None
    type: ClassVar[str] = "turn_finished"


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
class ToolApproval:
    """A call's approval was decided, before it ran (or instead of running it).

    Attributes:
        step: The step that made the call.
        call_id: The call's id.
        tool: The tool's name.
        policy: The policy that applied: "ask" or "deny".
        allowed: Whether the call may run.
        decided_by: "approver" (the `approver` function, such as the person at the terminal)
            or "policy" (refused by a "deny" policy, or "ask" with no approver to ask).
        reason: Why, when refused (the text the model reads); None when allowed.
        waited: Seconds spent waiting for the decision.
    """

    step: int
    call_id: str
    tool: str
    policy: str
    allowed: bool
    decided_by: str
    reason: str | None
    waited: float
    type: ClassVar[str] = "tool_approval"


@dataclass(frozen=True)
class ServerStarting:
    """An MCP server is starting; a `ServerStatus` follows when it is up or has failed."""

    name: str
    target: str
    type: ClassVar[str] = "server_starting"


@dataclass(frozen=True)
class ServerStatus:
    """An MCP server started, or failed to (the run goes on without it); also what
    `McpToolset.start` and `Agent.server_status` report.

    Attributes:
        name: The server's name.
        target: Its command line or URL (no secrets).
        ok: Whether it is ready.
        tools: The names of its tools, as the model sees them.
        seconds: How long the start took.
        error: Why it failed, with its last stderr lines.
    """

    name: str
    target: str
    ok: bool
    tools: tuple[str, ...] = ()
    seconds: float = 0.0
    error: str | None = None
    type: ClassVar[str] = "server_status"


@dataclass(frozen=True)
class McpLog:
    """An MCP server sent a log message (`notifications/message`)."""

    server: str
    level: str
    logger: str | None
    data: Any
    type: ClassVar[str] = "mcp_log"


@dataclass(frozen=True)
class McpSampling:
    """An MCP server asked for a message from the agent's model (`sampling/createMessage`).

    `request` says what it asked in a few words; `approved` whether it was let through (by
    `on_sampling`, `--yes` or a person); `usage` what the model call cost; `error` why there
    is no answer (refused, no model, images, a failed model call), as the server was told.
    """

    server: str
    request: str
    approved: bool
    think: bool
    max_tokens: int
    usage: Usage | None = None
    answer: str | None = None
    stop_reason: str | None = None
    error: str | None = None
    type: ClassVar[str] = "mcp_sampling"


@dataclass(frozen=True)
class McpElicitation:
    """An MCP server asked the person for something (`elicitation/create`): a form's fields
    (`mode` "form") or a visit to `url` ("url"); `action` is the answer ("accept",
    "decline", "cancel") and `content` what the form held; `error` why no one could answer."""

    server: str
    mode: str
    message: str
    action: str
    fields: tuple[str, ...] = ()
    content: dict[str, Any] | None = None
    url: str | None = None
    error: str | None = None
    type: ClassVar[str] = "mcp_elicitation"


@dataclass(frozen=True)
class ToolCallFinished:
    """A call's result is ready. `call` is a `ToolCallError` for an unreadable call."""

    step: int
    call: ToolCall | ToolCallError
    result: ToolMessage
    duration: float
    type: ClassVar[str] = "tool_call_finished"


@dataclass(frozen=True)
class OutputRejected:
    """The step's answer does not match the run's output type: `reply` (a user message
    saying what is wrong) goes back to the model, and the run goes on."""

    step: int
    error: str
    reply: str
    type: ClassVar[str] = "output_rejected"


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
    """The run ended early on an error; `error` says what and what to do; `result` holds
    what the run had done by then."""

    error: str
    kind: str
    result: RunResult | None = None
    type: ClassVar[str] = "run_failed"


Event = Union[
    RunStarted,
    ServerStarting,
    ServerStatus,
    McpLog,
    McpSampling,
    McpElicitation,
    Compacted,
    StepStarted,
    ModelRetry,
    ThinkingDelta,
    TextDelta,
    ToolCallStarted,
    TurnFinished,
    ToolApproval,
    ToolProgress,
    ToolCallFinished,
    StepFinished,
    OutputRejected,
    RunFinished,
    RunFailed,
]


def event_to_dict(event: Event) -> dict[str, Any]:
    """A JSON-ready dict of an event, with its `type` first."""
    if isinstance(event, RunFinished):
        body: dict[str, Any] = event.result.summary()
    elif isinstance(event, RunFailed):
        body = {"error": event.error, "kind": event.kind}
        if event.result is not None:
            body["result"] = event.result.summary()
    else:
        body = as_plain(event)
        if isinstance(event, ToolCallFinished):
            body["call"]["kind"] = _kind(event.call)
        elif isinstance(event, TurnFinished):
            for item, call in zip(body["calls"], event.calls, strict=True):
                item["kind"] = _kind(call)
    return {"type": event.type, **body}


def _kind(call: ToolCall | ToolCallError) -> str:
    return "invalid" if isinstance(call, ToolCallError) else "call"
