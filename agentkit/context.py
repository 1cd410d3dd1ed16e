"""The context budget: how many tokens the next prompt takes, and compacting history before
it overflows the model's window.

Before each step the loop asks for the prompt's size. Counts come from the server where it
gives them: the usage of the previous request (exact) calibrates a characters-per-token
ratio for this run, and near the limit vLLM's `/tokenize` gives the exact figure. When the
prompt plus the output reserve would not fit the window, history is compacted by one
documented policy:

1. the oldest tool results first, each replaced by a short note (the tool, its size, "call
   again to see it");
2. then the thinking of earlier steps, oldest first.

Never the system prompt, the user's messages, or the latest turn (the model's last message
and the results it is waiting for). Compaction goes well below the trigger (to
`DEFAULT_COMPACT_TO` of the room), so that between compactions the prompt only grows and
the server's prefix cache keeps serving it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from agentkit.defaults import DEFAULT_CHARS_PER_TOKEN, DEFAULT_COMPACT_TO, DEFAULT_OUTPUT_RESERVE
from agentkit.messages import AssistantMessage, Message, ToolMessage

__all__ = [
    "DEFAULT_CHARS_PER_TOKEN",
    "DEFAULT_COMPACT_TO",
    "DEFAULT_OUTPUT_RESERVE",
    "Change",
    "Compaction",
    "ContextBudget",
    "ContextPolicy",
    "apply_changes",
    "compact",
    "plan_compaction",
]


_NEAR = 0.85
"""Within this share of the limit an estimate is checked with an exact count."""


@dataclass(frozen=True)
class ContextPolicy:
    """How a run keeps its prompt inside the model's window.

    Attributes:
        window: The context window in tokens; None takes the server's (vLLM lists it),
            else the model profile's.
        reserve: Tokens kept for the reply (None: `DEFAULT_OUTPUT_RESERVE`, at most a
            quarter of the window).
        compact_to: Compaction target, as a share of the room the reserve leaves.
        enabled: False turns compaction off (a prompt that does not fit then fails at the
            server).
    """

    window: int | None = None
    reserve: int | None = None
    compact_to: float = DEFAULT_COMPACT_TO
    enabled: bool = True

    def reserve_for(self, window: int) -> int:
        return self.reserve if self.reserve is not None else min(DEFAULT_OUTPUT_RESERVE, window // 4)


@dataclass(frozen=True)
class Change:
    """One compaction edit: a tool result replaced by a note, or a turn's thinking dropped.

    Attributes:
        index: The message's position in the conversation.
        kind: "result" or "thinking".
        text: The note that replaces a result.
    """

    index: int
    kind: Literal["result", "thinking"]
    text: str = ""


@dataclass
class Compaction:
    """What one compaction did.

    Attributes:
        before: Prompt tokens before (estimated or counted).
        after: Prompt tokens after (estimated).
        changes: The edits, in the order made.
    """

    before: int
    after: int
    changes: list[Change] = field(default_factory=list)

    @property
    def results(self) -> int:
        return sum(1 for c in self.changes if c.kind == "result")

    @property
    def thoughts(self) -> int:
        return sum(1 for c in self.changes if c.kind == "thinking")


def result_note(message: ToolMessage) -> str:
    """What stands in for a tool result that was compacted away."""
    tool = message.name or "the tool"
    size = len(message.full_content or message.content)
    return (
        f"[{tool} result of {size:,} characters left out to fit the context window; "
        f"call {tool} again to see it]"
    )


def _strip_thinking(message: AssistantMessage) -> AssistantMessage:
    raw = message.raw
    if raw is not None:
        end = raw.find("</think>")
        raw = raw[end + len("</think>") :].lstrip() if end >= 0 else raw
    return dataclasses.replace(message, reasoning=None, raw=raw)


def apply_changes(messages: list[Message], changes: Sequence[Change]) -> None:
    """Make the edits in `messages` (new message objects in place of the old)."""
    for change in changes:
        message = messages[change.index]
        if change.kind == "result" and isinstance(message, ToolMessage):
            whole = message.full_content or message.content  # kept: the note is made from it
            messages[change.index] = dataclasses.replace(message, content=change.text, full_content=whole)
        elif change.kind == "thinking" and isinstance(message, AssistantMessage):
            messages[change.index] = _strip_thinking(message)


def _protected_from(messages: Sequence[Message]) -> int:
    """The index from which nothing is compacted: the latest turn (the last assistant
    message and what follows it)."""
    last = max((i for i, m in enumerate(messages) if isinstance(m, AssistantMessage)), default=len(messages))
    return last


def compact(messages: list[Message], size: int, target: int, chars_per_token: float) -> Compaction | None:
    """Compact `messages` (a prompt of `size` tokens) towards `target` tokens, by the policy
    in this module's docstring; None when nothing could be compacted."""
    done = plan_compaction(messages, size, target, chars_per_token)
    if done is not None:
        apply_changes(messages, done.changes)
    return done


def plan_compaction(
    messages: Sequence[Message], size: int, target: int, chars_per_token: float
) -> Compaction | None:
    """What `compact` would do, and the size it would leave, without doing it."""
    protected = _protected_from(messages)
    done = Compaction(size, size)
    saved = 0.0
    for i in range(protected):  # 1. the oldest tool results first
        if size - saved <= target:
            break
        message = messages[i]
        if isinstance(message, ToolMessage):
            note = result_note(message)
            if len(message.content) > len(note):
                done.changes.append(Change(i, "result", note))
                saved += (len(message.content) - len(note)) / chars_per_token
    for i in range(protected):  # 2. then earlier steps' thinking
        if size - saved <= target:
            break
        message = messages[i]
        if isinstance(message, AssistantMessage) and message.reasoning:
            done.changes.append(Change(i, "thinking"))
            saved += len(message.reasoning) / chars_per_token
    if not done.changes:
        return None
    done.after = max(0, round(size - saved))
    return done


class ContextBudget:
    """One run's view of its context: the window, the prompt's size, the calibration.

    Args:
        policy: The window, reserve and target.
        fallback_window: The window when neither the policy nor the server gives one
            (the model profile's).
    """

    def __init__(self, policy: ContextPolicy, fallback_window: int | None) -> None:
        self.policy = policy
        self.fallback_window = fallback_window
        self.window: int | None = None
        self.chars_per_token = DEFAULT_CHARS_PER_TOKEN
        self.calibrated = False
        self._sent_chars: int | None = None

    async def resolve_window(self, backend: Any) -> int | None:
        """The window in tokens (asked of the backend once)."""
        if self.window is None:
            asked = getattr(backend, "context_window", None)
            server = await asked() if asked is not None and self.policy.window is None else None
            self.window = self.policy.window or server or self.fallback_window
        return self.window

    async def measure(self, backend: Any, request: Any, limit: int) -> tuple[int, bool]:
        """The request's prompt size in tokens, and whether it is an exact count. Estimates
        close to `limit` are checked with the server's count where it has one."""
        chars = await backend.prompt_size(request)
        self._sent_chars = chars
        estimate = round(chars / self.chars_per_token)
        counter = getattr(backend, "count_tokens", None)
        if estimate >= limit * _NEAR and counter is not None:
            exact = await counter(request)
            if exact is not None:
                if exact > 0:
                    self.chars_per_token = chars / exact
                    self.calibrated = True
                return exact, True
        return estimate, False

    def observe(self, context_tokens: int | None, output_chars: int) -> None:
        """Calibrate from what the server counted for the request just made."""
        if context_tokens and self._sent_chars:
            self.chars_per_token = (self._sent_chars + output_chars) / context_tokens
            self.calibrated = True

    def room(self, window: int) -> int:
        """Prompt tokens allowed before a step compacts."""
        return window - self.policy.reserve_for(window)


def has_budget(backend: Any) -> bool:
    """Whether a backend can tell its prompt's size (the context budget needs it)."""
    return callable(getattr(backend, "prompt_size", None))
