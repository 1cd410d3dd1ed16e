"""What a finished run gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from agentkit.messages import AssistantMessage, Message, ToolMessage, Usage
from agentkit.thinking import ThinkingDecision

__all__ = ["RunResult", "StepRecord", "StopReason"]

StopReason = Literal["answer", "max_steps", "max_tokens", "timeout"]


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
    """A finished run.

    Attributes:
        output: The final answer's text ("" when the run stopped at a limit).
        messages: The whole conversation, this run's task and turns included; pass it as
            `history` to continue the conversation.
        steps: Each model call, with its thinking decision.
        usage: Tokens over all steps.
        stop_reason: "answer", or the limit that ended the run.
        run_id: The run's id (also its transcript's name).
    """

    output: str
    messages: list[Message]
    steps: list[StepRecord]
    usage: Usage
    stop_reason: StopReason
    run_id: str = ""

    @property
    def ok(self) -> bool:
        """Whether the run ended with an answer."""
        return self.stop_reason == "answer"

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "output": self.output,
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
        }
