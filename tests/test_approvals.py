"""Approval decisions are events: each "ask" or "deny" decision comes between its call's start
and end, is kept in the transcript, read back by resume, printed by `runs show` and served to
the viewer."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from agentkit import Agent, Limits, ScriptedBackend, tool
from agentkit.cli import app
from agentkit.events import Event, RunFinished, ToolApproval, ToolCallFinished, ToolCallStarted
from agentkit.messages import ToolCall
from agentkit.store import find_run, read_transcript
from agentkit.viewer.api import run_detail


def call(name: str, arguments: str) -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {arguments}}}\n</tool_call>'


SCRIPT = [
    call("wipe", '{"target": "tmp"}')
    + "\n"
    + call("wipe", '{"target": "home"}')
    + "\n"
    + call("launch", "{}"),
    "Wiped tmp only.",
]


class Wipes:
    """An "ask" tool, a "deny" tool, and an approver that allows only tmp (after a wait)."""

    def __init__(self) -> None:
        self.wiped: list[str] = []
        self.asked: list[str] = []

        @tool(approval="ask")
        def wipe(target: str) -> str:
            """Delete something."""
            self.wiped.append(target)
            return f"wiped {target}"

        @tool(approval="deny")
        def launch() -> str:
            """Never allowed."""
            return "launched"

        self.tools = [wipe, launch]

    async def approver(self, call: ToolCall, item: object) -> bool:
        self.asked.append(call.arguments["target"])
        await asyncio.sleep(0.05)
        return bool(call.arguments["target"] == "tmp")

    def agent(self, runs: Path, *, max_steps: int = 10, script: list[str] = SCRIPT) -> Agent:
        return Agent(
            backend=ScriptedBackend(script),
            tools=self.tools,
            approve=self.approver,
            transcripts=runs,
            limits=Limits(max_steps=max_steps),
        )


def _of(events: list[Event], call_id: str) -> list[str]:
    """The kinds of the events about one call, in order."""
    return [e.type for e in events if _call_id(e) == call_id]


def _call_id(event: Event) -> str | None:
    if isinstance(event, (ToolCallStarted, ToolCallFinished)):
        return event.call.id
    return event.call_id if isinstance(event, ToolApproval) else None


async def test_each_decision_comes_between_its_calls_start_and_end_and_is_kept(tmp_path: Path) -> None:
    wipes = Wipes()
    events = [e async for e in wipes.agent(tmp_path).stream("Wipe tmp and home, then launch.")]
    assert isinstance(events[-1], RunFinished) and events[-1].result.output == "Wiped tmp only."
    assert wipes.wiped == ["tmp"] and sorted(wipes.asked) == ["home", "tmp"]
    approvals = [e for e in events if isinstance(e, ToolApproval)]
    by_tool = sorted((a.tool, a.policy, a.allowed, a.decided_by) for a in approvals)
    assert by_tool == [
        ("launch", "deny", False, "policy"),
        ("wipe", "ask", False, "approver"),
        ("wipe", "ask", True, "approver"),
    ]
    for a in approvals:
        assert a.step == 1
        assert _of(events, a.call_id) == ["tool_call_started", "tool_approval", "tool_call_finished"]
    allowed = next(a for a in approvals if a.allowed)
    assert allowed.reason is None and allowed.waited >= 0.04

    records = read_transcript(find_run(events[-1].result.run_id, tmp_path))
    kept = [r for r in records if r["type"] == "tool_approval"]
    assert sorted((r["tool"], r["allowed"], r["decided_by"]) for r in kept) == [
        ("launch", False, "policy"),
        ("wipe", False, "approver"),
        ("wipe", True, "approver"),
    ]
    refused = next(r for r in kept if r["tool"] == "launch")
    assert refused["policy"] == "deny" and "is not allowed in this session" in refused["reason"]


async def test_a_run_with_approvals_resumes_without_asking_again(tmp_path: Path) -> None:
    wipes = Wipes()
    first = await wipes.agent(tmp_path, max_steps=1).run("Wipe tmp and home, then launch.")
    assert first.stop_reason == "max_steps" and wipes.wiped == ["tmp"]
    again = Wipes()
    resumed = await again.agent(tmp_path, script=SCRIPT[1:]).resume(first.run_id)
    assert resumed.ok and resumed.output == "Wiped tmp only."
    assert again.asked == [] and again.wiped == []  # decided calls are not asked or run again
    assert [s.step for s in resumed.steps] == [1, 2]
    refusals = [m.content for m in resumed.messages if m.role == "tool" and "did not allow" in m.content]
    assert len(refusals) == 1  # the refusal read back from the transcript is what the model saw


async def test_runs_show_and_the_viewer_show_each_approval_under_its_call(tmp_path: Path) -> None:
    result = await Wipes().agent(tmp_path).run("Wipe tmp and home, then launch.")
    shown = CliRunner().invoke(app, ["runs", "show", result.run_id, "--runs-dir", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    for target, verdict in (('{"target": "tmp"}', "allowed"), ('{"target": "home"}', "refused")):
        at = lines.index(f"→ wipe {target}")
        assert lines[at + 1].startswith(f"⚖ approval (ask): {verdict} by the approver after 0.")
    at = lines.index("→ launch {}")
    assert lines[at + 1] == "⚖ approval (deny): refused by policy"
    assert lines[at + 2].startswith("✗ launch")

    served = run_detail(result.run_id, tmp_path)  # what /api/runs/ID answers
    kinds = [r["type"] for r in served["records"]]
    assert kinds.count("tool_approval") == 3
    assert kinds.index("tool_approval") < kinds.index("tool_call_finished")
