"""When to send a failed model request again, and how long to wait first: one policy for
every backend and endpoint.

Retried: connections refused (once the server has answered before), reset or cut; 408, 429,
500, 502, 503 and 504; a 200 whose body is empty or not an event stream; a stream that
breaks or goes silent. Waits grow exponentially with full jitter (a random wait between
zero and the exponential bound, which spreads the retries of many runs apart), and honour
the server's `Retry-After`. Retries stop at a number of attempts or a total time, whichever
comes first.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from agentkit.defaults import (
    DEFAULT_BACKOFF_BASE,
    DEFAULT_BACKOFF_CAP,
    DEFAULT_RETRY_ATTEMPTS,
    DEFAULT_RETRY_TIME,
)
from agentkit.errors import ModelError

__all__ = [
    "DEFAULT_BACKOFF_BASE",
    "DEFAULT_BACKOFF_CAP",
    "DEFAULT_RETRY_ATTEMPTS",
    "DEFAULT_RETRY_TIME",
    "Attempts",
    "RetryPolicy",
]


@dataclass(frozen=True)
class RetryPolicy:
    """How a failed model request is retried.

    Attributes:
        attempts: Requests per model call, the first included (1: never retry).
        total_time: Seconds from the first failure after which no retry starts.
        base: The bound of the first wait, in seconds; doubled for each retry.
        cap: The largest bound a wait is drawn under.
    """

    attempts: int = DEFAULT_RETRY_ATTEMPTS
    total_time: float = DEFAULT_RETRY_TIME
    base: float = DEFAULT_BACKOFF_BASE
    cap: float = DEFAULT_BACKOFF_CAP

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"retry attempts must be at least 1, got {self.attempts}")
        if self.total_time < 0 or self.base < 0 or self.cap < 0:
            raise ValueError("retry times must not be negative")


class Attempts:
    """The retry budget of one model call (all its requests, continuations included)."""

    __slots__ = ("errors", "first_failure", "number", "policy")

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.number = 1
        self.first_failure: float | None = None
        self.errors: list[str] = []

    def wait_after(self, error: ModelError) -> float:
        """Seconds to wait before the next attempt; raises the error when it is final.

        A final error that follows retries says how many attempts failed over how long.
        """
        now = time.monotonic()
        if self.first_failure is None:
            self.first_failure = now
        self.errors.append(str(error))
        if not error.retryable:
            raise error
        spent = now - self.first_failure
        left = self.policy.total_time - spent
        if self.number >= self.policy.attempts or left <= 0:
            raise self._final(error, spent)
        bound = min(self.policy.cap, self.policy.base * 2 ** (self.number - 1))
        wait = random.uniform(0, bound)
        if error.retry_after is not None:
            if error.retry_after > left:
                raise self._final(error, spent, f"it asked to wait {error.retry_after:g} s")
            wait = max(wait, error.retry_after)
        self.number += 1
        return min(wait, left)

    def _final(self, error: ModelError, spent: float, why: str = "") -> ModelError:
        if self.number == 1 and not why:
            return error
        tries = f"{self.number} attempt{'s' if self.number > 1 else ''} in {spent:.0f} s"
        detail = f": {why}, more than the retry time left" if why else ""
        message = f"{str(error).rstrip('.')}; gave up after {tries}{detail}"
        final = type(error)(message, url=error.url, status=error.status, retryable=False)
        final.__cause__ = error
        return final
