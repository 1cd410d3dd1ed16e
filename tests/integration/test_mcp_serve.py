"""`agentkit mcp serve` as MCP clients see it, over stdio and streamable HTTP: the SDK's own
client lists the tool, runs tasks and gets the answer with a progress notification per step,
cancels a long run (its transcript says interrupted, the server stays healthy), and gets only
protocol on stdout. The model is the fault server on loopback, scripted per task: plain tasks
call `step` twice and answer; "[slow]" calls a tool that takes a minute; "[guarded]" calls a
tool that needs approval. One serve process per transport serves most tests."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import mcp_types
import pytest
import pytest_asyncio
from mcp import Client, StdioServerParameters

from agentkit.store import read_transcript, run_info

from ..fault_server import FaultServer, Reply, State
from .conftest import processes_with

in_module_loop = pytest.mark.asyncio(loop_scope="module")
"""The loop the module's shared clients live in."""

ANSWER = "Both steps are done."
WAIT = 20.0
"""Seconds a test waits for the serve process to react (start, answer, stop a run, exit)."""
POLL = 0.05

TOOLS = '''"""Tools of the served agent."""

import asyncio

from agentkit import tool


@tool
def step(n: int) -> str:
    """Do step n."""
    return f"step {n} done"


@tool
async def wait(seconds: float) -> str:
    """Wait this many seconds."""
    await asyncio.sleep(seconds)
    return "waited"


@tool(approval="ask")
def guarded() -> str:
    """Change something (asks first)."""
    return "changed"
'''

CHILD = '''"""An MCP server the served agent uses: the test looks for its process."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("child", log_level="WARNING")


@server.tool()
def ping() -> str:
    """Answer pong."""
    return "pong"


if __name__ == "__main__":
    server.run()
'''


def reply(state: State) -> Reply:
    """The model: the task's tag picks the tool it calls first; then it answers."""
    prompt = json.dumps(state.body)
    if "[slow]" in prompt:
        return Reply(tool="wait", arguments={"seconds": 60}) if state.step == 0 else Reply(answer="waited")
    if "[guarded]" in prompt:
        return Reply(tool="guarded") if state.step == 0 else Reply(answer="guarded is done")
    if state.step < 2:
        return Reply(reasoning="One more step.", tool="step", arguments={"n": state.step + 1})
    return Reply(answer=ANSWER)


@dataclass
class Setup:
    """The files and model server a serve process runs with."""

    base_url: str
    folder: Path
    runs: Path = field(init=False)

    def __post_init__(self) -> None:
        self.runs = self.folder / "runs"

    def command(self, *more: str, config: str = "mcp.json") -> list[str]:
        return [
            sys.executable, "-m", "agentkit.cli", "mcp", "serve", "--base-url", self.base_url,
            "--tools", str(self.folder / "tools.py"), "--mcp-config", str(self.folder / config),
            "--runs-dir", str(self.runs), "--think", "off", *more,
        ]  # fmt: skip

    def transcript_of(self, tag: str) -> Path:
        """The transcript of the one run whose task holds `tag`."""
        found = [p for p in self.runs.glob("*.jsonl") if tag in read_transcript(p)[0].get("task", "")]
        assert len(found) == 1, f"runs with {tag!r} in the task: {found}"
        return found[0]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    folder = tmp_path_factory.mktemp("serve")
    (folder / "tools.py").write_text(TOOLS)
    children = ("child_server.py", "raw_child_server.py", "http_child_server.py", "per_run_server.py")
    for name in (*children, "term_stdio_server.py", "term_http_server.py"):
        (folder / name).write_text(CHILD)

    def server(name: str, **more: Any) -> dict[str, Any]:
        return {"command": sys.executable, "args": [str(folder / name)], **more}

    configs = {
        "mcp.json": {"child": server("child_server.py")},
        "raw.json": {"child": server("raw_child_server.py")},
        "term_stdio.json": {"child": server("term_stdio_server.py")},
        "term_http.json": {"child": server("term_http_server.py")},
        "http.json": {
            "child": server("http_child_server.py"),
            "scratch": server("per_run_server.py", per_run=True),
        },
    }
    for name, servers in configs.items():
        (folder / name).write_text(json.dumps({"mcpServers": servers}))
    with FaultServer(reply=reply).in_thread() as model:
        yield Setup(model.base_url, folder)


@asynccontextmanager
async def client_of(server: Any, **options: Any) -> AsyncIterator[Client]:
    """A connected client whose connection lives in a task of its own (the SDK's contexts must
    be left in the task that entered them; a module fixture's teardown runs in another)."""
    ready: asyncio.Future[Client] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def own() -> None:
        try:
            async with Client(server, **options) as client:
                ready.set_result(client)
                await done.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    owner = asyncio.create_task(own())
    try:
        yield await asyncio.wait_for(ready, WAIT)
    finally:
        done.set()
        await asyncio.wait_for(owner, WAIT)


def stdio(setup: Setup, *more: str) -> StdioServerParameters:
    command = setup.command(*more)
    return StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def over_stdio(setup: Setup) -> AsyncIterator[Client]:
    async with client_of(stdio(setup)) as client:
        yield client


@pytest.fixture(scope="module")
def http_url(setup: Setup) -> Iterator[str]:
    """`agentkit mcp serve --http 0` (its agent has a per-run MCP server too): the URL it says
    it serves at."""
    log = setup.folder / "http.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(setup.command("--http", "0", config="http.json"), stderr=stderr)
    try:
        deadline = time.monotonic() + WAIT
        while (
            "serving MCP at" not in log.read_text() and process.poll() is None and time.monotonic() < deadline
        ):
            time.sleep(POLL)
        said = log.read_text()
        assert "serving MCP at" in said, f"no URL on stderr: {said!r}"
        yield said.split("serving MCP at ")[1].split()[0]
    finally:
        process.terminate()
        process.wait(WAIT)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def over_http(http_url: str) -> AsyncIterator[Client]:
    async with client_of(http_url) as client:
        yield client


@pytest.fixture(params=["stdio", "http"])
def client(request: pytest.FixtureRequest) -> Client:
    return request.getfixturevalue("over_stdio" if request.param == "stdio" else "over_http")  # type: ignore[no-any-return]


@dataclass
class Progress:
    """The progress notifications of one call."""

    seen: list[tuple[float, float | None, str | None]] = field(default_factory=list)
    wanted: str | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append((progress, total, message))
        if self.wanted is not None and message is not None and self.wanted in message:
            self.arrived.set()


def text_of(result: mcp_types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, mcp_types.TextContent))


async def status_becomes(path: Path, status: str) -> str:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and run_info(path).status != status:
        await asyncio.sleep(POLL)
    return run_info(path).status


# -- the tool -------------------------------------------------------------------------------


@in_module_loop
async def test_the_server_offers_one_tool_taking_a_task_and_says_what_it_is(over_stdio: Client) -> None:
    tools = (await over_stdio.list_tools()).tools
    assert [t.name for t in tools] == ["run_agent"]
    schema = tools[0].input_schema
    assert schema["required"] == ["task"]
    assert set(schema["properties"]) == {"task", "think"}
    assert "step, wait, guarded" in (tools[0].description or "")
    assert "child" in (tools[0].description or "")  # its MCP servers are named
    assert "run_agent" in (over_stdio.instructions or "")


@in_module_loop
async def test_stderr_says_how_each_of_the_agents_mcp_servers_started(
    over_http: Client, setup: Setup
) -> None:
    log = setup.folder / "http.log"
    deadline = time.monotonic() + WAIT
    while "MCP server child" not in log.read_text() and time.monotonic() < deadline:
        await asyncio.sleep(POLL)
    said = log.read_text()
    assert re.search(r"agentkit mcp serve: MCP server 'child' ready: 1 tool \(\d+\.\d s\)", said), said


@in_module_loop
async def test_a_call_returns_the_answer_after_a_progress_notification_per_step(
    client: Client, setup: Setup
) -> None:
    progress = Progress()
    result = await client.call_tool("run_agent", {"task": "Do both steps."}, progress_callback=progress)
    assert not result.is_error, text_of(result)
    assert text_of(result) == ANSWER
    messages = [m or "" for _, _, m in progress.seen]
    assert [m for m in messages if " done in " not in m] == [
        "step 1: writing", "step 1: calling step",
        "step 2: writing", "step 2: calling step",
        "step 3: writing", "step 3: answered",
    ]  # fmt: skip
    assert sum(m.startswith(("step 1: step done in", "step 2: step done in")) for m in messages) == 2
    values = [p for p, _, _ in progress.seen]
    assert values == sorted(values) and len(set(values)) == len(values)  # rising, as the spec asks
    assert {total for _, total, _ in progress.seen} == {20}  # the step limit
    transcript = result.meta["agentkit/transcript"] if result.meta else None
    assert transcript is not None and run_info(Path(transcript)).status == "answer"


@in_module_loop
async def test_cancelling_a_call_stops_its_run_and_the_server_goes_on(client: Client, setup: Setup) -> None:
    tag = f"[slow] {uuid.uuid4().hex}"
    progress = Progress(wanted="calling wait")
    with anyio.move_on_after(WAIT) as scope:
        async with anyio.create_task_group() as group:

            async def call() -> None:
                await client.call_tool("run_agent", {"task": tag}, progress_callback=progress)

            group.start_soon(call)
            await progress.arrived.wait()  # the run is in its minute-long tool call
            group.cancel_scope.cancel()  # the client sends notifications/cancelled
    assert not scope.cancelled_caught, "the run never reached its wait call"
    transcript = setup.transcript_of(tag)
    assert await status_becomes(transcript, "interrupted") == "interrupted"
    last = read_transcript(transcript)[-1]
    assert last["type"] == "run_interrupted" and last["reason"] == "cancelled by the MCP client"
    result = await client.call_tool("run_agent", {"task": "Do both steps again."})
    assert text_of(result) == ANSWER  # the server is healthy


@in_module_loop
async def test_cancelling_a_call_stops_the_mcp_servers_its_run_started(
    over_http: Client, setup: Setup
) -> None:
    per_run = str(setup.folder / "per_run_server.py")
    progress = Progress(wanted="calling wait")
    with anyio.move_on_after(WAIT) as scope:
        async with anyio.create_task_group() as group:

            async def call() -> None:
                await over_http.call_tool(
                    "run_agent", {"task": f"[slow] {uuid.uuid4().hex}"}, progress_callback=progress
                )

            group.start_soon(call)
            await progress.arrived.wait()
            running = processes_with(per_run)
            group.cancel_scope.cancel()
    assert not scope.cancelled_caught, "the run never reached its wait call"
    assert len(running) == 1, "the run's own MCP server was not running"
    deadline = time.monotonic() + WAIT
    while processes_with(per_run) and time.monotonic() < deadline:
        await asyncio.sleep(POLL)
    assert processes_with(per_run) == []
    assert processes_with(str(setup.folder / "http_child_server.py"))  # the shared one goes on


@in_module_loop
async def test_a_tool_needing_approval_is_refused_when_the_client_cannot_be_asked(
    over_stdio: Client, setup: Setup
) -> None:
    result = await over_stdio.call_tool("run_agent", {"task": "[guarded] no one to ask"})
    assert text_of(result) == "guarded is done"
    finished = [
        r for r in read_transcript(setup.transcript_of("no one to ask")) if r["type"] == "tool_call_finished"
    ]
    assert "no one can approve it here" in finished[0]["result"]["content"]


@in_module_loop
async def test_a_client_on_a_protocol_with_elicitation_is_asked_to_approve(
    setup: Setup, http_url: str
) -> None:
    asked: list[str] = []

    async def elicit(context: Any, params: mcp_types.ElicitRequestParams) -> mcp_types.ElicitResult:
        asked.append(params.message)
        return mcp_types.ElicitResult(action="accept", content={})

    async with client_of(http_url, mode="legacy", elicitation_callback=elicit) as client:  # a second client
        result = await client.call_tool("run_agent", {"task": "[guarded] ask the client"})
    assert text_of(result) == "guarded is done"
    assert len(asked) == 1 and "guarded" in asked[0]
    finished = [
        r for r in read_transcript(setup.transcript_of("ask the client")) if r["type"] == "tool_call_finished"
    ]
    assert finished[0]["result"]["content"] == "changed"


# -- stdio hygiene --------------------------------------------------------------------------


def test_stdout_carries_only_protocol_and_closing_stdin_stops_the_server_and_its_mcp_servers(
    setup: Setup,
) -> None:
    raw_child = str(setup.folder / "raw_child_server.py")  # its own: the shared servers run the other
    process = subprocess.Popen(
        setup.command(config="raw.json"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None

    def send(message: dict[str, Any]) -> None:
        assert process.stdin is not None
        process.stdin.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
        process.stdin.flush()

    try:
        hello = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        }
        send({"id": 1, "method": "initialize", "params": hello})
        lines = [process.stdout.readline()]
        send({"method": "notifications/initialized"})
        task = {"task": "Do both steps raw."}
        send(
            {
                "id": 2,
                "method": "tools/call",
                "params": {"name": "run_agent", "arguments": task, "_meta": {"progressToken": 7}},
            }
        )
        for _ in range(100):  # bounded: eight progress notifications, then the answer
            lines.append(process.stdout.readline())
            if not lines[-1] or json.loads(lines[-1]).get("id") == 2:
                break
        children = processes_with(raw_child)
        process.stdin.close()
        assert process.wait(WAIT) == 0
        rest = process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
    messages = [json.loads(line) for line in lines]  # each line is JSON...
    assert all(m.get("jsonrpc") == "2.0" for m in messages)  # ...and JSON-RPC
    assert rest == ""
    assert messages[-1]["result"]["content"][0]["text"] == ANSWER
    assert sum(m.get("method") == "notifications/progress" for m in messages) == 8  # 3 steps, 2 calls
    assert children, "the agent's MCP server was not running"
    deadline = time.monotonic() + WAIT
    while processes_with(raw_child) and time.monotonic() < deadline:
        time.sleep(POLL)
    assert processes_with(raw_child) == []


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_sigterm_stops_the_server_and_its_mcp_servers(setup: Setup, transport: str) -> None:
    child = str(setup.folder / f"term_{transport}_server.py")
    more = ("--http", "0") if transport == "http" else ()
    process = subprocess.Popen(
        setup.command(*more, config=f"term_{transport}.json"),
        stdin=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + WAIT
        while not processes_with(child) and time.monotonic() < deadline:
            time.sleep(POLL)
        started = processes_with(child)
        process.terminate()
        assert process.wait(WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert started, "the agent's MCP server never started"
    deadline = time.monotonic() + WAIT
    while processes_with(child) and time.monotonic() < deadline:
        time.sleep(POLL)
    assert processes_with(child) == []
