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
from agentkit.events import (
    McpElicitation,
    McpLog,
    McpSampling,
    OutputRejected,
    RunFailed,
    RunStarted,
    ServerStatus,
    StepFinished,
    StepStarted,
    ToolApproval,
    ToolCallFinished,
    ToolCallStarted,
    TurnFinished,
)
from agentkit.messages import AssistantMessage, ToolCall, ToolMessage, Usage, UserMessage
from agentkit.store import TranscriptWriter
from agentkit.thinking import ThinkingDecision
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


def every_kind_of_record(runs: Path) -> str:
    """A transcript, written by the transcript writer from the events a run emits, holding
    the records the other runs lack: MCP servers' status, logs, sampling and elicitation, a
    shortened result, a rejected answer, an interruption, a resume, a chat's next turn, a
    failure; and a kind from a newer agentkit and a malformed record."""
    call = ToolCall("lookup", {"q": "weather"}, "call_1")
    wipe = ToolCall("wipe", {"path": "/"}, "call_2")
    message = AssistantMessage("Looking it up.", "Which tool?", [call, wipe], "raw text")
    usage = Usage(120, 30, 100, 1)
    writer = TranscriptWriter(runs, "kinds0000001")
    writer.begin(
        "kinds0000001", "What is the weather?", [UserMessage("What is the weather?")], {"backend": "chat"}
    )
    writer.write(RunStarted("kinds0000001", "What is the weather?", "chat", "qwen", sandbox="bubblewrap"))
    writer.write(ServerStatus("weather", "uvx weather-mcp", True, ("lookup",), 0.4))
    writer.write(ServerStatus("broken", "npx broken", False, error="exited with 1: <b>no</b>"))
    writer.write(StepStarted(1, ThinkingDecision(True, 256, "auto: first step")))
    writer.write(McpLog("weather", "warning", "http", {"note": "slow upstream"}))
    writer.write(McpSampling("weather", "summarise a page", True, False, 200, usage, "It is sunny.", "stop"))
    writer.write(McpElicitation("weather", "form", "Which city?", "accept", ("city",), {"city": "Oslo"}))
    writer.write(ToolCallStarted(1, call))
    writer.write(ToolApproval(1, "call_1", "lookup", "ask", True, "approver", None, 2.5))
    writer.write(ToolCallStarted(1, wipe))
    refusal = "wipe is not allowed in this session. Go on without it."
    writer.write(ToolApproval(1, "call_2", "wipe", "deny", False, "policy", refusal, 0.0))
    writer.write(TurnFinished(1, message, (call, wipe), usage, "stop"))
    writer.write(
        ToolCallFinished(1, wipe, ToolMessage("Error: " + refusal, "call_2", "wipe", is_error=True), 0.0)
    )
    writer.write(
        ToolCallFinished(1, call, ToolMessage("sunny…", "call_1", "lookup", full_content="sunny " * 300), 0.2)
    )
    writer.write(StepFinished(1, message, usage, "stop", 1.5))
    writer.write(OutputRejected(1, "not a number", "Answer with a number."))
    writer.interrupted("SIGTERM")
    writer.resumed()
    writer.user_turn(UserMessage("And tomorrow?"))
    writer.thinking_set("off")
    writer.write(RunFailed("the model server failed: 503 after 20 attempts", "ModelError"))
    writer.close()
    with writer.path.open("a") as file:
        file.write(json.dumps({"time": 1.0, "type": "future_kind", "detail": "<i>new</i>"}) + "\n")
        file.write(json.dumps({"time": 1.0, "type": "step_started", "step": None, "decision": 5}) + "\n")
        file.write(json.dumps({"time": 1.0, "type": "turn_finished", "message": "?", "calls": 7}) + "\n")
    return "kinds0000001"


async def test_every_kind_of_record_is_shown_and_none_breaks_the_page() -> None:
    assert CHROMIUM is not None
    runs = Path(os.environ["AGENTKIT_RUNS_DIR"])
    run_id = every_kind_of_record(runs)
    with RunViewer(runs) as viewer:
        viewer.start()
        async with Chromium(CHROMIUM) as browser:
            await browser.open(viewer.url(run_id))
            await browser.wait_for("document.querySelector('.final.bad') !== null")
            page = await browser.evaluate("document.getElementById('timeline').innerText")
            for shown in (
                "sandbox: bubblewrap",
                "MCP server weather ready",
                "tools: lookup",
                "MCP server broken failed to start",
                "slow upstream",
                "MCP server weather asked the model: summarise a page",
                "approved",
                "MCP server weather asked: Which city?",
                "accepted",
                "thinking · budget 256",
                "CUT FOR THE MODEL",
                "approval (ask): allowed by the approver after 2.50 s",
                "approval (deny): refused by policy",
                "answer rejected: not a number",
                "Interrupted (SIGTERM)",
                "resumed by process",
                "And tomorrow?",
                "thinking set to off",
                "Failed (ModelError)",
                "the model server failed: 503 after 20 attempts",
                "future_kind",
            ):
                assert shown in page, shown
            assert await browser.evaluate("document.querySelectorAll('main b, main i').length") == 0
            generic = await browser.evaluate("document.querySelectorAll('.event.generic').length")
            assert generic >= 2  # the unknown kind, and the malformed record(s)
            assert "agentkit runs resume kinds0000001" in await browser.evaluate("document.body.innerText")
            await browser.screenshot(ARTIFACTS / "viewer-kinds.png")
            assert browser.errors == []
