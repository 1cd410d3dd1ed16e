"""bench/peers/: its agentkit and floor adapters do the 10-step loop against the stub server,
and its runner counts their steps (the peers themselves are not installed here)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.peers import adapters
from bench.peers.compare import stub_server

ROOT = Path(__file__).parents[2]
RUNNER = ROOT / "bench" / "peers" / "runner.py"
OWN = ["agentkit completions", "agentkit chat", "floor: openai SDK", "floor: bare aiohttp"]


@pytest.fixture(scope="module")
def stub() -> Iterator[str]:
    with stub_server(token_delay=0.0, latency=0.01, slots=64) as (base_url, _):
        yield base_url


@pytest.mark.parametrize("name", OWN)
async def test_an_adapter_does_nine_tool_calls_and_an_answer(stub: str, name: str) -> None:
    run = await adapters.FRAMEWORKS[name].make(stub, True, 1)
    before = next(adapters.TOOL_CALLS)
    assert await run() == adapters.STEPS
    assert next(adapters.TOOL_CALLS) - before - 1 == adapters.STEPS - 1


@pytest.mark.parametrize("name", ["floor: openai SDK", "floor: bare aiohttp"])
async def test_a_floor_does_the_loop_with_whole_answers_too(stub: str, name: str) -> None:
    run = await adapters.FRAMEWORKS[name].make(stub, False, 1)
    before = next(adapters.TOOL_CALLS)
    assert await run() == adapters.STEPS
    assert next(adapters.TOOL_CALLS) - before - 1 == adapters.STEPS - 1


async def test_agentkit_says_it_has_no_whole_answer_mode(stub: str) -> None:
    with pytest.raises(adapters.Unsupported, match="always streams"):
        await adapters.FRAMEWORKS["agentkit chat"].make(stub, False, 1)


def runner(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, str(RUNNER), *args], capture_output=True, text=True, timeout=120, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_the_runner_reports_cpu_and_wall_per_call_of_each_run(stub: str) -> None:
    result = runner("agentkit chat", "--base-url", stub, "steps", "--runs", "3", "--warmup", "1")
    cpu, wall = result["cpu_ms"], result["wall_ms"]
    assert isinstance(cpu, list) and isinstance(wall, list)
    assert len(cpu) == len(wall) == 3
    # each call waits 10 ms for the stub: wall time per call is at least that, and CPU below it
    assert all(w >= 10 for w in wall)
    assert all(0 < c < w for c, w in zip(cpu, wall, strict=True))


def test_the_runner_under_load_counts_calls_against_the_servers_pace(stub: str) -> None:
    result = runner(
        "floor: bare aiohttp",
        "--base-url",
        stub,
        "load",
        "--concurrency",
        "4",
        "--warmup",
        "0.5",
        "--window",
        "2",
    )
    # 4 runs at once, 10 ms a call: at most 400 calls a second, and a bare client gets near it
    rate = result["calls_per_s"]
    assert isinstance(rate, float) and 200 < rate <= 400 * 1.05
    assert isinstance(result["runs"], int) and result["runs"] >= 10
    assert isinstance(result["run_p50_s"], float) and result["run_p50_s"] >= 0.1  # ten calls of 10 ms
    assert isinstance(result["peak_rss_mb"], float) and result["peak_rss_mb"] > 10
