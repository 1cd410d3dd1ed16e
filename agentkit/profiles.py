"""Qwen3 model profiles, as data: what agentkit knows of each model (its window, sampling
presets, thinking mode, prompt template and the vLLM parser flags it needs), and how a model
id, a local path or a served name finds its profile.

The backends read a profile at every request; `agentkit.serving` reads it to serve the model.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from agentkit.qwen3.template import TemplateName
from agentkit.thinking import NON_THINKING_SAMPLING, THINKING_SAMPLING, Sampling, ThinkingMode

__all__ = [
    "DEFAULT_MODEL",
    "PROFILES",
    "VLLM_AGENT_FLAGS",
    "VLLM_REASONING_FLAGS",
    "ModelProfile",
    "ThinkingMode",
    "profile_for",
]

VLLM_AGENT_FLAGS = (
    "--enable-auto-tool-choice",
    "--tool-call-parser",
    "hermes",
)
"""What agentkit needs of vLLM for every Qwen3 model: server-side Hermes tool parsing."""

VLLM_REASONING_FLAGS = ("--reasoning-parser", "qwen3")
"""And for models that think: Qwen3 reasoning parsing. vLLM's `qwen3` parser (0.32 checked)
starts inside the reasoning unless the request says `enable_thinking: false`, so it also reads
Qwen3-Thinking-2507's output, which has `</think>` but no `<think>`."""

DEFAULT_MODEL = "Qwen/Qwen3-4B"
"""What `agentkit serve` serves on a GPU, and the profile of a run that names no model."""


@dataclass(frozen=True)
class ModelProfile:
    """What agentkit knows about one Qwen3 model.

    Attributes:
        name: The Hugging Face id.
        context_length: Native context window (tokens).
        max_model_len: The `--max-model-len` agentkit serves it with by default.
        long_context: The window with YaRN rope scaling (opt-in; hurts short texts a little);
            no more than `context_length` where the model card gives no YaRN setting.
        thinking: Sampling preset for thinking steps.
        non_thinking: Sampling preset for non-thinking steps.
        thinks: Whether the model thinks per request, never, or always; where it has one
            mode, the thinking policy and the `/think` `/no_think` switches cannot change it.
        template: The prompt format (agentkit's chat template of the same name).
    """

    name: str
    context_length: int = 32_768
    max_model_len: int = 32_768
    long_context: int = 131_072
    thinking: Sampling = field(default=THINKING_SAMPLING)
    non_thinking: Sampling = field(default=NON_THINKING_SAMPLING)
    thinks: ThinkingMode = "switch"
    template: TemplateName = "qwen3"

    def sampling(self, think: bool) -> Sampling:
        """The sampling preset for a step that thinks (`think`) or does not."""
        return self.thinking if think else self.non_thinking

    def thinks_when(self, asked: bool) -> bool:
        """Whether a step thinks when `asked` is the thinking decision: as asked where the
        model switches, else its one mode."""
        return asked if self.thinks == "switch" else self.thinks == "always"

    def serve_flags(self) -> tuple[str, ...]:
        """The parser flags vLLM needs for this model (no reasoning parser where it never thinks)."""
        return VLLM_AGENT_FLAGS if self.thinks == "never" else (*VLLM_AGENT_FLAGS, *VLLM_REASONING_FLAGS)


def _release_2507(name: str, thinks: ThinkingMode) -> ModelProfile:
    # The 2507 model cards: 262,144 tokens native (no YaRN setting given); one sampling preset,
    # the Instruct card's 0.7/0.8/20/0 or the Thinking card's 0.6/0.95/20/0. Served with
    # 32,768 by default, the length the cards suggest where the whole window does not fit.
    preset = THINKING_SAMPLING if thinks == "always" else NON_THINKING_SAMPLING
    return ModelProfile(
        name,
        context_length=262_144,
        long_context=262_144,
        thinking=preset,
        non_thinking=preset,
        thinks=thinks,
        template="qwen3-thinking-2507" if thinks == "always" else "qwen3-instruct-2507",
    )


PROFILES: dict[str, ModelProfile] = {
    p.name: p
    for p in (
        ModelProfile("Qwen/Qwen3-0.6B"),
        ModelProfile("Qwen/Qwen3-1.7B"),
        ModelProfile("Qwen/Qwen3-4B"),
        ModelProfile("Qwen/Qwen3-8B"),
        ModelProfile("Qwen/Qwen3-14B"),
        ModelProfile("Qwen/Qwen3-32B"),
        _release_2507("Qwen/Qwen3-4B-Instruct-2507", "never"),
        _release_2507("Qwen/Qwen3-4B-Thinking-2507", "always"),
        _release_2507("Qwen/Qwen3-30B-A3B-Instruct-2507", "never"),
        _release_2507("Qwen/Qwen3-30B-A3B-Thinking-2507", "always"),
        _release_2507("Qwen/Qwen3-235B-A22B-Instruct-2507", "never"),
        _release_2507("Qwen/Qwen3-235B-A22B-Thinking-2507", "always"),
    )
}

_RELEASES_2507: dict[str, ThinkingMode] = {"instruct-2507": "never", "thinking-2507": "always"}


@functools.lru_cache(maxsize=256)  # asked at every request; a profile is frozen
def profile_for(model: str | None) -> ModelProfile:
    """The profile of a model id, a local path or a served name, else Qwen3's defaults.

    A name matches a profile by its last path part, case aside and without an `-FP8` suffix.
    The 2507 releases also match anywhere in the name (`/models/qwen3-4b-thinking-2507-awq`,
    a served name `my-qwen3-30b-a3b-instruct-2507`), and a name with `Instruct-2507` or
    `Thinking-2507` in it that no profile has gets that release's mode and template.
    """
    if not model:
        return PROFILES[DEFAULT_MODEL]
    if model in PROFILES:
        return PROFILES[model]
    tail = model.rstrip("/").rsplit("/", 1)[-1].lower().removesuffix("-fp8")
    stems = {profile.name.rsplit("/", 1)[-1].lower(): profile for profile in PROFILES.values()}
    if tail in stems:
        return stems[tail]
    lowered = model.lower()
    for stem in sorted(stems, key=len, reverse=True):
        if stem.endswith("-2507") and stem in lowered:
            return stems[stem]
    for release, thinks in _RELEASES_2507.items():
        if release in lowered:
            return _release_2507(model, thinks)
    return ModelProfile(model)
