"""Thinking policies: before every model call, decide whether Qwen3 thinks, and how long.

A policy is `"on"`, `"off"`, `"auto"`, a `ThinkingPolicy` object, or any callable that takes
the `StepContext` and returns a `ThinkingDecision` (or a bool). The soft switches `/think` and
`/no_think` in the conversation's latest user or system message that has one override the
policy, as they do for the model itself.

Models with one mode (the Qwen3 2507 releases) decide for themselves: `model_policy` gives
them a `OneMode` policy, which neither the policy asked for nor a soft switch can change.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, Union

from agentkit.messages import Message, SystemMessage, ToolMessage, UserMessage

__all__ = [
    "NON_THINKING_SAMPLING",
    "THINKING_SAMPLING",
    "Always",
    "Auto",
    "Never",
    "OneMode",
    "Sampling",
    "StepContext",
    "ThinkingDecision",
    "ThinkingMode",
    "ThinkingModeWarning",
    "ThinkingPolicy",
    "decide",
    "model_policy",
    "resolve_policy",
    "soft_switch",
]


_SAMPLING_RANGES: tuple[tuple[str, float, float | None, bool], ...] = (
    ("temperature", 0.0, None, False),
    ("top_p", 0.0, 1.0, True),
    ("top_k", -1, None, False),  # -1 or 0: no top-k
    ("min_p", 0.0, 1.0, False),
    ("presence_penalty", -2.0, 2.0, False),
    ("repetition_penalty", 0.0, None, True),
    ("max_tokens", 1, None, False),
)
"""(field, lowest, highest, lowest excluded): the ranges vLLM accepts."""


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters for one request; None leaves the server's default.

    `top_k`, `min_p` and `repetition_penalty` are not OpenAI parameters; vLLM and SGLang take
    them in the request body.
    """

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    presence_penalty: float | None = None
    repetition_penalty: float | None = None
    max_tokens: int | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("top_k", "max_tokens", "seed"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"Sampling.{name} must be a whole number, not {value!r}")
        for name, low, high, low_open in _SAMPLING_RANGES:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"Sampling.{name} must be a number, not {value!r}")
            if value < low or (low_open and value == low) or (high is not None and value > high):
                where = f"{'above' if low_open else 'at least'} {low:g}" + (
                    f" and at most {high:g}" if high is not None else ""
                )
                raise ValueError(f"Sampling.{name} must be {where}, not {value!r}")

    def merged(self, override: Sampling | None) -> Sampling:
        """These parameters with every field the override sets replaced."""
        if override is None:
            return self
        changes = {
            f.name: getattr(override, f.name)
            for f in fields(override)
            if getattr(override, f.name) is not None
        }
        return replace(self, **changes)

    def body(self) -> dict[str, Any]:
        """The request-body fields this sets."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


THINKING_SAMPLING = Sampling(temperature=0.6, top_p=0.95, top_k=20, min_p=0.0)
"""Qwen3's model-card preset for thinking mode (never greedy: it repeats itself)."""

NON_THINKING_SAMPLING = Sampling(temperature=0.7, top_p=0.8, top_k=20, min_p=0.0)
"""Qwen3's model-card preset for non-thinking mode."""


@dataclass(frozen=True)
class ThinkingDecision:
    """Whether one model call thinks.

    Attributes:
        think: Let the model reason in a `<think>` block before it answers.
        budget: At most this many tokens of reasoning; then it is closed and the model
            answers (None: no limit).
        reason: Why, in a few words; shown in events and transcripts.
    """

    think: bool
    budget: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class StepContext:
    """What a policy may look at before a model call.

    Attributes:
        step: The step number within the run, from 1.
        turn_step: The step number since the latest user message, from 1.
        messages: The conversation so far.
        tool_results: The tool results fed back since the previous model call.
    """

    step: int
    turn_step: int
    messages: Sequence[Message]
    tool_results: Sequence[ToolMessage] = ()

    @property
    def after_tool_error(self) -> bool:
        return any(result.is_error for result in self.tool_results)


class ThinkingPolicy:
    """Base of the built-in policies: `decide` is called before every model call."""

    def decide(self, ctx: StepContext) -> ThinkingDecision:
        raise NotImplementedError


@dataclass(frozen=True)
class Always(ThinkingPolicy):
    """Think on every step (`"on"`)."""

    budget: int | None = None

    def decide(self, ctx: StepContext) -> ThinkingDecision:
        return ThinkingDecision(True, self.budget, "policy: on")


@dataclass(frozen=True)
class Never(ThinkingPolicy):
    """Never think (`"off"`): an empty think block is pre-filled."""

    def decide(self, ctx: StepContext) -> ThinkingDecision:
        return ThinkingDecision(False, None, "policy: off")


@dataclass(frozen=True)
class Auto(ThinkingPolicy):
    """Think where it pays (`"auto"`): on the first step of a user turn and after a tool
    error; answer directly when the step only continues after successful tool results."""

    budget: int | None = None

    def decide(self, ctx: StepContext) -> ThinkingDecision:
        if ctx.turn_step <= 1:
            return ThinkingDecision(True, self.budget, "auto: first step of the user turn")
        if ctx.after_tool_error:
            return ThinkingDecision(True, self.budget, "auto: a tool call failed")
        after = "after tool results" if ctx.tool_results else "the turn"
        return ThinkingDecision(False, None, f"auto: continuing {after}")


PolicyLike = Union[
    Literal["on", "off", "auto"],
    ThinkingPolicy,
    Callable[[StepContext], Union[ThinkingDecision, bool]],
]

_NAMED: dict[str, ThinkingPolicy] = {"on": Always(), "off": Never(), "auto": Auto()}


def resolve_policy(policy: PolicyLike) -> Callable[[StepContext], ThinkingDecision]:
    """The decision function of a policy given by name, object or callable."""
    if isinstance(policy, str):
        if policy not in _NAMED:
            raise ValueError(f"unknown thinking policy {policy!r}: use 'on', 'off' or 'auto'")
        return _NAMED[policy].decide
    if isinstance(policy, ThinkingPolicy):
        return policy.decide
    if callable(policy):
        fn = policy

        def decide_with(ctx: StepContext) -> ThinkingDecision:
            answer = fn(ctx)
            if isinstance(answer, ThinkingDecision):
                return answer
            return ThinkingDecision(bool(answer), None, "policy: callable")

        return decide_with
    raise TypeError(
        f"thinking policy must be 'on', 'off', 'auto', a ThinkingPolicy or a callable, not {policy!r}"
    )


ThinkingMode = Literal["switch", "never", "always"]
"""Whether a model thinks: per request ("switch", the hybrid Qwen3 models), never (the
Instruct-2507 releases) or always (the Thinking-2507 releases)."""


class ThinkingModeWarning(UserWarning):
    """The thinking policy asks for a mode the model does not have; the model's mode is used."""


@dataclass(frozen=True)
class OneMode(ThinkingPolicy):
    """The policy of a model with one mode: it always thinks (Qwen3-Thinking-2507) or never
    does (Qwen3-Instruct-2507), whatever a policy or a `/think` `/no_think` switch asks.

    Attributes:
        think: Whether the model thinks.
        model: Its name, for the decision's reason.
        budget: Reasoning tokens per step (None: no limit), for a model that thinks.
    """

    think: bool
    model: str
    budget: int | None = None

    def decide(self, ctx: StepContext) -> ThinkingDecision:
        if self.think:
            return ThinkingDecision(True, self.budget, f"{self.model} always thinks")
        return ThinkingDecision(False, None, f"{self.model} never thinks")

    def __call__(self, ctx: StepContext) -> ThinkingDecision:
        return self.decide(ctx)


def model_policy(
    policy: PolicyLike, thinks: ThinkingMode, model: str
) -> Callable[[StepContext], ThinkingDecision]:
    """The decision function of a policy for a model that thinks per request, always or never.

    For a model with one mode this is a `OneMode`, keeping the policy's thinking budget; a
    policy that asks for the other mode outright ("on" for a model that never thinks, "off"
    for one that always does) gets a `ThinkingModeWarning` saying so, once.

    Raises:
        ValueError: An unknown policy name.
        TypeError: A policy that is neither a name, a `ThinkingPolicy` nor a callable.
    """
    decide_fn = resolve_policy(policy)
    if thinks == "switch":
        return decide_fn
    think = thinks == "always"
    asks_other = (
        (policy == "off" or isinstance(policy, Never))
        if think
        else (policy == "on" or isinstance(policy, Always))
    )
    if asks_other:
        lacks, does = ("non-thinking mode", "thinks") if think else ("thinking mode", "answers directly")
        warnings.warn(
            f"{model} has no {lacks}: thinking '{'off' if think else 'on'}' is ignored and every step "
            f"{does}; the /think and /no_think switches do nothing either",
            ThinkingModeWarning,
            stacklevel=4,  # the code that made the Agent
        )
    budget = getattr(policy, "budget", None) if think and isinstance(policy, ThinkingPolicy) else None
    return OneMode(think, model, budget)


_SWITCH = re.compile(r"(?<!\S)/(no_think|think)(?![\w/])")


def soft_switch(messages: Sequence[Message]) -> bool | None:
    """The switch in force: True for `/think`, False for `/no_think`, None for neither.

    The latest user or system message that holds one decides; within it, the last one.
    """
    for message in reversed(messages):
        if isinstance(message, (UserMessage, SystemMessage)):
            found: list[str] = _SWITCH.findall(message.content)
            if found:
                return found[-1] == "think"
    return None


def decide(policy: Callable[[StepContext], ThinkingDecision], ctx: StepContext) -> ThinkingDecision:
    """The policy's decision for this step, overridden by a soft switch in the conversation
    (which is then its reason, also where the policy would have decided the same: the switch
    is what holds, as when a `/think` undoes an earlier `/no_think`), unless the model has
    one mode."""
    if isinstance(policy, OneMode):
        return policy.decide(ctx)
    switch = soft_switch(ctx.messages)
    decision = policy(ctx)
    if switch is None:
        return decision
    word = "/think" if switch else "/no_think"
    return ThinkingDecision(switch, decision.budget if switch else None, f"{word} in the conversation")
