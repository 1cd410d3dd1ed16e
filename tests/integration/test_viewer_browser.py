"""`agentkit runs view` in a real browser: headless Chromium opens the viewer over real
transcripts (a run against a model server that fails once and whose context fills up, a
scripted run, a batch, a run in progress), and the page loads without an error, shows the
steps, folds and unfolds, escapes what the transcripts hold, and follows a live run.

Screenshots go to `.test-artifacts/` under the repository root: `viewer-runs.png` (the runs
list), `viewer-run.png` (a run's timeline), `viewer-live.png` (a run in progress)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agentkit import Agent, tool
from agentkit.viewer import RunViewer
from tests.fault_server import FaultServer, Status
from tests.viewer.runs import LIVE_TASK, TASK, THINKING, LiveRun, answered_run, batch_runs, stopped_run

from .chromium import Chromium, find_chromium

ARTIFACTS = Path(__file__).parents[2] / ".test-artifacts"
CHROMIUM = find_chromium()

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium found (Debian: apt-get install chromium, as .ci/run does; or AGENTKIT_TEST_CHROMIUM)",
)

PARTS = 4


@tool
def read_part(n: int) -> str:
    """Read part n of the report."""
    return f"Part {n} of the report.\n" + "\n".join(f"{n}.{i} lorem ipsum dolor sit amet" for i in range(180))


async def served_run(runs: Path) -> str:
    """A run against a vLLM-like server: its first request fails (a retry), each call reads
    a long part (results folded), and the window is small enough that history is compacted."""
    plan = [Status(503)]
    async with FaultServer(calls=PARTS, tool="read_part", max_model_len=8192, plan=plan) as server:
        agent = Agent(server.model, server.base_url, tools=[read_part], transcripts=runs)
        result = await agent.run(f"Read the {PARTS} parts of the report and sum them up.")
    assert result.ok
    return result.run_id


def js(value: object) -> str:
    return json.dumps(value)


async def test_the_viewer_shows_runs_and_timelines_and_follows_a_live_run(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    runs = Path(os.environ["AGENTKIT_RUNS_DIR"])
    rich = await served_run(runs)
    answered = (await answered_run(runs)).run_id
    await stopped_run(runs)
    await batch_runs(runs, tmp_path / "results.jsonl")
    records = [json.loads(line) for line in next(runs.glob(f"*-{rich}.jsonl")).read_text().splitlines()]
    kinds = {r["type"] for r in records}
    assert {"model_retry", "compacted"} <= kinds  # what the timeline is to show
    steps = sum(r["type"] == "step_finished" for r in records)

    with RunViewer(runs, poll=0.1) as viewer:
        viewer.start()
        async with Chromium(CHROMIUM) as browser:
            # The runs list: every run, the batch, filter and search.
            await browser.open(viewer.url())
            await browser.wait_for("document.querySelectorAll('#runs tbody tr.link').length === 6")
            assert await browser.evaluate("document.querySelectorAll('#batches tbody tr').length") == 1
            assert "token=" not in await browser.evaluate("location.href")  # kept out of the address bar
            await browser.screenshot(ARTIFACTS / "viewer-runs.png")
            await browser.evaluate(
                "(() => { const s = document.getElementById('status-filter'); s.value = 'max_steps';"
                " s.dispatchEvent(new Event('change')); })()"
            )
            assert await browser.evaluate("document.querySelectorAll('#runs tbody tr.link').length") == 1
            await browser.evaluate(
                "(() => { const s = document.getElementById('status-filter'); s.value = '';"
                " s.dispatchEvent(new Event('change')); const q = document.getElementById('search');"
                f" q.value = {js(answered[:8])}; q.dispatchEvent(new Event('input')); }})()"
            )
            assert await browser.evaluate("document.querySelectorAll('#runs tbody tr.link').length") == 1

            # The batch's table.
            await browser.click("#batches tbody tr a")
            await browser.wait_for("document.querySelectorAll('#batch-runs tbody tr').length === 3")

            # A run's timeline: its steps, retries and compactions, folded thinking and results.
            await browser.open(viewer.url(rich))
            await browser.wait_for(f"document.querySelectorAll('.step').length === {steps}")
            heads = await browser.evaluate(
                "[...document.querySelectorAll('.step-no')].map(e => e.textContent)"
            )
            assert heads == [f"Step {n}" for n in range(1, steps + 1)]
            assert await browser.evaluate("document.querySelectorAll('.event.retry').length") >= 1
            assert await browser.evaluate("document.querySelectorAll('.event.compact').length") >= 1
            assert await browser.evaluate("document.querySelectorAll('.call').length") == PARTS
            timing = await browser.evaluate("document.querySelector('.step .timing').textContent")
            assert " tokens" in timing and ("ms" in timing or " s" in timing)
            assert await browser.evaluate("document.querySelector('.final.ok pre').textContent") == (
                "All steps are done; the final result is 42."
            )
            folded = "document.querySelector('.call .result details')"
            assert await browser.evaluate(f"{folded}.open") is False
            assert await browser.evaluate(f"{folded}.querySelector('pre').checkVisibility()") is False
            await browser.click(".call .result details summary")
            await browser.wait_for(f"{folded}.open && {folded}.querySelector('pre').checkVisibility()")
            assert "1.179 lorem ipsum" in await browser.evaluate(f"{folded}.querySelector('pre').textContent")
            await browser.screenshot(ARTIFACTS / "viewer-run.png")

            # Transcript text is shown as text: the task's <img> and the answer's <script> are not markup.
            await browser.open(viewer.url(answered))
            await browser.wait_for("document.querySelectorAll('.step').length === 3")
            assert await browser.evaluate("document.querySelector('.task-text').textContent") == TASK
            assert await browser.evaluate("document.querySelectorAll('main img, main script').length") == 0
            thinking = "document.querySelector('details.thinking')"
            assert await browser.evaluate(f"{thinking}.open") is False
            await browser.click("details.thinking summary")
            await browser.wait_for(f"{thinking}.open")
            assert await browser.evaluate(f"{thinking}.querySelector('pre').textContent") == THINKING
            assert await browser.evaluate("document.querySelectorAll('.call.invalid').length") == 1

            # A run in progress: its pending call, then the rest as it comes, without a reload.
            live = LiveRun(runs, tmp_path)
            try:
                info = live.waiting()
                await browser.open(viewer.url(info.run_id))
                await browser.wait_for("document.querySelector('.result.pending') !== null")
                assert await browser.evaluate("document.querySelector('.live-dot').hidden") is False
                assert await browser.evaluate("document.querySelector('.task-text').textContent") == LIVE_TASK
                await browser.screenshot(ARTIFACTS / "viewer-live.png")
                live.finish()
                await browser.wait_for("document.querySelector('.final.ok') !== null", seconds=20)
                await browser.wait_for("document.querySelector('.live-dot').hidden")
            finally:
                live.close()
            assert await browser.evaluate("document.querySelectorAll('.step').length") == 2
            assert await browser.evaluate("document.querySelector('.status').textContent") == "answer"
            assert await browser.evaluate("document.querySelector('.result.pending')") is None
            assert browser.errors == []
