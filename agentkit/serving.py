"""Qwen3 model profiles as data, and the `vllm serve` command line that serves them."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from agentkit.thinking import NON_THINKING_SAMPLING, THINKING_SAMPLING, Sampling

__all__ = ["DEFAULT_MODEL", "PROFILES", "ModelProfile", "profile_for", "serve_hint", "vllm_serve_args"]

VLLM_AGENT_FLAGS = (
    "--enable-auto-tool-choice",
    "--tool-call-parser",
    "hermes",
    "--reasoning-parser",
    "qwen3",
)
"""What agentkit needs of vLLM: server-side Hermes tool parsing and Qwen3 reasoning parsing."""


@dataclass(frozen=True)
class ModelProfile:
    """What agentkit knows about one Qwen3 model.

    Attributes:
        name: The Hugging Face id.
        params_b: Parameters, in billions.
        context_length: Native context window (tokens).
        max_model_len: The `--max-model-len` agentkit serves it with by default.
        long_context: The window with YaRN rope scaling (opt-in; hurts short texts a little).
        thinking: Sampling preset for thinking steps.
        non_thinking: Sampling preset for non-thinking steps.
    """

    name: str
    params_b: float
    context_length: int = 32_768
    max_model_len: int = 32_768
    long_context: int = 131_072
    thinking: Sampling = field(default=THINKING_SAMPLING)
    non_thinking: Sampling = field(default=NON_THINKING_SAMPLING)

    def sampling(self, think: bool) -> Sampling:
        return self.thinking if think else self.non_thinking


PROFILES: dict[str, ModelProfile] = {
    p.name: p
    for p in (
        ModelProfile("Qwen/Qwen3-0.6B", 0.6),
        ModelProfile("Qwen/Qwen3-1.7B", 1.7),
        ModelProfile("Qwen/Qwen3-4B", 4.0),
        ModelProfile("Qwen/Qwen3-8B", 8.2),
        ModelProfile("Qwen/Qwen3-14B", 14.8),
        ModelProfile("Qwen/Qwen3-32B", 32.8),
    )
}

DEFAULT_MODEL = "Qwen/Qwen3-4B"


def profile_for(model: str | None) -> ModelProfile:
    """The profile of a model id (matched by its last path part), else Qwen3's defaults."""
    if not model:
        return PROFILES[DEFAULT_MODEL]
    if model in PROFILES:
        return PROFILES[model]
    tail = model.rstrip("/").rsplit("/", 1)[-1].lower()
    for profile in PROFILES.values():
        if profile.name.rsplit("/", 1)[-1].lower() == tail:
            return profile
    return ModelProfile(model, 0.0)


def vllm_serve_args(
    model: str = DEFAULT_MODEL,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_model_len: int | None = None,
    long_context: bool = False,
) -> list[str]:
    """The `vllm serve` argument list for a Qwen3 model with agentkit's flags."""
    profile = profile_for(model)
    args = ["vllm", "serve", model, "--host", host, "--port", str(port), *VLLM_AGENT_FLAGS]
    if long_context:
        factor = profile.long_context / profile.context_length
        rope = json.dumps(
            {
                "rope_type": "yarn",
                "factor": factor,
                "original_max_position_embeddings": profile.context_length,
            },
            separators=(",", ":"),
        )
        args += ["--rope-scaling", rope]
        max_model_len = max_model_len or profile.long_context
    args += ["--max-model-len", str(max_model_len or profile.max_model_len)]
    return args


def serve_hint(base_url: str, model: str | None = None) -> str:
    """One sentence telling how to get a server at `base_url`."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or "127.0.0.1"
    name = model if model and "/" in model else DEFAULT_MODEL
    command = shlex.join(vllm_serve_args(name, host=host, port=port))
    return f"Start one with: {command}"
