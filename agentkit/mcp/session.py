"""One MCP server's connection, owned by a task of its own.

The `mcp` SDK requires that a session be closed in the task that opened it, and it waits
forever on a silent server unless told otherwise. So each `McpSession` runs an owner task
that enters the SDK's `Client` and leaves it when asked; other tasks call tools through it
concurrently. Every request has a timeout. A server that dies is noticed at once (its read
stream ends), the call in flight is answered with an error, and the server is restarted
once. Errors come out unwrapped from the SDK's exception groups, with the server's last
stderr lines, and with the server's secrets (see `ServerConfig.redact`) as `***`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO, cast

from agentkit.defaults import DEFAULT_MCP_LOG_LEVEL, MCP_STREAM_READ_MARGIN
from agentkit.errors import AgentkitError
from agentkit.mcp._errors import describe_exception, leaves
from agentkit.mcp.catalog import Catalog
from agentkit.mcp.config import McpConfigWarning, ServerConfig
from agentkit.mcp.tasks import TaskCallError, call_as_task, follow_calls, needs_task, tasks_extension

if TYPE_CHECKING:
    from agentkit.mcp.asks import McpAsks

if sys.version_info < (3, 11):  # pragma: no cover - anyio brings the backport there
    pass  # type: ignore[import-not-found, unused-ignore]

__all__ = ["McpServerError", "McpSession"]

SHUTDOWN_GRACE = 10.0
"""Seconds to wait for a server's owner task to close its connection (the SDK itself gives a
stdio server 2 s after closing stdin, then 2 s after SIGTERM, then SIGKILLs its group)."""

STDERR_LINES = 12
"""Lines of a server's stderr quoted when it fails."""

PASSED_ENV = tuple(
    name
    for upper in (
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
    )
    for name in (upper, upper.lower())
)  # fmt: skip
"""Variables a stdio server gets from agentkit's environment besides the MCP SDK's safe set
(HOME, PATH, ...): without them a server behind a proxy or a private certificate authority
fails at its first download ("invalid peer certificate: UnknownIssuer")."""

BACK_CHANNEL_ERROR = "no back-channel for server-initiated requests"
"""What the MCP SDK's servers answer when a tool sends a request of its own (`ctx.elicit`,
`ctx.session.create_message`) on a 2026-07-28 connection, which has no channel for it."""

_PYTHON_NAMES = frozenset({"python", "python3"})

_INSTALL_HINTS = {
    "uvx": "install uv, which provides it: https://docs.astral.sh/uv/getting-started/installation/",
    "uv": "install uv: https://docs.astral.sh/uv/getting-started/installation/",
    "npx": "install Node.js, which provides it: https://nodejs.org/",
    "npm": "install Node.js, which provides it: https://nodejs.org/",
    "node": "install Node.js: https://nodejs.org/",
    "docker": "install Docker: https://docs.docker.com/get-docker/",
}

Status = Literal["stopped", "starting", "ready", "failed"]
Progress = Callable[[float, "float | None", "str | None"], Awaitable[None]]
Roots = Callable[[], Sequence[Path]]
"""The folders a client offers servers as its roots (`roots/list`), asked at each request."""
LogHandler = Callable[["McpSession", str, "str | None", Any], None]
"""Told of each log message a server sends: the session, its level, logger and data."""


class McpServerError(AgentkitError):
    """An MCP server could not be started or used; the message names it and says why."""


def server_env(config: ServerConfig) -> dict[str, str]:
    """What a stdio server gets on top of the MCP SDK's safe set: the proxy and certificate
    variables, what `inherit_env` asks for, and the config's `env` (which wins)."""
    inherit = config.inherit_env
    names = list(os.environ) if inherit is True else [*PASSED_ENV, *(inherit or [])]
    return {name: os.environ[name] for name in names if name in os.environ} | config.secret_env()


def server_command(config: ServerConfig) -> str:
    """The program to start. `python`/`python3` is agentkit's own interpreter, which has the
    `mcp` SDK a Python server needs whether or not a virtual environment is active; and a
    bare name not on PATH is looked for beside it, where the servers installed with agentkit
    (`mcp-server-time`, say) are."""
    import shutil

    command = config.command or ""
    if command in _PYTHON_NAMES and sys.executable:
        return sys.executable
    if not command or os.sep in command or "/" in command or not sys.executable:
        return command
    path = config.secret_env().get("PATH", os.environ.get("PATH", os.defpath))
    if shutil.which(command, path=path) is not None:
        return command
    beside = shutil.which(command, path=os.path.dirname(sys.executable))
    return beside or command


def connect_mode(config: ServerConfig) -> str:
    """The SDK `Client`'s `mode` for the server's `protocol`: "auto", "legacy" (also for a
    handshake-era version: the handshake agrees on the newest both sides speak), or a later
    version, pinned.

    Raises:
        McpServerError: A version the SDK does not know.
    """
    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

    protocol = config.protocol
    if protocol in ("auto", "legacy") or protocol in MODERN_PROTOCOL_VERSIONS:
        return protocol
    if protocol in HANDSHAKE_PROTOCOL_VERSIONS:
        return "legacy"
    known = ", ".join([*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS])
    raise McpServerError(
        f"protocol {protocol!r} is not one the MCP SDK speaks ({known}): use 'auto', 'legacy' or one of those"
    )


def not_found_hint(config: ServerConfig) -> str:
    """What to install when a server's command is missing."""
    program = os.path.basename(config.command or "")
    hint = _INSTALL_HINTS.get(program.lower().removesuffix(".exe"))
    if hint:
        return hint
    if os.sep in (config.command or "") or "/" in (config.command or ""):
        return "check the path (a relative one is read from the config file's folder)"
    return (
        f"if it is a Python package, run it with `uvx {program}` or install it with "
        f"`pip install {program}`; if an npm package, run it with `npx -y {program}`"
    )


def _npx_package(args: list[str]) -> str | None:
    """The package an `npx` command line runs: `--package`'s value, or the first argument
    that is not an option or an option's value."""
    takes_value = {"--prefix", "--cache", "--registry", "-c", "--call", "--userconfig"}
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in ("-p", "--package"):
            return args[index + 1] if index + 1 < len(args) else None
        if arg.startswith("--package="):
            return arg.split("=", 1)[1]
        if not arg.startswith("-"):
            return arg
        index += 2 if arg in takes_value else 1
    return None


_NPM_PACKAGES = {
    "mcp-server-filesystem": "@modelcontextprotocol/server-filesystem",
    "mcp-server-everything": "@modelcontextprotocol/server-everything",
}
"""The npm packages of the servers agentkit's configs run by their program's name."""


def npm_prefix_hint(args: list[str]) -> str | None:
    """For `npx --prefix FOLDER PROGRAM`: the `npm install` to run when FOLDER has no PROGRAM."""
    if "--prefix" not in args or args.index("--prefix") + 1 >= len(args):
        return None
    prefix = os.path.abspath(os.path.expanduser(args[args.index("--prefix") + 1]))
    program = _npx_package(args)
    if not program or os.path.exists(os.path.join(prefix, "node_modules", ".bin", program)):
        return None
    package = _NPM_PACKAGES.get(program, program)
    return f"{prefix} has no install of {program}: run `npm install --prefix {prefix} {package}`"


def condense_npm_errors(lines: list[str], args: list[str]) -> list[str]:
    """npm's many `npm error` lines as one naming the package and the cause."""
    errors = [line.removeprefix("npm error").strip() for line in lines if line.startswith("npm error")]
    if not errors:
        return lines
    code = next((e.removeprefix("code").strip() for e in errors if e.startswith("code ")), "")
    noise = ("code ", "syscall ", "path ", "errno ", "A complete log")
    detail = next((e for e in errors if e not in ("", "enoent", "404") and not e.startswith(noise)), "")
    package = _npx_package(args)
    line = "npm could not run " + (f"the package {package!r}" if package else "the server")
    line += f" (npm error {code}: {detail})" if code else f" ({detail})"
    others = [line for line in lines if not line.startswith("npm error")]
    return [*others, line]


def _refused(exc: BaseException) -> bool:
    """Whether nothing listens where the server should be."""
    import errno

    for leaf in leaves(exc):
        if isinstance(leaf, ConnectionRefusedError) or getattr(leaf, "errno", None) == errno.ECONNREFUSED:
            return True
        if type(leaf).__name__ == "ConnectError":  # httpx's, whatever its cause
            return True
    return False


class _WatchedStream:
    """A transport's read stream that reports when the server side goes away."""

    def __init__(self, inner: Any, on_end: Callable[[], None]) -> None:
        self._inner = inner
        self._on_end = on_end

    async def receive(self) -> Any:
        import anyio

        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_end()
            raise

    def __aiter__(self) -> _WatchedStream:
        return self

    async def __anext__(self) -> Any:
        import anyio

        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _WatchedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@asynccontextmanager
async def _watched(transport: Any, on_end: Callable[[], None]) -> AsyncIterator[tuple[Any, Any]]:
    async with transport as (read, write):
        yield _WatchedStream(read, on_end), write


class McpSession:
    """A connection to one MCP server.

    Args:
        name: The server's name in the config.
        config: How to reach it, and its timeouts.
        on_tools_changed: Called (in the owner task's loop) when the server says its tool,
            resource or prompt list changed (after the new list is read): what the tools
            offer the model changed.
        roots: The folders offered to the server as the client's roots (`roots/list`); None
            declares no roots capability.
        on_log: Told of each log message the server sends (`notifications/message`).
        log_level: The least severe level the server is asked to send.
        asks: Answers the server's sampling and elicitation requests; None declares
            neither capability.
        transport: Opens the connection instead of the config's command or URL, afresh at
            each start: an MCP SDK `Transport` (the SDK's `InMemoryTransport` of a server in
            this process, say). The config's timeouts and tool filters still apply.
    """

    def __init__(
        self,
        name: str,
        config: ServerConfig,
        *,
        on_tools_changed: Callable[[McpSession], Awaitable[None]] | None = None,
        roots: Roots | None = None,
        on_log: LogHandler | None = None,
        log_level: str = DEFAULT_MCP_LOG_LEVEL,
        asks: McpAsks | None = None,
        transport: Callable[[], Any] | None = None,
    ) -> None:
        self.name = name
        self.asks = asks
        self.transport = transport
        self.config = config
        self.on_tools_changed = on_tools_changed
        self.roots = roots
        self.on_log = on_log
        self.log_level = log_level
        self.instructions: str | None = None
        self.status: Status = "stopped"
        self.error: str | None = None
        self.tools: list[Any] = []
        self.catalog = Catalog()
        self.started_in: float | None = None
        self.restarts = 0
        self._client: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._gone: asyncio.Event | None = None
        self._closed_while_up = False  # close() was called while the server still ran
        self._stderr: TextIO | None = None
        self._warned_tools = False  # about include_tools/exclude_tools names it lacks
        self._lock: asyncio.Lock | None = None
        self.interactive: bool | None = None
        """Whether a person may authorize this server in a browser if it asks for OAuth (None:
        when agentkit runs at a terminal); see `agentkit.mcp.oauth`."""
        self.open_browser: Callable[[str], bool] | None = None
        """Shows that person the authorization page (None: `webbrowser.open`)."""
        self.oauth_login: Any = None
        """The `BrowserLogin` of this server's OAuth, once a connection was tried."""

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, initialize and list tools, within the server's `timeout`.

        Raises:
            McpServerError: It could not; the message has the command or URL, the error and
                the last lines the server wrote to stderr. Nothing is left running.
        """
        if self.config.problem is not None:
            self._fail(self.config.problem)
        self.status = "starting"
        began = time.monotonic()
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._stop, self._gone = asyncio.Event(), asyncio.Event()
        self._closed_while_up = False
        self._task = asyncio.create_task(self._own(ready), name=f"mcp:{self.name}")
        try:
            await self._until_ready(ready)
        except asyncio.TimeoutError:
            ready.cancel()
            self._task.cancel()  # its shutdown goes on in the background; close() awaits it
            self._fail(f"did not answer within {self.config.timeout:g} s (timeout)")
        except McpServerError:
            self.status = "failed"
            raise
        self.status = "ready"
        self.started_in = time.monotonic() - began

    async def _until_ready(self, ready: asyncio.Future[None]) -> None:
        """Wait for `ready` up to the server's `timeout`, not counting the time a person
        spends authorizing in the browser (which has its own timeout)."""
        deadline = time.monotonic() + self.config.timeout
        while True:
            try:
                await asyncio.wait_for(asyncio.shield(ready), max(0.0, deadline - time.monotonic()))
                return
            except asyncio.TimeoutError:
                waited, waiting = (
                    self.oauth_login.person_time() if self.oauth_login is not None else (0.0, False)
                )
                if not waited and not waiting:
                    raise
                deadline = max(deadline, time.monotonic()) + max(waited, 1.0 if waiting else 0.0)

    def _fail(self, reason: str) -> None:
        self.status = "failed"
        self.error = reason
        raise McpServerError(self._explain(reason))

    def _explain(self, reason: str) -> str:
        message = f"MCP server {self.name!r} ({self.config.describe()}): {reason}"
        tail = self.stderr_tail()
        if os.path.basename(self.config.command or "") in ("npx", "npm", "npx.cmd", "npm.cmd"):
            tail = condense_npm_errors(tail, list(self.config.args))
            hint = npm_prefix_hint(list(self.config.args))
            if hint is not None:
                message += f"; {hint}"
        if tail:
            message += "\n  its stderr ends with:\n    " + "\n    ".join(tail)
        return message

    async def _own(self, ready: asyncio.Future[None]) -> None:
        """The owner task: the only task that enters and leaves the SDK's contexts."""
        assert self._stop is not None and self._gone is not None
        gone = self._gone
        try:
            async with AsyncExitStack() as stack:
                client = await stack.enter_async_context(self._client_for(stack, gone.set))
                self.tools = await self._list_tools(client)
                self.catalog.declared = Catalog.kinds_of(client.server_capabilities)
                await self.catalog.refresh(client)
                self.instructions = client.instructions or None
                self._client = client
                listening = asyncio.get_running_loop().create_future()
                listener = asyncio.ensure_future(self._listen(client, listening))
                await listening
                ready.set_result(None)
                stop = asyncio.ensure_future(self._stop.wait())
                ended = asyncio.ensure_future(gone.wait())
                try:
                    await asyncio.wait({stop, ended}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stop.cancel()
                    ended.cancel()
                    listener.cancel()
                    with contextlib.suppress(BaseException):
                        await listener
        except BaseException as exc:  # reported through `ready`, or kept as `error`
            reason = self.config.redact(self._reason(exc))  # an HTTP error quotes the URL
            if not ready.done():
                ready.set_exception(McpServerError(self._explain(reason)))
            elif not self._stop.is_set():
                self.error = reason
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._client = None
            gone.set()

    def _reason(self, exc: BaseException) -> str:
        """Why the connection failed, with what to do about it where that is known."""
        config = self.config
        missing = [leaf for leaf in leaves(exc) if isinstance(leaf, FileNotFoundError)]
        if config.transport == "stdio" and missing:
            cwd = os.path.expanduser(config.cwd) if config.cwd else None
            if cwd is not None and not os.path.isdir(cwd):
                return f"working directory not found: {cwd} (the server's 'cwd')"
            return f"command not found: {config.command}; {not_found_hint(config)}"
        if config.transport != "stdio" and _refused(exc):
            return f"nothing answers at {config.url}: start the server there, or fix its 'url'"
        if config.transport != "stdio":
            from agentkit.mcp.oauth import oauth_problem

            problem = oauth_problem(self.name, leaves(exc))
            if problem is not None:
                return problem
        return describe_exception(exc)

    def _client_for(self, stack: AsyncExitStack, on_end: Callable[[], None]) -> Any:
        from mcp import Client

        config = self.config
        if self.transport is not None:
            transport = self.transport()
        elif config.transport == "stdio":
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            if self._stderr is None or self._stderr.closed:
                # Kept open past the connection, to quote when the server fails.
                self._stderr = cast(
                    TextIO,
                    tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace"),  # noqa: SIM115
                )
            params = StdioServerParameters(
                command=server_command(config),
                args=list(config.args),
                env=server_env(config),
                cwd=os.path.expanduser(config.cwd) if config.cwd else None,
            )
            transport = stdio_client(params, errlog=self._stderr)
        elif config.transport == "sse":
            from mcp.client.sse import sse_client

            transport = sse_client(
                config.url or "", headers=config.secret_headers(), timeout=config.timeout,
                sse_read_timeout=config.tool_timeout + MCP_STREAM_READ_MARGIN, auth=self._oauth(),
            )  # fmt: skip
        else:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            http = httpx2.AsyncClient(
                headers=config.secret_headers(),
                timeout=httpx2.Timeout(config.timeout, read=config.tool_timeout + MCP_STREAM_READ_MARGIN),
                auth=self._oauth(),
            )
            stack.push_async_callback(http.aclose)
            transport = streamable_http_client(config.url or "", http_client=http)
        return Client(
            _watched(transport, on_end),
            read_timeout_seconds=config.timeout,
            message_handler=self._on_message,
            list_roots_callback=self._list_roots if self.roots is not None else None,
            logging_callback=self._on_log,
            log_level=cast(Any, self.log_level),
            sampling_callback=self.asks.sampling_callback(self.name) if self.asks is not None else None,
            elicitation_callback=self.asks.elicitation_callback(self.name) if self.asks is not None else None,
            extensions=[tasks_extension()],
            mode=connect_mode(config),
        )

    def _oauth(self) -> Any:
        """The OAuth of a remote server (None where agentkit does not authorize)."""
        from agentkit.mcp.oauth import oauth_auth

        auth = oauth_auth(
            self.name, self.config, interactive=self.interactive, open_browser=self.open_browser
        )
        self.oauth_login = auth[1] if auth is not None else None
        return auth[0] if auth is not None else None

    async def _list_roots(self, context: Any) -> Any:
        from mcp import types

        folders = self.roots() if self.roots is not None else ()
        return types.ListRootsResult(
            roots=[types.Root(uri=folder.resolve().as_uri(), name=folder.name) for folder in folders]  # type: ignore[arg-type]
        )

    async def _on_log(self, params: Any) -> None:
        if self.on_log is not None:
            self.on_log(self, str(params.level), params.logger, params.data)

    async def _listen(self, client: Any, listening: asyncio.Future[None]) -> None:
        """Keep a subscription to list changes (tools, resources, prompts: those the server
        says it announces) open where the protocol needs one (2026-07-28); the changes
        themselves arrive through the message handler, in every protocol version."""
        capabilities = getattr(client, "server_capabilities", None)
        wanted = {
            f"{kind}_list_changed": True
            for kind in ("tools", "resources", "prompts")
            if getattr(getattr(capabilities, kind, None), "list_changed", False)
        }
        if not wanted:
            listening.set_result(None)
            return
        try:
            async with client.listen(**wanted) as subscription:
                listening.set_result(None)
                async for _ in subscription:
                    pass
        except Exception:  # an older protocol, or the stream dropped: no subscription
            pass
        finally:
            if not listening.done():
                listening.set_result(None)

    async def _list_tools(self, client: Any) -> list[Any]:
        tools: list[Any] = []
        cursor = None
        while True:
            page = await client.list_tools(cursor=cursor)
            tools += page.tools
            cursor = page.next_cursor
            if not cursor:
                break
        unmatched = self.config.unmatched_tools(t.name for t in tools)
        if unmatched is not None and not self._warned_tools:
            self._warned_tools = True
            warnings.warn(f"MCP server {self.name!r}: {unmatched}", McpConfigWarning, stacklevel=2)
        return [t for t in tools if self.config.wants_tool(t.name)]

    async def _on_message(self, message: Any) -> None:
        from mcp import types

        notification = getattr(message, "root", message)
        client = self._client
        if client is None:
            return
        if isinstance(notification, types.ToolListChangedNotification):
            try:
                self.tools = await self._list_tools(client)
            except Exception:  # keep the old list; the next call will tell
                return
        elif isinstance(notification, types.ResourceListChangedNotification):
            await self.catalog.refresh(client, ("resources", "templates"), fresh=True)
        elif isinstance(notification, types.PromptListChangedNotification):
            await self.catalog.refresh(client, ("prompts",), fresh=True)
        else:
            return
        if self.on_tools_changed is not None:
            await self.on_tools_changed(self)

    def stderr_tail(self, lines: int = STDERR_LINES) -> list[str]:
        """The last lines the server wrote to stderr (stdio servers), its secrets as `***`."""
        if self._stderr is None or self._stderr.closed:
            return []
        with contextlib.suppress(OSError, ValueError):
            self._stderr.flush()
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - 8192))
            text = self._stderr.read()
            self._stderr.seek(0, os.SEEK_END)
            return [self.config.redact(line.rstrip()) for line in text.splitlines() if line.strip()][-lines:]
        return []

    async def close(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Disconnect; a stdio server is stopped (stdin closed, then SIGTERM, then SIGKILL)."""
        task, self._task = self._task, None
        if task is None:
            return
        self._closed_while_up = self._gone is not None and not self._gone.is_set()
        if self._stop is not None:
            self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except asyncio.TimeoutError:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        except BaseException:  # its error was recorded already
            pass
        if self.status != "failed":
            self.status = "stopped"
        if self._stderr is not None:
            self._stderr.close()

    # -- calls --------------------------------------------------------------------------------

    async def call_tool(
        self, name: str, arguments: dict[str, Any], *, progress: Progress | None = None
    ) -> Any:
        """Call a tool; returns the SDK's `CallToolResult`.

        Raises:
            McpServerError: The server is down, died during the call (it is restarted once,
                for later calls), timed out, or answered with a protocol error.
        """
        from mcp.shared.exceptions import MCPError

        client = await self._ready_client()
        try:
            spec = next((tool for tool in self.tools if tool.name == name), None)
            if needs_task(client.protocol_version, spec):
                return await call_as_task(
                    client.session, name, arguments, progress=progress,
                    timeout=self.config.tool_timeout, poll_timeout=self.config.timeout,
                )  # fmt: skip
            async with follow_calls(progress, self.config.tool_timeout, poll_timeout=self.config.timeout):
                return await client.call_tool(
                    name,
                    arguments,
                    read_timeout_seconds=self.config.tool_timeout,
                    progress_callback=progress,
                )
        except TaskCallError as exc:
            if exc.timed_out:
                raise McpServerError(
                    f"{name} on MCP server {self.name!r} did not finish within "
                    f"{self.config.tool_timeout:g} s and was cancelled (task {exc.task_id})"
                ) from None
            raise McpServerError(f"MCP server {self.name!r}: {self.config.redact(str(exc))}") from None
        except MCPError as exc:
            late = f"{name} on MCP server {self.name!r} did not finish within {self.config.tool_timeout:g} s"
            raise self._failed(exc, name, late + " and was cancelled") from None

    async def request(self, what: str, send: Callable[[Any], Awaitable[Any]]) -> Any:
        """Send a request other than a tool call (`send` is given the SDK's `Client`), within
        the server's `timeout`; `what` names it in errors ("reading file:///x").

        Raises:
            McpServerError: As `call_tool` does.
        """
        from mcp.shared.exceptions import MCPError

        client = await self._ready_client()
        try:
            return await send(client)
        except MCPError as exc:
            late = f"MCP server {self.name!r} did not answer {what} within {self.config.timeout:g} s"
            raise self._failed(exc, what, late) from None

    def _failed(self, exc: Any, what: str, late: str) -> McpServerError:
        """The error for a request the server answered with an MCP error (`late`: what to
        say when it timed out)."""
        from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        if exc.code == REQUEST_TIMEOUT:
            return McpServerError(late)
        if exc.code == CONNECTION_CLOSED or (self._gone is not None and self._gone.is_set()):
            return McpServerError(self._died())
        reason = self.config.redact(exc.message)
        message = f"MCP server {self.name!r} refused {what}: {reason} (MCP error {exc.code})"
        return McpServerError(message + self._back_channel_hint(exc))

    def _back_channel_hint(self, exc: Any) -> str:
        """What to do when a server sent a request of its own mid-call (`ctx.elicit`,
        `ctx.session.create_message`) over a protocol that has no channel for it."""
        from mcp.types import INVALID_REQUEST
        from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

        version = getattr(self._client, "protocol_version", None)
        if exc.code != INVALID_REQUEST or BACK_CHANNEL_ERROR not in exc.message:
            return ""
        if version is None or version in HANDSHAKE_PROTOCOL_VERSIONS:
            return ""  # no channel even with the handshake (a stateless HTTP server, say)
        return (
            f"; the server asks with requests of its own mid-call, which protocol {version} has no "
            f'channel for: set "protocol": "legacy" for {self.name!r} in the MCP config'
        )

    def _died(self) -> str:
        failure = self.oauth_login.failure if self.oauth_login is not None else None
        if failure is not None:  # the server asked for authorization again (a wider scope, say)
            return f"MCP server {self.name!r} refused the call: {failure}"
        if self._closed_while_up:  # not a crash: the session was closed (the run or agent ended)
            return f"MCP server {self.name!r} was closed during the call, which did not finish"
        tail = self.stderr_tail(5)
        message = f"MCP server {self.name!r} stopped during the call"
        if tail:
            message += f" (its stderr ends with: {' | '.join(tail)})"
        if self.restarts == 0:
            return message + "; it is being restarted, so the call may be tried again"
        return message + "; it was restarted once already and is not restarted again"

    async def _ready_client(self) -> Any:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is not None and not (self._gone and self._gone.is_set()):
                return self._client
            if self.status == "ready" and self.restarts == 0:
                self.restarts += 1
                await self.close()
                try:
                    await self.start()
                except McpServerError as exc:
                    raise McpServerError(f"{exc} (restart after it stopped)") from None
                return self._client
            raise McpServerError(
                f"MCP server {self.name!r} is not running"
                + (f": {self.error}" if self.error else "")
                + ("; it stopped again after a restart" if self.restarts else "")
            )
