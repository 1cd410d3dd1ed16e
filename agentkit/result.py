"""What a finished run gives back, and why a run stops."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from agentkit.messages import AssistantMessage, Message, ToolCall, ToolMessage, Usage
from agentkit.thinking import ThinkingDecision

if TYPE_CHECKING:
    from agentkit.backends.base import Turn

__all__ = ["STOP_REASONS", "Resume", "RunResult", "StepRecord", "StopReason", "stop_reason_of"]

StopReason = Literal[
    "answer",
    "max_steps",
    "max_run_tokens",
    "timeout",
    "repetition",
    "malformed_output",
    "context_full",
    "invalid_output",
    "error",
    "interrupted",
]

STOP_REASONS: dict[str, tuple[int, str]] = {
    "answer": (0, "the model answered"),
    "max_steps": (3, "the step limit came before an answer (max_steps, --max-steps)"),
    "max_run_tokens": (
        4,
        "the run's output-token limit came before an answer (Limits(max_run_tokens=...), --max-run-tokens)",
    ),
    "timeout": (5, "the run's time limit came before an answer (timeout, --timeout)"),
    "repetition": (6, "the model made the same call with the same result again and again"),
    "malformed_output": (7, "the model wrote tool calls that could not be read, several steps in a row"),
    "context_full": (8, "the conversation no longer fits the context window, even compacted"),
    "invalid_output": (
        10,
        "the answer did not match the output type, even after being sent back with the error",
    ),
    "error": (9, "the model server failed (after retries) or refused the request"),
    "interrupted": (130, "Ctrl-C or SIGTERM stopped the run (SIGTERM exits with 143)"),
}
"""Each stop reason's `agentkit run` exit code and meaning. Bad input (arguments, configs)
exits with 2 before a run starts."""

_FORMER_NAMES = {"max_tokens": "max_run_tokens"}
"""Stop reasons that were named otherwise in older transcripts, by their old name."""


def stop_reason_of(written: str) -> str:
    """A stop reason as a transcript or results file wrote it, in today's name (a run stopped
    at its token limit before that limit was called `max_run_tokens` wrote "max_tokens")."""
    return _FORMER_NAMES.get(written, written)


@dataclass
class StepRecord:
    """One model call and the tool calls it led to.

    Attributes:
        step: The step number, from 1.
        decision: The thinking decision for this call, and why.
        message: What the model said.
        tool_results: The answers to its tool calls, in call order.
        usage: Tokens of this step.
        finish_reason: Why generation stopped.
        duration: Seconds, from the request to the last tool result.
    """

    step: int
    decision: ThinkingDecision
    message: AssistantMessage
    tool_results: list[ToolMessage] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    duration: float = 0.0


@dataclass
class RunResult:
    """A finished run, or what an unfinished one had done.

    Attributes:
        output: The final answer: its text, or with an output type the validated object
            (a pydantic model's instance; for a JSON schema dict, the parsed JSON). ""
            when the run stopped before an answer.
        messages: The whole conversation, this run's task and turns included; pass it as
            `history` to continue the conversation.
        steps: Each model call, with its thinking decision.
        usage: Tokens over all steps.
        stop_reason: "answer", or why the run stopped (see `STOP_REASONS`).
        run_id: The run's id (also its transcript's name).
        error: What went wrong, when `stop_reason` is "error".
        transcript: The run's transcript file, when it has one.
    """

    output: Any
    messages: list[Message]
    steps: list[StepRecord]
    usage: Usage
    stop_reason: StopReason
    run_id: str = ""
    error: str | None = None
    transcript: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the run ended with an answer."""
        return self.stop_reason == "answer"

    @property
    def text(self) -> str:
        """The final answer as the model wrote it (with an output type: its JSON)."""
        return self.steps[-1].message.content if self.ok and self.steps else ""

    def output_json(self) -> Any:
        """`output` as JSON data: the answer's text, or with an output type the JSON the
        model wrote (checked against the type)."""
        if isinstance(self.output, str):
            return self.output
        from agentkit.output import unfenced

        return json.loads(unfenced(self.text))

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "output": self.output_json(),
            "stop_reason": self.stop_reason,
            "steps": len(self.steps),
            "decisions": [
                {"step": s.step, "think": s.decision.think, "reason": s.decision.reason} for s in self.steps
            ],
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "cached_tokens": self.usage.cached_tokens,
                "requests": self.usage.requests,
            },
            **({"error": self.error} if self.error else {}),
        }


@dataclass
class Resume:
    """Where a run taken up again stands (read from its transcript by `agentkit.store`).

    Attributes:
        steps: The finished steps.
        usage: Tokens used so far.
        decision: The thinking decision of the step in progress, if one was in progress.
        turn: That step's model turn, if the model had finished writing it.
        started: Calls of that step that started, with their results (None: the call never
            finished). They answer the same calls asked again; none is run twice.
    """

    steps: list[StepRecord] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    decision: ThinkingDecision | None = None
    turn: Turn | None = None
    started: list[tuple[ToolCall, ToolMessage | None]] = field(default_factory=list)
