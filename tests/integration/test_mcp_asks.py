"""Sampling and elicitation against an SDK-built server that asks (mcp_asks_server.py), over
stdio and streamable HTTP: from the Python API (the agent's model played by the scripted
backend), from `agentkit mcp call` (sampling served by the fault server), and a form filled in
at a real terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, ElicitationAnswer, ElicitationRequest, SamplingRequest, ScriptedBackend
from agentkit.backends.base import ModelRequest
from agentkit.events import McpElicitation, McpSampling, ToolCallFinished
from agentkit.mcp.config import McpConfig, ServerConfig
from agentkit.messages import SystemMessage, ToolMessage, UserMessage
from agentkit.store import read_transcript

from ..fault_server import FaultServer
from ..test_cli_approval import Terminal
from .conftest import http_server
from .mcp_asks_server import LOGIN, SYSTEM

SERVER = Path(__file__).with_name("mcp_asks_server.py")
TEXT = "MCP servers may ask their client for a model's answer."


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """One HTTP server for the module's tests."""
    with http_server(SERVER) as url:
        yield url


@pytest.fixture(params=["stdio", "http"])
def asks_server(request: pytest.FixtureRequest) -> ServerConfig:
    """The asking server's config, over each transport."""
    if request.param == "stdio":
        return ServerConfig(command=sys.executable, args=[str(SERVER)])
    return ServerConfig(url=request.getfixturevalue("http_url"))


def call(name: str, **arguments: Any) -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {json.dumps(arguments)}}}\n</tool_call>'


def model(request: ModelRequest) -> str:
    """The agent's model: a summary when a server samples it, else three calls and an answer."""
    if request.messages and request.messages[0] == SystemMessage(SYSTEM):
        return "A one-line summary.\n\nThis part is past the stop sequence."
    done = sum(isinstance(m, ToolMessage) for m in request.messages)
    plan = [call("asks__summarize", text=TEXT), call("asks__book"), call("asks__login"), "All done."]
    return plan[done]


async def test_a_run_serves_sampling_and_elicitation_and_records_them(
    asks_server: ServerConfig, tmp_path: Path
) -> None:
    backend = ScriptedBackend(model)
    approved: list[SamplingRequest] = []
    asked: list[ElicitationRequest] = []

    def on_sampling(request: SamplingRequest) -> bool:
        approved.append(request)
        return True

    async def on_elicitation(request: ElicitationRequest) -> ElicitationAnswer:
        asked.append(request)
        if request.mode == "url":
            return ElicitationAnswer("decline")
        return ElicitationAnswer("accept", {"name": "Ann", "seats": 4})

    agent = Agent(
        backend=backend,
        mcp=McpConfig(servers={"asks": asks_server}),
        on_sampling=on_sampling,
        on_elicitation=on_elicitation,
        transcripts=tmp_path,
    )
    events = [event async for event in agent.stream("Use the asks server.")]

    results = {e.call.name: e.result.content for e in events if isinstance(e, ToolCallFinished)}
    assert json.loads(results["asks__summarize"]) == {
        "model": "scripted", "stop": "stopSequence", "text": "A one-line summary.",
    }  # fmt: skip
    assert json.loads(results["asks__book"]) == {
        "action": "accept", "data": {"name": "Ann", "seats": 4, "when": "dinner", "terrace": False},
    }  # fmt: skip
    assert json.loads(results["asks__login"]) == {"action": "decline"}

    sampled = [r for r in backend.requests if r.messages[0] == SystemMessage(SYSTEM)]
    assert len(sampled) == 1  # asked once, whatever rounds the protocol took
    (request,) = sampled
    assert request.messages == [SystemMessage(SYSTEM), UserMessage(TEXT)]
    assert request.decision.think is False and request.max_tokens == 64
    assert request.sampling.temperature == 0.2 and request.tools == ()
    assert approved[0].server == "asks" and approved[0].stop == ("\n\n",)
    assert [r.mode for r in asked] == ["form", "url"] and asked[1].url == LOGIN
    assert [f.name for f in asked[0].fields] == ["name", "seats", "when", "terrace"]

    noted = [e for e in events if isinstance(e, (McpSampling, McpElicitation))]
    assert [(type(e).__name__, getattr(e, "action", None)) for e in noted] == [
        ("McpSampling", None), ("McpElicitation", "accept"), ("McpElicitation", "decline"),
    ]  # fmt: skip
    assert agent.last_transcript is not None
    kept = [
        r for r in read_transcript(agent.last_transcript) if r["type"] in ("mcp_sampling", "mcp_elicitation")
    ]
    assert [r["type"] for r in kept] == ["mcp_sampling", "mcp_elicitation", "mcp_elicitation"]
    assert kept[0]["request"] == TEXT and kept[0]["answer"] == "A one-line summary."
    assert kept[1]["content"] == {"name": "Ann", "seats": 4, "when": "dinner", "terrace": False}


async def test_without_callbacks_sampling_is_refused_and_forms_take_their_defaults() -> None:
    turns = [call("asks__summarize", text=TEXT), call("asks__confirm"), "Done."]
    per_run = ServerConfig(command=sys.executable, args=[str(SERVER)], per_run=True)  # the run's own copy
    agent = Agent(backend=ScriptedBackend(turns), mcp=McpConfig(servers={"asks": per_run}), transcripts=False)
    events = [event async for event in agent.stream("Use the asks server.")]
    results = {e.call.name: e.result for e in events if isinstance(e, ToolCallFinished)}
    assert results["asks__summarize"].is_error
    assert "no one can approve it here" in results["asks__summarize"].content
    confirmed = json.loads(results["asks__confirm"].content)
    assert confirmed == {"action": "accept", "data": {"seats": 2, "ok": True}}
    noted = [e for e in events if isinstance(e, (McpSampling, McpElicitation))]
    assert [(type(e).__name__, e.server) for e in noted] == [
        ("McpSampling", "asks"),
        ("McpElicitation", "asks"),
    ]
    assert isinstance(noted[0], McpSampling) and not noted[0].approved


async def test_a_server_asking_with_its_own_requests_works_with_protocol_legacy_and_the_error_says_so() -> (
    None
):
    own_requests = ServerConfig(command=sys.executable, args=[str(SERVER), "--legacy"])  # ctx.elicit & co

    async def run(server: ServerConfig) -> dict[str | None, Any]:
        def turns(request: ModelRequest) -> str:
            if request.messages and request.messages[0] == SystemMessage(SYSTEM):
                return "A one-line summary."
            done = sum(isinstance(m, ToolMessage) for m in request.messages)
            return [call("asks__summarize", text=TEXT), call("asks__book"), "Done."][done]

        agent = Agent(
            backend=ScriptedBackend(turns),
            mcp=McpConfig(servers={"asks": server}),
            on_sampling=lambda request: True,
            on_elicitation=lambda request: ElicitationAnswer("accept", {"name": "Ann"}),
            transcripts=False,
        )
        events = [event async for event in agent.stream("Use the asks server.")]
        return {e.call.name: e.result for e in events if isinstance(e, ToolCallFinished)}

    refused = await run(own_requests)
    for tool in ("asks__summarize", "asks__book"):
        assert refused[tool].is_error
        assert "no back-channel for server-initiated requests" in refused[tool].content
        assert 'protocol 2026-07-28 has no channel for: set "protocol": "legacy" for \'asks\'' in (
            refused[tool].content
        )
    served = await run(own_requests.model_copy(update={"protocol": "legacy"}))
    assert json.loads(served["asks__summarize"].content)["text"] == "A one-line summary."
    assert json.loads(served["asks__book"].content)["data"]["name"] == "Ann"


# -- agentkit mcp call ---------------------------------------------------------------------------


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "asks.json"
    path.write_text(json.dumps({"mcpServers": {"asks": {"command": sys.executable, "args": [str(SERVER)]}}}))
    return path


def mcp_call(
    tmp_path: Path, tool: str, arguments: dict[str, Any], *extra: str
) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "agentkit.cli", "mcp", "call", "asks", tool, json.dumps(arguments)]
    args += ["--mcp-config", str(config_file(tmp_path)), *extra]
    env = {k: v for k, v in os.environ.items() if k not in ("AGENTKIT_BASE_URL", "AGENTKIT_MODEL")}
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**env, "NO_COLOR": "1", "COLUMNS": "300"},
    )


def test_mcp_call_samples_from_the_model_at_base_url_with_yes(tmp_path: Path) -> None:
    with FaultServer(calls=0, answer="Servers ask; the client answers.").in_thread() as server:
        done = mcp_call(tmp_path, "summarize", {"text": TEXT}, "--base-url", server.base_url, "--yes")
        bodies = server.bodies("/completions")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["text"] == "Servers ask; the client answers."
    (body,) = bodies
    assert body["max_tokens"] == 64 and body["temperature"] == 0.2
    assert SYSTEM in body["prompt"] and TEXT in body["prompt"]
    assert body["prompt"].endswith("<think>\n\n</think>\n\n")  # thinking off
    assert "◆ MCP server asks asked the model: MCP servers may ask" in done.stderr
    assert " tokens · endTurn" in done.stderr


def test_mcp_call_without_yes_and_a_terminal_refuses_sampling_naming_yes(tmp_path: Path) -> None:
    with FaultServer(calls=0).in_thread() as server:
        done = mcp_call(tmp_path, "summarize", {"text": TEXT}, "--base-url", server.base_url)
        assert server.bodies("/completions") == []
    assert done.returncode == 1
    assert (
        "no one can approve it here (MCP server 'asks' asked for a model answer): pass --yes" in done.stderr
    )


def test_mcp_call_without_a_model_tells_the_refusal_once(tmp_path: Path) -> None:
    done = mcp_call(tmp_path, "summarize", {"text": TEXT}, "--yes")
    assert done.returncode == 1
    assert done.stderr.count("agentkit mcp call has no model to sample with") == 1, done.stderr
    assert "--script FILE" in done.stderr
    assert (
        "agentkit: MCP server 'asks' refused summarize: its request was not answered (the reason is above)"
        in (done.stderr)
    )


def test_mcp_call_with_no_terminal_sends_a_forms_defaults(tmp_path: Path) -> None:
    confirmed = mcp_call(tmp_path, "confirm", {})
    assert json.loads(confirmed.stdout) == {"action": "accept", "data": {"seats": 2, "ok": True}}
    assert "MCP server asks asked: Confirm the booking · accepted (seats=2, ok=True)" in confirmed.stderr


def test_a_form_and_a_page_at_a_real_terminal(tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    args = [sys.executable, "-m", "agentkit.cli", "mcp", "call", "asks"]
    config = ["--mcp-config", str(config_file(tmp_path))]

    term = Terminal([*args, "book", "{}", *config], tmp_path)
    term.expect("MCP server asks asks: Book a table")
    term.expect("Fill in the form? [y]es / [n]o / [c]ancel: ")
    term.type("y\r")
    term.expect("Who the table is for")
    term.expect("Name *: ")
    term.type("Ann\r")
    term.expect("Seats (whole number, 1..8) [2]: ")
    term.type("12\r")
    term.expect("Seats must be at most 8")
    term.type("3\r")
    term.expect("When [dinner]: ")
    term.type("1\r")
    term.expect("Terrace (y/n) [no]: ")
    term.type("\r")
    term.expect('"action": "accept"')
    assert term.finish() == 0
    assert (
        '{"action": "accept", "data": {"name": "Ann", "seats": 3, "when": "lunch", "terrace": false}}'
        in term.seen
    )

    term = Terminal([*args, "login", "{}", *config], tmp_path, {"BROWSER": str(browser)})
    term.expect(LOGIN)
    term.expect("Open it in your browser? [y]es / [n]o / [c]ancel: ")
    term.type("y\r")
    term.expect('{"action": "accept"}')
    assert term.finish() == 0
    assert opened.read_text().strip() == LOGIN


def test_a_run_at_a_real_terminal_asks_before_sampling_and_shows_the_form(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    turns = [call("asks__summarize", text=TEXT), "A short summary.", call("asks__book"), "Booked."]
    script.write_text(json.dumps(turns))  # the sampling request takes the second turn
    args = [
        sys.executable, "-m", "agentkit.cli", "run", "Summarize, then book.", "--backend", "scripted",
        "--script", str(script), "--mcp-config", str(config_file(tmp_path)),
        "--runs-dir", str(tmp_path / "runs"),
    ]  # fmt: skip
    term = Terminal(args, tmp_path)
    term.expect("MCP server asks asks the model (at most 64 tokens, no thinking): MCP servers may ask")
    term.expect("Allow it? [y]es / [n]o / [a]lways for this server: ")
    term.type("y\r")
    term.expect("◆ MCP server asks asked the model: MCP servers may ask their client for a model's answer.")
    term.expect("Fill in the form? [y]es / [n]o / [c]ancel: ")
    term.type("y\r")
    term.expect("Name *: ")
    term.type("Bo\r")
    term.expect("Seats (whole number, 1..8) [2]: ")
    term.type("\r")
    term.expect("When [dinner]: ")
    term.type("\r")
    term.expect("Terrace (y/n) [no]: ")
    term.type("y\r")
    term.expect(
        "◆ MCP server asks asked: Book a table · accepted (name=Bo, seats=2, when=dinner, terrace=True)"
    )
    term.expect("Booked.")
    assert term.finish() == 0, term.seen
    (transcript,) = (tmp_path / "runs").glob("*.jsonl")
    kinds = [r["type"] for r in read_transcript(transcript) if r["type"].startswith("mcp_")]
    assert kinds == ["mcp_sampling", "mcp_elicitation"]
    shown = subprocess.run(
        [sys.executable, "-m", "agentkit.cli", "runs", "show", transcript.stem.rsplit("-", 1)[1],
         "--runs-dir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=60, env={**os.environ, "NO_COLOR": "1", "COLUMNS": "300"},
    )  # fmt: skip
    assert "◆ MCP server asks asked the model: MCP servers may ask" in shown.stdout
    assert "◆ MCP server asks asked: Book a table · accepted (name=Bo, seats=2" in shown.stdout


def test_a_chat_fills_in_a_form_at_its_prompt_keeping_the_case_typed(tmp_path: Path) -> None:
    from ..test_cli_chat import CTRL_D, Chat, say

    script = tmp_path / "script.json"
    script.write_text(json.dumps([call("asks__book"), "Booked."]))
    args = [
        sys.executable, "-m", "agentkit.cli", "chat", "--backend", "scripted", "--script", str(script),
        "--mcp-config", str(config_file(tmp_path)), "--runs-dir", str(tmp_path / "runs"),
    ]  # fmt: skip
    term = Chat(args, tmp_path, {"PROMPT_TOOLKIT_NO_CPR": "1", "XDG_STATE_HOME": str(tmp_path / "state")})
    say(term, "Book a table.")
    term.expect("Fill in the form? [y]es / [n]o / [c]ancel:")
    term.type("y\r")
    term.expect("Name *:")
    term.type("Ann Lee\r")
    term.expect("Seats (whole number, 1..8) [2]:")
    term.type("4\r")
    term.expect("When [dinner]:")
    term.type("lunch\r")
    term.expect("Terrace (y/n) [no]:")
    term.type("\r")
    term.expect("accepted (name=Ann Lee, seats=4, when=lunch, terrace=False)")
    term.expect("Booked.")
    term.expect("›")
    term.type(CTRL_D)
    assert term.finish() == 0, term.log + term.seen
