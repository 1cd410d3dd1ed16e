"""Several servers of one model as one backend.

Every request of a run goes to the same server, so that its prefix cache holds the run; a
new run goes to the server with the fewest runs in flight. A server that fails (unreachable,
stalled, or 5xx and the like after a few retries on it) is set aside for a while: its runs
move to the other servers at their next request (the model call that failed starts over
there), new runs avoid it, and once the while is over it takes new runs again. When every
server is set aside, the call waits and tries the one back soonest, within the retry policy.

A run is known by its `ModelRequest.memo`; the loop calls `end_run` when the run ends, which
frees its place on its server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agentkit.backends._http import RETRYABLE_STATUS
from agentkit.backends.base import Backend, ModelEvent, ModelRequest, Retrying
from agentkit.backends.retry import Attempts, RetryPolicy
from agentkit.defaults import DEFAULT_REPLICA_ATTEMPTS, DEFAULT_SET_ASIDE
from agentkit.errors import ConfigError, ModelError

__all__ = ["Replica", "ReplicaBackend", "replica_retry"]

_MEMO_KEY = "replicas.server"


def replica_retry(policy: RetryPolicy | None) -> RetryPolicy:
    """The retries of one server among several: a few, then the call moves on (the overall
    policy bounds the whole call, over every server)."""
    policy = policy or RetryPolicy()
    return RetryPolicy(
        attempts=min(policy.attempts, DEFAULT_REPLICA_ATTEMPTS),
        total_time=policy.total_time,
        base=policy.base,
        cap=policy.cap,
    )


@dataclass
class Replica:
    """One server and how it is doing.

    Attributes:
        backend: The backend that talks to it.
        url: Its API root.
        runs: Runs whose requests go to it now.
        aside_until: `time.monotonic()` until which it is set aside (0: in the rotation).
        failures: Times it was set aside.
        error: Why it was last set aside.
    """

    backend: Backend
    url: str
    runs: int = 0
    aside_until: float = 0.0
    failures: int = 0
    error: str | None = None

    def available(self, now: float) -> bool:
        return self.aside_until <= now

    @property
    def answered(self) -> bool:
        """Whether the server ever answered (a backend that cannot tell counts as yes)."""
        return bool(getattr(getattr(self.backend, "server", None), "answered", True))


def is_server_fault(error: ModelError) -> bool:
    """Whether an error says the server failed (another server may do), not the request."""
    return error.status is None or error.status in RETRYABLE_STATUS


class ReplicaBackend:
    """Backends for several servers of one model, as one backend.

    Args:
        backends: One backend per server, each with a few retries of its own
            (`replica_retry`); `make_backend` builds them from several base URLs.
        retry: The policy of a whole model call, over every server: when every server is
            set aside, how long and how often to wait and try again.
        set_aside: Seconds a failed server stays out of the rotation.
        clock: The time source (tests pass their own).
    """

    def __init__(
        self,
        backends: Sequence[Backend],
        *,
        retry: RetryPolicy | None = None,
        set_aside: float = DEFAULT_SET_ASIDE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not backends:
            raise ConfigError("a ReplicaBackend needs at least one backend (one per server)")
        if set_aside < 0:
            raise ValueError(f"set_aside must be seconds, 0 or more, got {set_aside!r}")
        self.replicas = [Replica(b, _url(b, i)) for i, b in enumerate(backends)]
        urls = [r.url for r in self.replicas]
        twice = sorted({u for u in urls if urls.count(u) > 1})
        if twice:
            raise ConfigError(f"the server {twice[0]} is named twice among the base URLs; name each once")
        self.name = getattr(backends[0], "name", type(backends[0]).__name__)
        self.retry = retry or RetryPolicy()
        self.set_aside = set_aside
        self.clock = clock

    @property
    def base_urls(self) -> list[str]:
        """The servers' API roots, in the order given."""
        return [r.url for r in self.replicas]

    # -- routing

    def _least_busy(self) -> Replica:
        """The server a new run goes to: the fewest runs in flight among those in the
        rotation; when all are set aside, the one back soonest."""
        now = self.clock()
        ready = [r for r in self.replicas if r.available(now)]
        if ready:
            return min(ready, key=lambda r: r.runs)
        return min(self.replicas, key=lambda r: r.aside_until)

    def replica_for(self, request: ModelRequest) -> Replica:
        """The server of the request's run: where its earlier requests went, unless that one
        is set aside (then the run moves: a new server is chosen and kept)."""
        memo = request.memo
        if memo is None:
            return self._least_busy()
        index: int | None = memo.get(_MEMO_KEY)
        if index is not None:
            current = self.replicas[index]
            if current.available(self.clock()):
                return current
            current.runs -= 1
        chosen = self._least_busy()
        chosen.runs += 1
        memo[_MEMO_KEY] = self.replicas.index(chosen)
        return chosen

    def end_run(self, memo: dict[str, Any]) -> None:
        """A run ended: its place on its server is free."""
        index = memo.pop(_MEMO_KEY, None)
        if index is not None:
            self.replicas[index].runs -= 1

    def _put_aside(self, replica: Replica, error: ModelError) -> None:
        replica.aside_until = self.clock() + self.set_aside
        replica.failures += 1
        replica.error = str(error)

    # -- the backend

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        attempts = Attempts(self.retry)
        moves = 0
        while True:
            replica = self.replica_for(request)
            passing = request.memo is None  # a request of no run: in flight while it lasts
            if passing:
                replica.runs += 1
            started = False
            try:
                async for item in replica.backend.stream(request):
                    started = started or not isinstance(item, Retrying)
                    yield item
                return
            except ModelError as exc:
                if not is_server_fault(exc):
                    raise
                self._put_aside(replica, exc)
                error = exc
            finally:
                if passing:
                    replica.runs -= 1
            now = self.clock()
            if not any(r.answered for r in self.replicas):
                raise _none_answer(self.replicas, error)
            if any(r.available(now) for r in self.replicas) and moves < self.retry.attempts:
                moves += 1
                wait = 0.0
                what = "the call moves to another server"
            else:
                again = type(error)(str(error), url=error.url, status=error.status, retryable=True)
                wait = attempts.wait_after(again)  # raises once the policy is spent
                what = f"every server is set aside; trying again in {wait:.1f} s"
            reason = f"{error}; {replica.url} is set aside for {self.set_aside:g} s, {what}"
            yield Retrying(attempts.number + moves, wait, reason, restart=started)
            if wait:
                await asyncio.sleep(wait)

    async def prompt_size(self, request: ModelRequest) -> int:
        """The prompt's length in characters, as the run's server's backend counts it."""
        measure = getattr(self.replica_for(request).backend, "prompt_size", None)
        if measure is None:
            raise ConfigError(f"the backend {self.name!r} cannot tell its prompt's size")
        return int(await measure(request))

    async def count_tokens(self, request: ModelRequest) -> int | None:
        """The prompt's exact token count from the run's server, where it can tell."""
        count = getattr(self.replica_for(request).backend, "count_tokens", None)
        if count is None:
            return None
        try:
            return await count(request)  # type: ignore[no-any-return]
        except ModelError:
            return None  # the stream will find the server down and move the run

    async def check(self) -> None:
        """Fail at once if none of the servers has ever answered (one request each)."""
        checks = [c for c in (getattr(r.backend, "check", None) for r in self.replicas) if c is not None]
        if not checks:
            return
        outcomes = await asyncio.gather(*(check() for check in checks), return_exceptions=True)
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        if len(failed) == len(checks):
            raise failed[0]

    async def context_window(self) -> int | None:
        """The window the servers report (the first that answers; they serve one model)."""
        now = self.clock()
        for replica in sorted(self.replicas, key=lambda r: not r.available(now)):
            ask = getattr(replica.backend, "context_window", None)
            if ask is None:
                continue
            try:
                return await ask()  # type: ignore[no-any-return]
            except ModelError:
                continue
        return None

    async def aclose(self) -> None:
        await asyncio.gather(*(r.backend.aclose() for r in self.replicas))


def _url(backend: Backend, index: int) -> str:
    server = getattr(backend, "server", None)
    return str(getattr(server, "base_url", None) or f"server {index + 1}")


def _none_answer(replicas: Sequence[Replica], last: ModelError) -> ModelError:
    """No server ever answered: nothing will be gained by waiting."""
    lines = "\n".join(f"  {r.url}: {r.error}" for r in replicas)
    final = type(last)(f"none of the {len(replicas)} model servers answers:\n{lines}", url=last.url)
    final.__cause__ = last
    return final
