"""Several servers as one backend (`agentkit/backends/replicas.py`): runs stay on their
server, new runs go to the least busy, a failing server is set aside and tried again later,
and a run whose server dies moves on; against fault servers on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentkit import Agent, tool
from agentkit.backends import make_backend
from agentkit.backends.base import ModelRequest
from agentkit.backends.replicas import ReplicaBackend
from agentkit.backends.retry import RetryPolicy
from agentkit.errors import ConfigError, ModelUnreachable
from agentkit.events import ModelRetry, RunFinished
from agentkit.messages import UserMessage

from ..fault_server import ANSWER, FaultServer, Status

QUICK = RetryPolicy(attempts=5, total_time=10, base=0.01, cap=0.05)


@tool
def step(n: int) -> str:
    """Do step n."""
    return f"step {n} done"


def task_of(body: dict[str, Any]) -> str:
    """The run's task in a request body (both APIs): its text names the run."""
    text = body.get("prompt") or json.dumps(body.get("messages"))
    return next(word for word in text.replace('"', " ").split() if word.startswith("run-"))


def runs_on(server: FaultServer) -> dict[str, int]:
    """Requests per run that reached the server."""
    out: dict[str, int] = {}
    for record in server.requests:
        if record.path.endswith("completions") and isinstance(record.body, dict):
            name = task_of(record.body)
            out[name] = out.get(name, 0) + 1
    return out


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Quiet:
    """A backend that is never called: for routing decisions alone."""

    name = "quiet"

    def __init__(self, url: str) -> None:
        self.server = type("S", (), {"base_url": url, "answered": True})()

    async def stream(self, request: ModelRequest) -> AsyncIterator[Any]:
        raise AssertionError("not called")
        yield

    async def aclose(self) -> None:
        pass


def request_of(memo: dict[str, Any]) -> ModelRequest:
    return ModelRequest([UserMessage("hi")], memo=memo)


def test_new_runs_go_to_the_server_with_the_fewest_runs_in_flight() -> None:
    routes = ReplicaBackend([_Quiet("http://a/v1"), _Quiet("http://b/v1"), _Quiet("http://c/v1")])
    memos: list[dict[str, Any]] = [{} for _ in range(4)]
    chosen = [routes.replica_for(request_of(m)).url for m in memos]
    assert chosen == ["http://a/v1", "http://b/v1", "http://c/v1", "http://a/v1"]
    routes.end_run(memos[1])  # b's only run ended: b is the least busy now
    assert routes.replica_for(request_of({})).url == "http://b/v1"
    assert [r.runs for r in routes.replicas] == [2, 1, 1]


def test_a_run_keeps_its_server_and_moves_only_when_it_is_set_aside() -> None:
    clock = Clock()
    routes = ReplicaBackend([_Quiet("http://a/v1"), _Quiet("http://b/v1")], set_aside=30, clock=clock)
    memo: dict[str, Any] = {}
    first = routes.replica_for(request_of(memo))
    for _ in range(3):
        routes.replica_for(request_of({}))  # other runs come and go
    assert routes.replica_for(request_of(memo)) is first
    routes._put_aside(first, ModelUnreachable("down", url=first.url))
    moved = routes.replica_for(request_of(memo))
    assert moved is not first and first.runs == 1  # the three others that stay there
    clock.now += 31  # back in the rotation: the run stays where it moved
    assert routes.replica_for(request_of(memo)) is moved


def test_the_same_server_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="named twice"):
        make_backend("completions", base_url=["http://127.0.0.1:9/v1", "http://127.0.0.1:9"])


@pytest.mark.parametrize("backend", ["completions", "chat"])
async def test_every_step_of_a_run_goes_to_one_server_and_runs_spread_evenly(backend: str) -> None:
    async with FaultServer(calls=3, latency=0.02) as a, FaultServer(calls=3, latency=0.02) as b:
        agent = Agent(a.model, [a.base_url, b.base_url], backend=backend, tools=[step], transcripts=False)
        async with agent:
            results = await asyncio.gather(*(agent.run(f"Do run-{i} now.") for i in range(8)))
        on_a, on_b = runs_on(a), runs_on(b)
    assert all(r.output == ANSWER for r in results)
    assert not set(on_a) & set(on_b)  # no run touched both servers
    assert sorted(on_a.values()) == sorted(on_b.values()) == [4, 4, 4, 4]  # 4 steps each, 4 runs each
    assert isinstance(agent.backend, ReplicaBackend)
    assert [r.runs for r in agent.backend.replicas] == [0, 0]  # every run's place was freed


async def test_a_server_that_is_down_is_set_aside_and_tried_again_later() -> None:
    clock = Clock()
    async with FaultServer(calls=1) as up, FaultServer(calls=1) as later:
        await later.stop()  # its port refuses connections: never answered
        backend = make_backend(
            "completions", base_url=[later.base_url, up.base_url], model=up.model, retry=QUICK
        )
        assert isinstance(backend, ReplicaBackend)
        backend.clock = clock
        agent = Agent(up.model, backend=backend, tools=[step], transcripts=False)
        first = [e async for e in agent.stream("Do run-0 now.")]
        assert isinstance(first[-1], RunFinished) and first[-1].result.output == ANSWER
        (moved,) = [e for e in first if isinstance(e, ModelRetry)]
        assert "set aside for 30 s" in moved.reason and "moves to another server" in moved.reason
        assert "run-0" in runs_on(up)
        await later.start()  # back, but still set aside: new runs avoid it
        await agent.run("Do run-1 now.")
        assert "run-1" in runs_on(up) and not later.requests
        clock.now += 31  # tried again once the while is over
        second = [e async for e in agent.stream("Do run-2 now.")]
        assert isinstance(second[-1], RunFinished) and second[-1].result.output == ANSWER
        assert runs_on(later) == {"run-2": 2} and not [e for e in second if isinstance(e, ModelRetry)]


async def test_a_run_whose_server_dies_moves_to_another_and_answers() -> None:
    servers: list[FaultServer] = []

    @tool
    async def step(n: int) -> str:
        """Do step n."""
        if n == 2:  # the run's server goes away between its steps
            (home,) = [s for s in servers if s.requests]
            await home.stop()
        return f"step {n} done"

    async with FaultServer(calls=3) as a, FaultServer(calls=3) as b:
        servers += [a, b]
        agent = Agent(a.model, [a.base_url, b.base_url], tools=[step], transcripts=False, retry=QUICK)
        events = [e async for e in agent.stream("Do run-0 now.")]
        assert isinstance(events[-1], RunFinished)
        result = events[-1].result
        assert result.output == ANSWER and len(result.steps) == 4
        assert runs_on(a)["run-0"] + runs_on(b)["run-0"] >= 4  # both served it: 2 steps, then the rest
        (retry,) = [e for e in events if isinstance(e, ModelRetry) and "set aside" in e.reason]
        assert "stopped answering" in retry.reason


async def test_5xx_after_the_servers_own_retries_sets_it_aside() -> None:
    fail = [Status(503)] * 3  # the three attempts a server gets among several
    async with FaultServer(calls=0, plan=fail) as sick, FaultServer(calls=0) as well:
        agent = Agent(sick.model, [sick.base_url, well.base_url], transcripts=False, retry=QUICK)
        result = await agent.run("Do run-0 now.")
        assert result.output == ANSWER
        assert len(sick.bodies("/completions")) == 3 and len(well.bodies("/completions")) == 1
        assert isinstance(agent.backend, ReplicaBackend)
        assert agent.backend.replicas[0].failures == 1 and "503" in (agent.backend.replicas[0].error or "")


async def test_no_server_answering_fails_at_once_naming_each() -> None:
    async with FaultServer() as a, FaultServer() as b:
        await a.stop()
        await b.stop()
        agent = Agent(a.model, [a.base_url, b.base_url], transcripts=False, retry=QUICK)
        with pytest.raises(ModelUnreachable, match="none of the 2 model servers answers") as caught:
            await agent.run("Do run-0 now.")
    assert a.base_url in str(caught.value) and b.base_url in str(caught.value)


async def test_a_request_error_is_not_the_servers_fault_and_moves_nothing() -> None:
    async with FaultServer(model="other") as a, FaultServer(model="other") as b:
        agent = Agent("missing", [a.base_url, b.base_url], transcripts=False, retry=QUICK)
        with pytest.raises(Exception, match="404"):
            await agent.run("Do run-0 now.")
        assert isinstance(agent.backend, ReplicaBackend)
        assert [r.failures for r in agent.backend.replicas] == [0, 0]
