"""The client side of MCP beyond tools, against an SDK-built server over stdio and HTTP: roots,
instructions, logging and cancellation."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, Limits, ScriptedBackend
from agentkit.events import McpLog, ToolCallFinished, ToolCallStarted
from agentkit.mcp.config import McpConfig, ServerConfig
from agentkit.mcp.session import McpServerError
from agentkit.mcp.toolset import McpToolset
from agentkit.messages import SystemMessage, to_openai
from agentkit.qwen3.template import render_prompt
from agentkit.store import read_transcript
from agentkit.tools.tool import ToolContext

from ..qwen3 import reference
from .conftest import http_server
from .mcp_calls import call, cancel_run_mid_call, wait_for_text

PROBE = Path(__file__).with_name("mcp_client_server.py")
INSTRUCTIONS = "Probe: call roots before anything else."


@pytest.fixture(params=["stdio", "http"])
def probe(request: pytest.FixtureRequest) -> Iterator[ServerConfig]:
    """The probe server's config, over each transport."""
    if request.param == "stdio":
        yield ServerConfig(command=sys.executable, args=[str(PROBE)])
    else:
        with http_server(PROBE) as url:
            yield ServerConfig(url=url)


async def run_tool(toolset: McpToolset, name: str, **arguments: Any) -> Any:
    tool = {t.name: t for t in toolset.tools()}[name]
    return await tool.call(arguments, ToolContext())


# -- roots --------------------------------------------------------------------------------------


async def test_a_server_asking_for_roots_gets_the_folders_given(probe: ServerConfig, tmp_path: Path) -> None:
    async with McpToolset(McpConfig(servers={"probe": probe}), roots=lambda: [tmp_path]) as toolset:
        result = await run_tool(toolset, "probe__roots")
    assert result.content == tmp_path.resolve().as_uri()


async def test_without_roots_the_client_declares_no_roots_capability(probe: ServerConfig) -> None:
    async with McpToolset(McpConfig(servers={"probe": probe})) as toolset:
        try:
            result = await run_tool(toolset, "probe__roots")
            answer = result.content
        except McpServerError as exc:
            answer = str(exc)
    assert "did not declare the roots capability" in answer


async def test_a_run_offers_its_workspace_as_the_root(tmp_path: Path) -> None:
    config = McpConfig(servers={"probe": ServerConfig(command=sys.executable, args=[str(PROBE)])})
    agent = Agent(
        backend=ScriptedBackend([call("probe__roots"), "done"]),
        mcp=config,
        workspace=tmp_path,
        transcripts=False,
    )
    result = await agent.run("Where am I?")
    assert result.steps[0].tool_results[0].content == tmp_path.resolve().as_uri()


# -- instructions ---------------------------------------------------------------------------------


async def test_server_instructions_join_the_system_prompt(tmp_path: Path) -> None:
    config = McpConfig(servers={"probe": ServerConfig(command=sys.executable, args=[str(PROBE)])})
    backend = ScriptedBackend(["first", "second"])
    async with Agent(
        backend=backend, mcp=config, system_prompt="You are terse.", transcripts=tmp_path
    ) as agent:
        first = await agent.run("hi")
        await agent.run("again", history=first.messages)
    expected = f"You are terse.\n\nInstructions from the MCP server 'probe':\n{INSTRUCTIONS}"
    for request in backend.requests:  # a later turn does not add them twice
        assert request.messages[0] == SystemMessage(expected)
    first_request = backend.requests[0]
    prompt = render_prompt(first_request.messages, first_request.tools)
    assert prompt.startswith(f"<|im_start|>system\n{expected}\n\n# Tools\n")  # before the tools, as content
    if reference.available():  # the official template renders the same bytes
        assert prompt == reference.official_render(
            [to_openai(m) for m in first_request.messages], list(first_request.tools)
        )


async def test_a_resumed_run_sends_the_system_prompt_the_stopped_run_sent(tmp_path: Path) -> None:
    config = McpConfig(servers={"probe": ServerConfig(command=sys.executable, args=[str(PROBE)])})
    first_backend = ScriptedBackend([call("probe__chatty"), "done"])
    first = await Agent(
        backend=first_backend, mcp=config, transcripts=tmp_path, limits=Limits(max_steps=1)
    ).run("go")
    assert first.stop_reason == "max_steps"
    again = ScriptedBackend(["done"])
    result = await Agent(backend=again, mcp=config, transcripts=tmp_path).resume(first.run_id)
    assert result.output == "done"
    assert INSTRUCTIONS in first_backend.requests[0].messages[0].content
    assert again.requests[0].messages[0] == first_backend.requests[0].messages[0]  # joined once, as before


async def test_instructions_make_a_system_message_when_there_is_none() -> None:
    config = McpConfig(servers={"probe": ServerConfig(command=sys.executable, args=[str(PROBE)])})
    backend = ScriptedBackend(["ok"])
    await Agent(backend=backend, mcp=config, transcripts=False).run("hi")
    assert backend.requests[0].messages[0] == SystemMessage(
        f"Instructions from the MCP server 'probe':\n{INSTRUCTIONS}"
    )


# -- logging ----------------------------------------------------------------------------------------


async def test_server_log_messages_become_events_and_transcript_records(
    probe: ServerConfig, tmp_path: Path
) -> None:
    agent = Agent(
        backend=ScriptedBackend([call("probe__chatty"), "done"]),
        mcp=McpConfig(servers={"probe": probe}),
        transcripts=tmp_path,
    )
    events = [e async for e in agent.stream("Log something.")]
    logs = [e for e in events if isinstance(e, McpLog)]
    assert [(e.server, e.level, e.data) for e in logs] == [
        ("probe", "info", "reading the probe"),
        ("probe", "warning", {"disk": "almost full"}),
    ]  # debug is below the default level, so the server does not send it
    finished = next(i for i, e in enumerate(events) if isinstance(e, ToolCallFinished))
    assert all(events.index(e) < finished for e in logs)  # heard before the call's result
    assert agent.last_transcript is not None
    records = [r for r in read_transcript(agent.last_transcript) if r["type"] == "mcp_log"]
    assert [(r["server"], r["level"], r["data"]) for r in records] == [
        (e.server, e.level, e.data) for e in logs
    ]


# -- cancellation -------------------------------------------------------------------------------------


async def test_a_timed_out_call_is_cancelled_on_the_server(probe: ServerConfig, tmp_path: Path) -> None:
    side = tmp_path / "side"
    config = McpConfig(servers={"probe": probe.model_copy(update={"tool_timeout": 1.0})})
    async with McpToolset(config) as toolset:
        result = await run_tool(toolset, "probe__slow", path=str(side))
        assert result.is_error and "did not finish within 1 s" in result.content
        assert await wait_for_text(side, "cancelled") == "cancelled"


async def test_a_cancelled_run_cancels_its_call_on_the_server(probe: ServerConfig, tmp_path: Path) -> None:
    await cancel_run_mid_call(probe, "slow", tmp_path / "side", ToolCallStarted)


@pytest.mark.parametrize("verbose", [True, False])
def test_the_cli_prints_server_log_messages_with_verbose(verbose: bool, tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_text(
        json.dumps({"mcpServers": {"probe": {"command": sys.executable, "args": [str(PROBE)]}}})
    )
    script = tmp_path / "script.json"
    script.write_text(json.dumps([call("probe__chatty"), "done"]))
    ran = subprocess.run(
        [sys.executable, "-m", "agentkit.cli", "run", "log something", "--backend", "scripted",
         "--script", str(script), "--mcp-config", str(config), "--runs-dir", str(tmp_path / "runs"),
         *(["--verbose"] if verbose else [])],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "done"
    shown = (
        "probe info: reading the probe" in ran.stderr
        and 'probe warning: {"disk": "almost full"}' in ran.stderr
    )
    assert shown is verbose, ran.stderr
    assert "too fine to hear" not in ran.stderr
