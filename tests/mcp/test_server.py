"""`AgentServer` in process, with a scripted model and the SDK's client: what a call returns
for an answer, a structured answer, a run that stops without one and a bad task."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import mcp_types
import pytest
from mcp import Client

from agentkit import Agent, Limits, ScriptedBackend, tool
from agentkit.backends.scripted import Paced, ScriptedTurn
from agentkit.mcp.server import AgentServer, ClientApprover
from agentkit.store import read_transcript
from agentkit.tools.tool import ToolContext


def agent(turns: Mapping[str, Sequence[ScriptedTurn]], tmp_path: Path, **options: Any) -> Agent:
    return Agent(backend=ScriptedBackend(turns), transcripts=tmp_path, mcp=False, **options)


def call(name: str, **arguments: Any) -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {json.dumps(arguments)}}}\n</tool_call>'


def text_of(result: mcp_types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, mcp_types.TextContent))


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def test_the_answer_comes_back_with_the_runs_transcript(tmp_path: Path) -> None:
    served = AgentServer(agent({"Add 2 and 3.": [call("add", a=2, b=3), "5"]}, tmp_path, tools=[add]))
    async with Client(served.server) as client:
        tools = (await client.list_tools()).tools
        result = await client.call_tool("run_agent", {"task": "Add 2 and 3."})
    assert "add" in (tools[0].description or "")
    assert tools[0].output_schema is None  # no output type: text only
    assert (text_of(result), result.is_error, result.structured_content) == ("5", False, None)
    assert result.meta is not None and Path(result.meta["agentkit/transcript"]).parent == tmp_path


async def test_an_agent_with_an_output_schema_returns_structured_content(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"sum": {"type": "integer"}}, "required": ["sum"]}
    served = AgentServer(agent({"Sum?": ['{"sum": 5}']}, tmp_path, output_type=schema))
    async with Client(served.server) as client:
        tools = (await client.list_tools()).tools
        result = await client.call_tool("run_agent", {"task": "Sum?"})
    assert tools[0].output_schema == schema
    assert result.structured_content == {"sum": 5}


async def test_an_output_schema_that_is_not_an_object_is_wrapped_in_one(tmp_path: Path) -> None:
    schema = {"type": "array", "items": {"type": "integer"}}
    served = AgentServer(agent({"List?": ["[1, 2]"]}, tmp_path, output_type=schema))
    async with Client(served.server) as client:
        tools = (await client.list_tools()).tools
        result = await client.call_tool("run_agent", {"task": "List?"})
    assert tools[0].output_schema == {
        "type": "object",
        "properties": {"result": schema},
        "required": ["result"],
    }
    assert result.structured_content == {"result": [1, 2]}


async def test_a_run_that_stops_without_an_answer_is_an_error_saying_why(tmp_path: Path) -> None:
    served = AgentServer(
        agent({"Loop.": [call("add", a=1, b=1)] * 2}, tmp_path, tools=[add], limits=Limits(max_steps=2))
    )
    async with Client(served.server) as client:
        result = await client.call_tool("run_agent", {"task": "Loop."})
    assert result.is_error
    assert "after 2 step(s)" in text_of(result) and "step limit" in text_of(result)


async def test_an_empty_task_is_an_error_naming_the_problem(tmp_path: Path) -> None:
    served = AgentServer(agent({}, tmp_path))
    async with Client(served.server) as client:
        result = await client.call_tool("run_agent", {"task": "  "})
    assert result.is_error and "the task is empty" in text_of(result)


async def test_the_tool_and_server_can_be_named(tmp_path: Path) -> None:
    served = AgentServer(agent({}, tmp_path), name="qwen-agent", tool_name="ask_qwen")
    async with Client(served.server) as client:
        tools = (await client.list_tools()).tools
        assert client.server_info is not None and client.server_info.name == "qwen-agent"
        assert "ask_qwen" in (client.instructions or "")
    assert [t.name for t in tools] == ["ask_qwen"]


def test_concurrency_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="concurrency must be at least 1"):
        AgentServer(agent({}, tmp_path), concurrency=0)


async def test_calls_past_the_concurrency_wait_for_a_slot_and_say_so(tmp_path: Path) -> None:
    turns: dict[str, list[ScriptedTurn]] = {"first": [Paced("first done", 0.1)], "second": ["second done"]}
    served = AgentServer(agent(turns, tmp_path), concurrency=1)
    heard: dict[str, list[str | None]] = {"first": [], "second": []}
    answers: dict[str, str] = {}

    async def run(client: Client, task: str) -> None:
        async def progress(progress: float, total: float | None, message: str | None) -> None:
            heard[task].append(message)

        answers[task] = text_of(
            await client.call_tool("run_agent", {"task": task}, progress_callback=progress)
        )

    async with Client(served.server) as client, anyio.create_task_group() as group:
        group.start_soon(run, client, "first")
        await anyio.sleep(0.05)  # the first run holds the one slot (it streams for about a second)
        group.start_soon(run, client, "second")
    assert answers == {"first": "first done", "second": "second done"}
    assert heard["second"][0] == "waiting for a free slot (1 runs at once)"
    assert not any("waiting" in (m or "") for m in heard["first"])


@pytest.mark.parametrize(("think", "first"), [(True, "step 1: thinking"), (False, "step 1: writing")])
async def test_the_think_flag_sets_the_runs_thinking(tmp_path: Path, think: bool, first: str) -> None:
    served = AgentServer(agent({"Hi.": ["Hello."]}, tmp_path))
    heard: list[str | None] = []

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        heard.append(message)

    async with Client(served.server) as client:
        await client.call_tool("run_agent", {"task": "Hi.", "think": think}, progress_callback=progress)
    assert heard[0] == first


async def fetch(ctx: ToolContext) -> str:
    """Fetch, reporting how far it got."""
    ctx.progress(1, 2, "first half")
    await asyncio.sleep(0.05)
    ctx.progress(2, 2)  # the last report, just before the end: heard before "done"
    return "fetched"


async def test_tool_progress_and_ends_are_reported_within_their_step(tmp_path: Path) -> None:
    served = AgentServer(agent({"Get it.": [call("fetch"), "Got it."]}, tmp_path, tools=[fetch]))
    heard: list[tuple[float, str | None]] = []

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        heard.append((progress, message))

    async with Client(served.server) as client:
        await client.call_tool("run_agent", {"task": "Get it.", "think": False}, progress_callback=progress)
    messages = [m for _, m in heard]
    assert messages[:2] == ["step 1: writing", "step 1: calling fetch"]
    assert messages[2:4] == ["step 1: fetch: first half", "step 1: fetch: 2/2"]
    assert (messages[4] or "").startswith("step 1: fetch done in ")
    assert messages[5:] == ["step 2: writing", "step 2: answered"]
    values = [v for v, _ in heard]
    assert values == sorted(values) and len(set(values)) == len(values)


@tool(approval="ask")
def wipe() -> str:
    """Wipe the scratch space (asks first)."""
    return "wiped"


@pytest.mark.parametrize(("action", "outcome"), [("accept", "wiped"), ("decline", "did not allow")])
async def test_a_client_that_can_elicit_decides_on_approvals(
    tmp_path: Path, action: str, outcome: str
) -> None:
    turns = {"Wipe it.": [call("wipe"), "Done."]}
    served = AgentServer(agent(turns, tmp_path, tools=[wipe], approve=ClientApprover()))
    asked: list[str] = []

    async def elicit(context: Any, params: mcp_types.ElicitRequestParams) -> mcp_types.ElicitResult:
        asked.append(params.message)
        return mcp_types.ElicitResult(action=action, content={} if action == "accept" else None)  # type: ignore[arg-type]

    async with Client(served.server, mode="legacy", elicitation_callback=elicit) as client:
        result = await client.call_tool("run_agent", {"task": "Wipe it."})
    assert text_of(result) == "Done."
    assert len(asked) == 1 and "wipe" in asked[0]
    transcript = Path(result.meta["agentkit/transcript"]) if result.meta else None
    assert transcript is not None
    finished = [r for r in read_transcript(transcript) if r["type"] == "tool_call_finished"]
    assert outcome in finished[0]["result"]["content"]


async def test_without_elicitation_a_call_needing_approval_is_refused_and_yes_approves_it(
    tmp_path: Path,
) -> None:
    outcomes = []
    for approver in (ClientApprover(), ClientApprover(approve_all=True)):
        served = AgentServer(
            agent({"Wipe it.": [call("wipe"), "Done."]}, tmp_path, tools=[wipe], approve=approver)
        )
        async with Client(served.server) as client:
            result = await client.call_tool("run_agent", {"task": "Wipe it."})
        transcript = Path(result.meta["agentkit/transcript"]) if result.meta else None
        assert transcript is not None
        finished = [r for r in read_transcript(transcript) if r["type"] == "tool_call_finished"]
        outcomes.append(finished[0]["result"]["content"])
    assert "no one can approve it here" in outcomes[0]  # not "the user did not allow"
    assert outcomes[1] == "wiped"


async def test_with_no_model_server_a_call_is_an_error_saying_how_to_start_one(tmp_path: Path) -> None:
    served = AgentServer(Agent(base_url="http://127.0.0.1:9/v1", transcripts=tmp_path, mcp=False))
    async with Client(served.server) as client:
        result = await client.call_tool("run_agent", {"task": "Hi."})
    assert result.is_error
    assert "no model server answers at http://127.0.0.1:9/v1" in text_of(result)
    assert "agentkit serve" in text_of(result)


async def test_a_call_refused_at_once_is_told_after_the_turn_that_made_it(tmp_path: Path) -> None:
    served = AgentServer(
        agent({"Wipe it.": [call("wipe"), "Done."]}, tmp_path, tools=[wipe], approve=ClientApprover())
    )
    heard: list[tuple[float, str | None]] = []

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        heard.append((progress, message))

    async with Client(served.server) as client:
        await client.call_tool("run_agent", {"task": "Wipe it.", "think": False}, progress_callback=progress)
    messages = [m or "" for _, m in heard]
    assert messages[:2] == ["step 1: writing", "step 1: calling wipe"]
    assert messages[2].startswith("step 1: wipe failed in ")
    assert messages[3:] == ["step 2: writing", "step 2: answered"]
    values = [v for v, _ in heard]
    assert values == sorted(values) and len(set(values)) == len(values)


COUNT = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


async def counted(served: AgentServer) -> tuple[mcp_types.CallToolResult, list[str]]:
    """The result of the task "Count." and its progress messages."""
    heard: list[str] = []

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        heard.append(message or "")

    async with Client(served.server) as client:
        result = await client.call_tool(
            "run_agent", {"task": "Count.", "think": False}, progress_callback=progress
        )
    return result, heard


async def test_a_rejected_answer_is_told_as_rejected_and_asked_again_not_as_answered(tmp_path: Path) -> None:
    result, heard = await counted(
        AgentServer(agent({"Count.": ["about three", '{"n": 3}']}, tmp_path, output_type=COUNT))
    )
    assert result.structured_content == {"n": 3}
    assert heard[0] == "step 1: writing"
    assert heard[1].startswith("step 1: answer rejected: ") and heard[1].endswith("; asked again")
    assert heard[2:] == ["step 2: writing", "step 2: answered"]


async def test_an_answer_never_accepted_is_not_told_as_answered(tmp_path: Path) -> None:
    result, heard = await counted(
        AgentServer(
            agent({"Count.": ["three"]}, tmp_path, output_type=COUNT, limits=Limits(output_retries=0))
        )
    )
    assert result.is_error
    assert heard[0] == "step 1: writing"
    assert heard[1].startswith("step 1: answer rejected: the answer does not match the output schema")
    assert not any("answered" in m for m in heard)


async def test_the_server_gives_agentkits_version(tmp_path: Path) -> None:
    from agentkit import __version__

    async with Client(AgentServer(agent({}, tmp_path)).server) as client:
        assert client.server_info is not None and client.server_info.version == __version__


BROKEN = {"command": sys.executable, "args": ["-c", "import sys; sys.exit('no notes folder')"], "timeout": 20}
"""An MCP server that exits at once, saying why on stderr."""


@contextlib.contextmanager
def serve_log() -> Iterator[list[logging.LogRecord]]:
    """What `agentkit mcp serve` logs, at info level and up, while the block runs."""
    logged: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(record)

    handler = Keep()
    served_log = logging.getLogger("agentkit.mcp.serve")
    served_log.addHandler(handler)
    level = served_log.level
    served_log.setLevel(logging.INFO)
    try:
        yield logged
    finally:
        served_log.removeHandler(handler)
        served_log.setLevel(level)


async def started(served: AgentServer, logged: list[logging.LogRecord]) -> list[mcp_types.Tool]:
    """Start the agent's servers as serving does; once a start is logged, the tools listed."""
    async with served._agent_running(), Client(served.server) as client:
        deadline = time.monotonic() + 20
        while not logged and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)  # the description is set just after the log
        return (await client.list_tools()).tools


async def test_an_mcp_server_that_does_not_start_is_logged_and_left_out_of_the_tools_description(
    tmp_path: Path,
) -> None:
    served = AgentServer(
        Agent(backend=ScriptedBackend({}), transcripts=tmp_path, mcp={"mcpServers": {"notes": BROKEN}})
    )
    assert "the tools of the MCP servers notes" in served._describe()  # not known yet
    with serve_log() as logged:
        (tool,) = await started(served, logged)
    (record,) = logged
    assert record.levelno == logging.WARNING
    said = record.getMessage()
    assert "MCP server 'notes'" in said and "no notes folder" in said
    assert said.endswith("its tools are not offered: the agent goes on without it")
    assert "(the MCP servers notes did not start)" in (tool.description or "")
    assert "the tools of the MCP servers notes" not in (tool.description or "")


async def test_with_mcp_strict_a_server_that_does_not_start_is_logged_once_without_going_on(
    tmp_path: Path,
) -> None:
    served = AgentServer(
        Agent(
            backend=ScriptedBackend({}),
            transcripts=tmp_path,
            mcp={"mcpServers": {"notes": BROKEN}},
            mcp_strict=True,
        )
    )
    with serve_log() as logged:
        await started(served, logged)
    (record,) = logged
    said = record.getMessage()
    assert "no notes folder" in said and said.endswith("; the next call tries again")
    assert "goes on without it" not in said
