"""Model profiles: which profile a model name finds, and what each holds."""

from __future__ import annotations

import pytest

from agentkit.profiles import PROFILES, profile_for
from agentkit.thinking import Sampling


def test_profiles_cover_the_qwen3_family_with_model_card_sampling() -> None:
    assert {
        "Qwen/Qwen3-0.6B",
        "Qwen/Qwen3-1.7B",
        "Qwen/Qwen3-4B",
        "Qwen/Qwen3-8B",
        "Qwen/Qwen3-14B",
        "Qwen/Qwen3-32B",
    } <= set(PROFILES)
    profile = profile_for("qwen3-8b")
    assert profile.name == "Qwen/Qwen3-8B"
    assert profile.sampling(True).temperature == 0.6 and profile.sampling(False).top_p == 0.8


@pytest.mark.parametrize(
    ("model", "name", "thinks"),
    [
        ("Qwen/Qwen3-4B-Instruct-2507", "Qwen/Qwen3-4B-Instruct-2507", "never"),
        ("Qwen/Qwen3-4B-Thinking-2507", "Qwen/Qwen3-4B-Thinking-2507", "always"),
        ("Qwen/Qwen3-30B-A3B-Instruct-2507-FP8", "Qwen/Qwen3-30B-A3B-Instruct-2507", "never"),
        ("qwen/qwen3-30b-a3b-thinking-2507", "Qwen/Qwen3-30B-A3B-Thinking-2507", "always"),
        ("/models/Qwen3-235B-A22B-Thinking-2507-FP8/", "Qwen/Qwen3-235B-A22B-Thinking-2507", "always"),
        ("team-qwen3-235b-a22b-instruct-2507-awq", "Qwen/Qwen3-235B-A22B-Instruct-2507", "never"),
        ("org/Qwen3-8B-Thinking-2507-finetune", "org/Qwen3-8B-Thinking-2507-finetune", "always"),
        ("Qwen/Qwen3-4B", "Qwen/Qwen3-4B", "switch"),
        ("Qwen/Qwen3-4B-FP8", "Qwen/Qwen3-4B", "switch"),
        ("my-local-model", "my-local-model", "switch"),
    ],
)
def test_the_profile_is_chosen_from_the_model_name(model: str, name: str, thinks: str) -> None:
    profile = profile_for(model)
    assert (profile.name, profile.thinks) == (name, thinks)
    expected = {"never": "qwen3-instruct-2507", "always": "qwen3-thinking-2507", "switch": "qwen3"}[thinks]
    assert profile.template == expected


def test_2507_profiles_take_their_model_cards_sampling_and_window() -> None:
    instruct, thinking = profile_for("Qwen3-4B-Instruct-2507"), profile_for("Qwen3-4B-Thinking-2507")
    for think in (True, False):
        assert instruct.sampling(think) == Sampling(temperature=0.7, top_p=0.8, top_k=20, min_p=0.0)
        assert thinking.sampling(think) == Sampling(temperature=0.6, top_p=0.95, top_k=20, min_p=0.0)
    assert instruct.context_length == thinking.context_length == 262_144
