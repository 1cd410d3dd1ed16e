"""What a stdio server is started with and how its start failures read (no server needed); and
a session's behaviour under concurrency, cancellation, timeouts, a server that dies and list
changes, against MCP servers in this process (the SDK's in-memory transport)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client._memory import InMemoryTransport
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError
from pydantic import SecretStr

from agentkit.mcp.config import ServerConfig
from agentkit.mcp.session import (
    PASSED_ENV,
    McpServerError,
    McpSession,
    condense_npm_errors,
    connect_mode,
    not_found_hint,
    npm_prefix_hint,
    server_command,
    server_env,
)


def test_proxy_and_certificate_variables_are_passed_in_both_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "ssl_cert_file",
                 "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):  # fmt: skip
        assert name in PASSED_ENV
        monkeypatch.setenv(name, f"value of {name}")
    monkeypatch.setenv("AGENTKIT_TEST_SECRET", "x")
    env = server_env(ServerConfig(command="x"))
    assert (
        env["http_proxy"] == "value of http_proxy"
        and env["NODE_EXTRA_CA_CERTS"] == "value of NODE_EXTRA_CA_CERTS"
    )
    assert "AGENTKIT_TEST_SECRET" not in env


def test_inherit_env_and_the_configs_own_env_which_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTKIT_TEST_A", "a")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    everything = server_env(ServerConfig(command="x", inherit_env=True))
    assert everything["AGENTKIT_TEST_A"] == "a"
    listed = server_env(
        ServerConfig(
            command="x",
            inherit_env=["AGENTKIT_TEST_A", "AGENTKIT_TEST_UNSET"],
            env={"HTTPS_PROXY": SecretStr("")},
        )
    )
    assert listed["AGENTKIT_TEST_A"] == "a" and "AGENTKIT_TEST_UNSET" not in listed
    assert listed["HTTPS_PROXY"] == ""  # `env` turns a passed variable off


@pytest.mark.parametrize(("command", "python"), [("python", True), ("python3", True), ("python3.9", False)])
def test_python_is_agentkits_own_interpreter(command: str, python: bool) -> None:
    assert (server_command(ServerConfig(command=command)) == sys.executable) is python


@pytest.mark.parametrize(
    ("command", "hint"),
    [
        ("uvx", "install uv, which provides it: https://docs.astral.sh/uv/"),
        ("/opt/bin/uv", "install uv: https://docs.astral.sh/uv/"),
        ("npx", "install Node.js, which provides it: https://nodejs.org/"),
        ("node", "install Node.js"),
        ("mcp-server-time", "`uvx mcp-server-time` or install it with `pip install mcp-server-time`; "
         "if an npm package, run it with `npx -y mcp-server-time`"),
        ("./server.py", "check the path (a relative one is read from the config file's folder)"),
    ],
)  # fmt: skip
def test_a_missing_command_says_what_to_install(command: str, hint: str) -> None:
    assert hint in not_found_hint(ServerConfig(command=command))


NPM_ENOENT = """\
npm error code ENOENT
npm error syscall lstat
npm error path /tmp/nonex-npm
npm error errno -2
npm error enoent ENOENT: no such file or directory, lstat '/tmp/nonex-npm'
npm error enoent This is related to npm not being able to find a file.
npm error enoent
npm error A complete log of this run can be found in: /root/.npm/_logs/2026-11-27T21_55_43_100Z-debug-0.log
""".splitlines()


@pytest.mark.parametrize(
    ("args", "package"),
    [
        (["--offline", "--prefix", "/tmp/nonex-npm", "mcp-server-filesystem", "."], "mcp-server-filesystem"),
        (["-y", "@modelcontextprotocol/server-memory"], "@modelcontextprotocol/server-memory"),
        (["--package", "pkg", "bin"], "pkg"),
        (["--package=pkg", "bin"], "pkg"),
    ],
)
def test_npm_errors_become_one_line_naming_the_package(args: list[str], package: str) -> None:
    (line,) = condense_npm_errors(NPM_ENOENT, args)
    assert line == (
        f"npm could not run the package {package!r} (npm error ENOENT: "
        "enoent ENOENT: no such file or directory, lstat '/tmp/nonex-npm')"
    )


def test_other_stderr_lines_are_kept_and_no_npm_lines_left_alone() -> None:
    assert condense_npm_errors(["a server line"], ["pkg"]) == ["a server line"]
    lines = condense_npm_errors(["before", "npm error code E404", "npm error 404 Not Found - GET x"], ["pkg"])
    assert lines == ["before", "npm could not run the package 'pkg' (npm error E404: 404 Not Found - GET x)"]


def test_a_command_not_on_path_is_found_beside_agentkits_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = tmp_path / "mcp-server-agentkit-test"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", "/nonexistent")
    assert server_command(ServerConfig(command="mcp-server-agentkit-test")) == str(program)
    assert server_command(ServerConfig(command="mcp-server-elsewhere")) == "mcp-server-elsewhere"
    monkeypatch.setenv("PATH", str(tmp_path))  # on PATH: started by its name, as written
    assert server_command(ServerConfig(command="mcp-server-agentkit-test")) == "mcp-server-agentkit-test"


def test_an_npx_prefix_without_the_install_says_what_to_install(tmp_path: Path) -> None:
    args = ["--offline", "--prefix", str(tmp_path / ".mcp-npm"), "mcp-server-filesystem", "."]
    assert npm_prefix_hint(args) == (
        f"{tmp_path / '.mcp-npm'} has no install of mcp-server-filesystem: run "
        f"`npm install --prefix {tmp_path / '.mcp-npm'} @modelcontextprotocol/server-filesystem`"
    )
    (tmp_path / ".mcp-npm" / "node_modules" / ".bin").mkdir(parents=True)
    (tmp_path / ".mcp-npm" / "node_modules" / ".bin" / "mcp-server-filesystem").touch()
    assert npm_prefix_hint(args) is None
    assert npm_prefix_hint(["-y", "pkg"]) is None


@pytest.mark.parametrize(
    ("protocol", "mode"),
    [
        ("auto", "auto"),
        ("legacy", "legacy"),
        ("2025-11-25", "legacy"),
        ("2025-03-26", "legacy"),
        ("2026-07-28", "2026-07-28"),
    ],
)
def test_the_protocol_key_chooses_the_sdks_connect_mode(protocol: str, mode: str) -> None:
    assert connect_mode(ServerConfig(command="x", protocol=protocol)) == mode
    assert connect_mode(ServerConfig(command="x")) == "auto"


def test_a_protocol_that_is_not_one_says_which_are() -> None:
    with pytest.raises(ValueError, match="unknown protocol 'old': use 'auto', 'legacy'"):
        ServerConfig(command="x", protocol="old")
    with pytest.raises(McpServerError, match="protocol '2031-01-01' is not one the MCP SDK speaks"):
        connect_mode(ServerConfig(command="x", protocol="2031-01-01"))


# -- a session with a server in this process -----------------------------------------------------

WAIT = 10.0
"""Seconds a test waits for something that should happen at once (a loaded machine is slow)."""


class _SeverableTransport:
    """The SDK's in-memory transport to a server, with what the server sends relayed through a
    stream of its own that `kill` ends, as a dying server's output ends."""

    def __init__(self, server: MCPServer) -> None:
        self._inner = InMemoryTransport(server)
        self._stack = AsyncExitStack()
        self._relayed, self._received = anyio.create_memory_object_stream[Any]()
        self._group: Any = None

    async def __aenter__(self) -> tuple[Any, Any]:
        read, write = await self._stack.enter_async_context(self._inner)
        self._group = await self._stack.enter_async_context(anyio.create_task_group())

        async def relay() -> None:
            with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                async for message in read:
                    await self._relayed.send(message)

        self._group.start_soon(relay)
        return self._received, write

    async def __aexit__(self, *exc: object) -> None:
        self._group.cancel_scope.cancel()
        self._relayed.close()
        await self._stack.aclose()

    def kill(self) -> None:
        self._relayed.close()


class Probe:
    """An MCP server in this process, and what its tools saw.

    Tools: `echo` (answers its text after `seconds`), `slow` (sleeps, telling `started` and
    `cancelled`), `refuse` (answers with an MCP error naming `why`), `grow` (adds a tool
    `extra` and says the tool list changed), and a resource `probe://slow` that takes a minute.
    """

    def __init__(self) -> None:
        self.server = server = MCPServer("probe")
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.transports: list[_SeverableTransport] = []

        @server.tool()
        async def echo(text: str, seconds: float = 0.0) -> str:
            """Answer `text` after `seconds`."""
            await anyio.sleep(seconds)
            return text

        @server.tool()
        async def slow(seconds: float = 60.0) -> str:
            """Sleep."""
            self.started.set()
            try:
                await anyio.sleep(seconds)
            except anyio.get_cancelled_exc_class():
                self.cancelled.set()
                raise
            return "slept"

        @server.tool()
        async def refuse(why: str) -> str:
            """Answer with an MCP error."""
            raise MCPError(-32602, f"not today: {why}")

        @server.tool()
        async def grow(ctx: Context) -> str:
            """Add a tool and say so."""

            def extra() -> str:
                """The added tool."""
                return "extra"

            server.add_tool(extra, name="extra")
            await ctx.notify_tools_changed()  # 2026-07-28: to the listen subscription
            await ctx.session.send_tool_list_changed()  # earlier protocols: a notification
            return "grown"

        @server.resource("probe://slow")
        async def slow_resource() -> str:
            await anyio.sleep(60)
            return "late"

    def transport(self) -> _SeverableTransport:
        """A new connection (a session opens one at each start)."""
        self.transports.append(_SeverableTransport(self.server))
        return self.transports[-1]

    def kill(self) -> None:
        """End the current connection as a server that dies does."""
        self.transports[-1].kill()

    def session(self, on_tools_changed: Any = None, **config: Any) -> McpSession:
        """A session to this server; `config` adds to its `ServerConfig`."""
        server = ServerConfig(command="in-process", **config)
        return McpSession("probe", server, transport=self.transport, on_tools_changed=on_tools_changed)

    @asynccontextmanager
    async def running(self, on_tools_changed: Any = None, **config: Any) -> AsyncIterator[McpSession]:
        """A session to this server, started, and closed at the end."""
        session = self.session(on_tools_changed, **config)
        await session.start()
        try:
            yield session
        finally:
            await session.close()


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail unless the block takes less than `seconds`."""
    began = time.monotonic()
    yield
    took = time.monotonic() - began
    assert took < seconds, f"took {took:.2f} s, more than {seconds:g} s"


async def text_of(session: McpSession, tool: str, **arguments: Any) -> str:
    result = await asyncio.wait_for(session.call_tool(tool, arguments), WAIT)
    assert not result.is_error, result.content
    return str(result.content[0].text)


@pytest.fixture
async def probe() -> Probe:
    return Probe()


async def test_concurrent_calls_run_at_once_and_each_gets_its_own_answer(probe: Probe) -> None:
    async with probe.running() as session:
        with within(6 * 0.4 / 2):  # one after the other they would take 2.4 s
            answers = await asyncio.gather(
                *(text_of(session, "echo", text=f"n{i}", seconds=0.4) for i in range(6))
            )
        assert answers == [f"n{i}" for i in range(6)]


async def test_a_call_cancelled_mid_call_is_cancelled_on_the_server_and_the_session_goes_on(
    probe: Probe,
) -> None:
    async with probe.running() as session:
        call = asyncio.create_task(session.call_tool("slow", {}))
        await asyncio.wait_for(probe.started.wait(), WAIT)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.wait_for(probe.cancelled.wait(), WAIT)
        assert await text_of(session, "echo", text="still here") == "still here"
        assert session.restarts == 0 and len(probe.transports) == 1


async def test_a_call_past_its_tool_timeout_is_cancelled_on_the_server(probe: Probe) -> None:
    async with probe.running(tool_timeout=0.5) as session:
        with within(0.5 + 3.0), pytest.raises(McpServerError) as raised:
            await session.call_tool("slow", {})
        assert str(raised.value) == "slow on MCP server 'probe' did not finish within 0.5 s and was cancelled"
        await asyncio.wait_for(probe.cancelled.wait(), WAIT)
        assert await text_of(session, "echo", text="next") == "next"


async def test_a_request_past_the_servers_timeout_says_what_it_waited_for(probe: Probe) -> None:
    async with probe.running(timeout=1.0) as session:
        with within(1.0 + 3.0), pytest.raises(McpServerError) as raised:
            await session.request("reading probe://slow", lambda client: client.read_resource("probe://slow"))
        assert str(raised.value) == "MCP server 'probe' did not answer reading probe://slow within 1 s"


async def test_a_server_that_dies_mid_call_fails_the_call_and_is_restarted_once(probe: Probe) -> None:
    async with probe.running() as session:
        call = asyncio.create_task(session.call_tool("slow", {}))
        await asyncio.wait_for(probe.started.wait(), WAIT)
        probe.kill()
        with pytest.raises(McpServerError) as raised:
            await asyncio.wait_for(call, WAIT)
        assert str(raised.value) == (
            "MCP server 'probe' stopped during the call; it is being restarted, "
            "so the call may be tried again"
        )
        assert await text_of(session, "echo", text="after a restart") == "after a restart"
        assert session.restarts == 1 and len(probe.transports) == 2 and session.status == "ready"

        probe.started.clear()
        call = asyncio.create_task(session.call_tool("slow", {}))
        await asyncio.wait_for(probe.started.wait(), WAIT)
        probe.kill()
        with pytest.raises(McpServerError, match="it was restarted once already and is not restarted again"):
            await asyncio.wait_for(call, WAIT)
        with pytest.raises(
            McpServerError, match=r"'probe' is not running.*; it stopped again after a restart"
        ):
            await session.call_tool("echo", {"text": "again"})
        assert len(probe.transports) == 2


async def test_closing_the_session_mid_call_ends_the_call_with_an_error(probe: Probe) -> None:
    session = probe.session()
    await session.start()
    call = asyncio.create_task(session.call_tool("slow", {}))
    await asyncio.wait_for(probe.started.wait(), WAIT)
    with within(WAIT):
        await session.close()
        with pytest.raises(McpServerError) as raised:
            await asyncio.wait_for(call, WAIT)
    assert str(raised.value) == "MCP server 'probe' was closed during the call, which did not finish"
    await asyncio.wait_for(probe.cancelled.wait(), WAIT)
    assert session.status == "stopped"
    with pytest.raises(McpServerError, match="MCP server 'probe' is not running"):
        await session.call_tool("echo", {"text": "closed"})


async def test_a_server_that_never_answers_fails_its_start_within_the_timeout() -> None:
    class Silent:
        async def __aenter__(self) -> Any:
            await asyncio.sleep(3600)

        async def __aexit__(self, *exc: object) -> None:
            return None

    session = McpSession("mute", ServerConfig(command="in-process", timeout=0.3), transport=Silent)
    with within(0.3 + 3.0), pytest.raises(McpServerError) as raised:
        await session.start()
    assert str(raised.value) == "MCP server 'mute' (in-process): did not answer within 0.3 s (timeout)"
    assert session.status == "failed"
    with within(WAIT):
        await session.close()
    assert session.status == "failed"


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
async def test_a_changed_tool_list_is_read_again_and_told(probe: Probe, protocol: str) -> None:
    told: list[list[str]] = []
    heard = asyncio.Event()

    async def changed(session: McpSession) -> None:
        told.append([tool.name for tool in session.tools])
        heard.set()

    async with probe.running(protocol=protocol, on_tools_changed=changed) as session:
        assert "extra" not in [tool.name for tool in session.tools]
        assert await text_of(session, "grow") == "grown"
        await asyncio.wait_for(heard.wait(), WAIT)
        assert "extra" in told[0] and "extra" in [tool.name for tool in session.tools]
        assert await text_of(session, "extra") == "extra"


async def test_a_servers_mcp_error_is_one_line_naming_the_server_with_its_secrets_hidden(
    probe: Probe,
) -> None:
    async with probe.running(env={"TOKEN": "s3cret-value"}) as session:
        with pytest.raises(McpServerError) as raised:
            await session.call_tool("refuse", {"why": "the token s3cret-value expired"})
        assert str(raised.value) == (
            "MCP server 'probe' refused refuse: not today: the token *** expired (MCP error -32602)"
        )
        # a tool that fails in its own code answers with an error result, not an exception
        result = await session.call_tool("echo", {"text": 1, "seconds": "soon"})
        assert result.is_error
