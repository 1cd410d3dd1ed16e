"""Thinking policies decide per step; soft switches override them."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from agentkit.messages import AssistantMessage, Message, SystemMessage, ToolMessage, UserMessage
from agentkit.thinking import (
    NON_THINKING_SAMPLING,
    THINKING_SAMPLING,
    Always,
    Auto,
    Never,
    OneMode,
    Sampling,
    StepContext,
    ThinkingDecision,
    ThinkingModeWarning,
    decide,
    model_policy,
    resolve_policy,
    soft_switch,
)

ASK = [UserMessage("What is the weather?")]
OK = [ToolMessage("sunny", "c1")]
FAILED = [ToolMessage("Error: bad", "c1", is_error=True)]


def test_model_card_presets() -> None:
    assert THINKING_SAMPLING.body() == {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "min_p": 0.0}
    assert NON_THINKING_SAMPLING.body() == {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "min_p": 0.0}


def test_overrides_replace_only_what_they_set() -> None:
    merged = THINKING_SAMPLING.merged(Sampling(temperature=0.2, max_tokens=64))
    assert merged.body() == {"temperature": 0.2, "top_p": 0.95, "top_k": 20, "min_p": 0.0, "max_tokens": 64}


@pytest.mark.parametrize(
    ("turn_step", "results", "think", "reason"),
    [
        (1, [], True, "auto: first step of the user turn"),
        (2, FAILED, True, "auto: a tool call failed"),
        (2, OK, False, "auto: continuing after tool results"),
    ],
)
def test_auto_thinks_at_the_start_and_after_errors(
    turn_step: int, results: list[ToolMessage], think: bool, reason: str
) -> None:
    decision = decide(resolve_policy("auto"), StepContext(turn_step, turn_step, ASK, results))
    assert (decision.think, decision.reason) == (think, reason)


def test_on_and_off() -> None:
    ctx = StepContext(3, 3, ASK, OK)
    assert decide(resolve_policy("on"), ctx).think is True
    assert decide(resolve_policy("off"), ctx).think is False


def test_budgets_travel_with_the_decision() -> None:
    assert decide(Always(budget=256).decide, StepContext(1, 1, ASK)) == ThinkingDecision(
        True, 256, "policy: on"
    )
    assert decide(Auto(budget=64).decide, StepContext(1, 1, ASK)).budget == 64


def test_callable_policies_get_the_step_context() -> None:
    seen: list[StepContext] = []

    def every_other(ctx: StepContext) -> bool:
        seen.append(ctx)
        return ctx.step % 2 == 1

    policy = resolve_policy(every_other)
    assert [decide(policy, StepContext(s, s, ASK)).think for s in (1, 2, 3)] == [True, False, True]
    assert seen[1].step == 2


def test_unknown_policy_names_the_choices() -> None:
    with pytest.raises(ValueError, match="use 'on', 'off' or 'auto'"):
        resolve_policy("sometimes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "switch"),
    [
        ("Be quick /no_think", False),
        ("/think hard about it", True),
        ("first /no_think then /think", True),
        ("paths like /thinking or a/no_think are not switches", None),
        ("nothing here", None),
    ],
)
def test_soft_switch_parsing(text: str, switch: bool | None) -> None:
    assert soft_switch([UserMessage(text)]) is switch


def test_latest_message_with_a_switch_wins_and_overrides_the_policy() -> None:
    messages: list[Message] = [
        SystemMessage("/think"),
        UserMessage("Hi /no_think"),
        AssistantMessage("Hello"),
        UserMessage("more"),
    ]
    decision = decide(resolve_policy("on"), StepContext(1, 1, messages))
    assert (decision.think, decision.reason) == (False, "/no_think in the conversation")
    decision = decide(resolve_policy("off"), StepContext(1, 1, [UserMessage("Solve it /think")]))
    assert (decision.think, decision.reason) == (True, "/think in the conversation")


def test_a_switch_that_agrees_with_the_policy_is_named_as_the_reason() -> None:
    messages: list[Message] = [
        UserMessage("Count /no_think"),
        AssistantMessage("3"),
        UserMessage("Really? /think"),
    ]
    decision = decide(resolve_policy(Auto(512)), StepContext(1, 1, messages))
    assert (decision.think, decision.budget, decision.reason) == (True, 512, "/think in the conversation")
    plain = decide(resolve_policy(Auto(512)), StepContext(1, 1, [UserMessage("Count")]))
    assert plain.reason.startswith("auto")


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"top_p": 0.0}, "Sampling.top_p must be above 0 and at most 1, not 0.0"),
        ({"temperature": -0.1}, "Sampling.temperature must be at least 0, not -0.1"),
        ({"min_p": 1.5}, "Sampling.min_p must be at least 0 and at most 1, not 1.5"),
        ({"presence_penalty": 3}, "Sampling.presence_penalty must be at least -2 and at most 2, not 3"),
        ({"repetition_penalty": 0}, "Sampling.repetition_penalty must be above 0, not 0"),
        ({"top_k": 2.5}, "Sampling.top_k must be a whole number, not 2.5"),
        ({"seed": "7"}, "Sampling.seed must be a whole number, not '7'"),
    ],
)
def test_sampling_refuses_values_vllm_would_reject_naming_the_field(
    fields: dict[str, Any], says: str
) -> None:
    with pytest.raises(ValueError) as refused:
        Sampling(**fields)
    assert str(refused.value) == says


# -- models with one mode (the Qwen3 2507 releases) -------------------------------------------


@pytest.mark.parametrize("switch", ["/think", "/no_think", ""])
@pytest.mark.parametrize(("thinks", "think"), [("never", False), ("always", True)])
def test_a_model_with_one_mode_keeps_it_whatever_the_soft_switch(
    switch: str, thinks: str, think: bool
) -> None:
    policy = model_policy("auto", thinks, "Qwen3-4B-X-2507")  # type: ignore[arg-type]
    for turn_step, results in ((1, ()), (2, OK), (2, FAILED)):
        ctx = StepContext(turn_step, turn_step, [UserMessage(f"Weather? {switch}")], results)
        decision = decide(policy, ctx)
        assert decision.think is think
        assert decision.reason == f"Qwen3-4B-X-2507 {'always' if think else 'never'} thinks"


@pytest.mark.parametrize(
    ("policy", "thinks", "warned"),
    [
        ("on", "never", True),
        (Always(), "never", True),
        ("off", "never", False),
        ("auto", "never", False),
        ("off", "always", True),
        (Never(), "always", True),
        ("on", "always", False),
        ("auto", "always", False),
        ("on", "switch", False),
    ],
)
def test_asking_a_model_for_the_mode_it_lacks_warns_once(policy: object, thinks: str, warned: bool) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model_policy(policy, thinks, "Qwen/Qwen3-4B-Instruct-2507")  # type: ignore[arg-type]
    found = [w for w in caught if issubclass(w.category, ThinkingModeWarning)]
    assert len(found) == (1 if warned else 0)
    if warned:
        assert "Qwen/Qwen3-4B-Instruct-2507" in str(found[0].message)
        assert "/think and /no_think switches do nothing" in str(found[0].message)


def test_a_thinking_only_model_keeps_the_policys_budget() -> None:
    policy = model_policy(Auto(budget=512), "always", "Qwen3-4B-Thinking-2507")
    assert policy == OneMode(True, "Qwen3-4B-Thinking-2507", 512)
    assert decide(policy, StepContext(3, 3, ASK, OK)) == ThinkingDecision(
        True, 512, "Qwen3-4B-Thinking-2507 always thinks"
    )


def test_a_hybrid_model_keeps_the_policy_and_the_soft_switches() -> None:
    policy = model_policy("on", "switch", "Qwen/Qwen3-4B")
    assert decide(policy, StepContext(1, 1, [UserMessage("hi /no_think")])).think is False
