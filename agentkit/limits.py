"""A run's budgets: `Limits` (where it stops) and `Timeouts` (how long each wait may last).

Two small typed settings objects an `Agent` takes (`Agent(limits=..., timeouts=...)`) instead
of a dozen loose arguments; each default is named in `agentkit.defaults`, where its reason is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from agentkit.defaults import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_MALFORMED,
    DEFAULT_MAX_REPEATS,
    DEFAULT_MAX_STEPS,
    DEFAULT_MCP_ASK_TIMEOUT,
    DEFAULT_OUTPUT_RETRIES,
    DEFAULT_SET_ASIDE,
    DEFAULT_STEP_CANCEL_GRACE,
    DEFAULT_TOOL_CANCEL_GRACE,
    DEFAULT_TOOL_TIMEOUT,
)
from agentkit.thinking import Sampling

__all__ = ["Limits", "Timeouts", "with_call_cap"]


@dataclass(frozen=True)
class Limits:
    """Where a run stops if the model does not answer first.

    Each limit that ends a run gives its own stop reason (`agentkit.result.STOP_REASONS`).
    Change some with `dataclasses.replace(limits, ...)` (or `limits.override(...)`).

    Attributes:
        max_steps: Model calls per run (`DEFAULT_MAX_STEPS`); then "max_steps".
        max_run_tokens: Completion tokens per run, over all its steps (None, the default: no
            limit); then "max_run_tokens". A single model call is capped by
            `Agent(max_tokens=...)` instead.
        timeout: Seconds of wall-clock time per run (None, the default: no limit: a run is
            bounded by its steps and each request's timeouts and retries); then "timeout".
        max_repeats: The same call with the same result this many times in a row is answered
            with a correction instead of being run, and once more ends the run with
            "repetition" (`DEFAULT_MAX_REPEATS`; None: never).
        max_malformed: Steps in a row whose every call was unreadable before the run ends
            with "malformed_output" (`DEFAULT_MAX_MALFORMED`; None: never).
        output_retries: Answers that do not match the run's output type sent back to the
            model with the error before the run ends with "invalid_output"
            (`DEFAULT_OUTPUT_RETRIES`).

    Raises:
        ValueError: A limit out of range, naming it and what it takes.
    """

    max_steps: int = DEFAULT_MAX_STEPS
    max_run_tokens: int | None = None
    timeout: float | None = None
    max_repeats: int | None = DEFAULT_MAX_REPEATS
    max_malformed: int | None = DEFAULT_MAX_MALFORMED
    output_retries: int = DEFAULT_OUTPUT_RETRIES

    def __post_init__(self) -> None:
        _at_least(self, "max_steps", 1, "a run needs one model call at least", optional=False)
        _at_least(self, "max_run_tokens", 1, "None means no limit")
        _positive(self, "timeout", "None means no limit")
        _at_least(self, "max_repeats", 1, "None never stops a repeating model")
        _at_least(self, "max_malformed", 1, "None never stops on unreadable calls")
        _at_least(self, "output_retries", 0, "0 ends the run at the first wrong answer", optional=False)

    def override(self, **changes: Any) -> Limits:
        """These limits with some changed; a change that is None keeps the limit as it is
        (the shape of per-task and command-line overrides)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class Timeouts:
    """How long each wait of a run may last, in seconds.

    Attributes:
        connect: To open a connection to the model server (`DEFAULT_CONNECT_TIMEOUT`).
        idle: A model response may go without a complete line this long before it counts as
            stalled and is retried or continued (`DEFAULT_IDLE_TIMEOUT`); the read timeout
            of the HTTP client.
        tool: A tool call may run this long, for tools that set no timeout of their own
            (`DEFAULT_TOOL_TIMEOUT`).
        tool_cancel_grace: Tool calls cancelled at the end of a step (the run stopping) get
            this long to clean up before the run goes on (`DEFAULT_TOOL_CANCEL_GRACE`).
        step_cancel_grace: A step cancelled by SIGTERM (`agentkit chat`) gets this long to
            stop before the process exits anyway (`DEFAULT_STEP_CANCEL_GRACE`).
        mcp_ask: A person (or the agent's `on_sampling` / `on_elicitation` callback) has this
            long to answer what an MCP server asks (`DEFAULT_MCP_ASK_TIMEOUT`).
        set_aside: With several servers (a list of base URLs), a server that failed is left
            out of the rotation this long (`DEFAULT_SET_ASIDE`).

    Retries of a failed model call have their own budget: `RetryPolicy(total_time=...)`.

    Raises:
        ValueError: A timeout that is not a positive number, naming it.
    """

    connect: float = DEFAULT_CONNECT_TIMEOUT
    idle: float = DEFAULT_IDLE_TIMEOUT
    tool: float = DEFAULT_TOOL_TIMEOUT
    tool_cancel_grace: float = DEFAULT_TOOL_CANCEL_GRACE
    step_cancel_grace: float = DEFAULT_STEP_CANCEL_GRACE
    mcp_ask: float = DEFAULT_MCP_ASK_TIMEOUT
    set_aside: float = DEFAULT_SET_ASIDE

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            if getattr(self, item.name) is None:
                raise ValueError(
                    f"Timeouts({item.name}=None): every wait needs a bound; give seconds, or leave "
                    f"{item.name} out for its default ({item.default:g} s)"
                )
            _positive(self, item.name, f"leave it out for its default, {item.default:g} s")

    def override(self, **changes: Any) -> Timeouts:
        """These timeouts with some changed; a change that is None keeps the timeout."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def with_call_cap(max_tokens: int | None, sampling: Sampling | None) -> Sampling | None:
    """Sampling overrides with a per-call token cap given on its own (`max_tokens=`, short
    for `Sampling(max_tokens=...)`) in them.

    Raises:
        ValueError: Both set the cap, to different values.
    """
    if max_tokens is None:
        return sampling
    if sampling is not None and sampling.max_tokens not in (None, max_tokens):
        raise ValueError(
            f"max_tokens={max_tokens} and sampling max_tokens={sampling.max_tokens} both cap each "
            "model call; give one of them"
        )
    return (sampling or Sampling()).merged(Sampling(max_tokens=max_tokens))


def _at_least(settings: object, name: str, least: int, hint: str, *, optional: bool = True) -> None:
    value = getattr(settings, name)
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(
            f"{type(settings).__name__}({name}={value!r}): must be a whole number, {least} or more ({hint})"
        )


def _positive(settings: object, name: str, hint: str) -> None:
    value = getattr(settings, name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{type(settings).__name__}({name}={value!r}): must be seconds above 0 ({hint})")
