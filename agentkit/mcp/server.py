"""An agent served over MCP: `agentkit mcp serve` offers it to MCP clients as one tool.

The tool takes a task (and, optionally, whether to think), runs it with the agent, reports
each step as an MCP progress notification, and returns the answer (with the agent's output
schema: as structured content too). A client's `notifications/cancelled` stops the run; its
transcript records it as interrupted. The agent's MCP servers start once for the serving
process and are shared by every call; calls run at once up to a bound.

Tools that need approval cannot be asked about at a terminal (stdin is the protocol, or
there is none): `approve_all` (`--yes`) approves them; otherwise a client on a protocol
that carries `elicitation/create` requests (before 2026-07-28) and that declared form
elicitation is asked, and any other client's call is refused (the model hears that it was
not approved). `--allow TOOL` runs a tool without asking.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.tools import Tool as ServerTool
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

from agentkit import __version__
from agentkit.defaults import DEFAULT_SERVE_CANCEL_GRACE, DEFAULT_SERVE_CONCURRENCY
from agentkit.errors import AgentkitError, ConfigError
from agentkit.events import (
    Event,
    OutputRejected,
    RunFinished,
    ServerStatus,
    StepStarted,
    ToolCallFinished,
    ToolProgress,
    TurnFinished,
)
from agentkit.messages import ToolCall
from agentkit.output import output_spec
from agentkit.result import STOP_REASONS, RunResult
from agentkit.thinking import Always, Never

if TYPE_CHECKING:
    from agentkit.agent import Agent

__all__ = ["DEFAULT_TOOL_NAME", "LOOPBACK_HOSTS", "AgentServer", "ClientApprover", "log_to_stderr"]

DEFAULT_TOOL_NAME = "run_agent"
CANCELLED = "cancelled by the MCP client"
"""The reason a cancelled run's transcript gives."""
STOPPED = "the MCP server was stopped"
"""The reason of a run stopped because the serving process stops (a signal)."""
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

log = logging.getLogger("agentkit.mcp.serve")

_request: contextvars.ContextVar[Context[Any, Any] | None] = contextvars.ContextVar(
    "agentkit_mcp_request", default=None
)
"""The MCP request a run serves, for its approver (a run's tool calls inherit it)."""


class ClientApprover:
    """Decides on calls whose policy is "ask" when no terminal can be asked.

    Args:
        approve_all: Approve every such call (`--yes`).
    """

    def __init__(self, approve_all: bool = False) -> None:
        self.approve_all = approve_all

    async def __call__(self, call: ToolCall, tool: Any) -> bool | None:
        if self.approve_all:
            return True
        ctx = _request.get()
        if ctx is not None and _can_elicit(ctx):
            arguments = json.dumps(call.arguments, ensure_ascii=False)
            try:
                answer = await ctx.session.elicit_form(
                    f"The agent wants to run the tool {call.name} with {_clip(arguments, 2000)}. Allow it?",
                    {"type": "object", "properties": {}},
                    related_request_id=ctx.request_id,
                )
            except Exception as exc:  # the client failed to answer: no one allowed it
                log.warning("%s: asking the client to approve it failed (%s): refused", call.name, exc)
                return False
            said = {"accept": "allowed", "decline": "refused", "cancel": "dismissed"}.get(answer.action)
            log.warning("%s: the client %s running it", call.name, said or answer.action)
            return bool(answer.action == "accept")
        log.warning(
            "%s needs approval and this client cannot be asked (no form elicitation on its protocol): "
            "refused; start agentkit mcp serve with --yes, or --allow %s",
            call.name,
            call.name,
        )
        return None  # no one could be asked (the model hears so)


def _can_elicit(ctx: Context[Any, Any]) -> bool:
    """Whether the client can be asked mid-call: it declared form elicitation, and its
    protocol still has server-initiated `elicitation/create` requests."""
    capabilities = ctx.client_capabilities
    asks = capabilities is not None and capabilities.elicitation is not None
    form = asks and (capabilities.elicitation.form is not None or capabilities.elicitation.url is None)  # type: ignore[union-attr]
    legacy = ctx.session.protocol_version not in MODERN_PROTOCOL_VERSIONS
    return bool(form and legacy and ctx.session.can_send_request)


@dataclass
class _Progress:
    """A call's progress notifications, the value rising with each (as the protocol asks)
    towards the step limit: a step's start at n - 0.75, its turn written at n - 0.25, and its
    tool calls' progress and ends after that, before the next step's start.

    Told in the order a person reads: a call that ended while the model was still writing
    (one refused at once) is told after the turn that made it; with an output type (`checked`),
    an answer is told once it is judged: answered, or rejected and asked again."""

    ctx: Context[Any, Any]
    max_steps: int
    checked: bool = False
    _notes: int = 0
    _last: float = -1.0
    _writing: bool = False  # between a step's start and its turn's end
    _early: list[tuple[int, str]] = field(default_factory=list)  # told while writing, for after
    _judged: int | None = None  # the step whose answer waits for its check

    async def hear(self, event: Event) -> None:
        """Tell the client what `event` means for the run's progress, if anything."""
        if isinstance(event, StepStarted):
            self._writing = True
            await self.started(event.step, "thinking" if event.decision.think else "writing")
        elif isinstance(event, TurnFinished):
            self._writing = False
            calls = [c.name for c in event.calls if isinstance(c, ToolCall)]
            if calls:
                await self.turn(event.step, f"calling {', '.join(calls)}")
            elif self.checked:
                self._judged = event.step
            else:
                await self.turn(event.step, "answered")
            early, self._early = self._early, []
            for step, message in early:
                await self.note(step, message)
        elif isinstance(event, OutputRejected):
            self._judged = None
            await self.turn(event.step, f"answer rejected: {_clip(event.error, 300)}; asked again")
        elif isinstance(event, ToolProgress):
            done = f"{event.progress:g}" + (f"/{event.total:g}" if event.total else "")
            await self._told(event.step, f"{event.tool}: {event.message or done}")
        elif isinstance(event, ToolCallFinished) and isinstance(event.call, ToolCall):
            outcome = "failed" if event.result.is_error else "done"
            await self._told(event.step, f"{event.call.name} {outcome} in {event.duration:.1f} s")
        elif isinstance(event, RunFinished) and self._judged is not None:
            result = event.result
            said = "answered" if result.ok else f"answer rejected: {_clip(result.error or '', 300)}"
            await self.turn(self._judged, said)

    async def _told(self, step: int, message: str) -> None:
        if self._writing:
            self._early.append((step, message))
        else:
            await self.note(step, message)

    async def started(self, step: int, message: str) -> None:
        self._notes = 0
        await self._send(step - 0.75, step, message)

    async def turn(self, step: int, message: str) -> None:
        await self._send(step - 0.25, step, message)

    async def note(self, step: int, message: str) -> None:
        self._notes += 1
        await self._send(step - 0.25 + 0.45 * self._notes / (self._notes + 1), step, message)

    async def _send(self, value: float, step: int, message: str) -> None:
        value = self._last = max(value, self._last + 0.001)  # a call can end before its turn does
        try:
            await self.ctx.report_progress(value, self.max_steps, f"step {step}: {message}")
        except Exception as exc:  # a client gone away: the run is cancelled, or goes on unheard
            log.debug("a progress notification was not sent: %s", exc)


class AgentServer:
    """An `Agent` as an MCP server with one tool that runs a task.

    Args:
        agent: The agent (its tools, MCP servers, model, limits and output type).
        name: The server's name, as clients show it.
        tool_name: The tool's name.
        concurrency: Runs at once; further calls wait for a slot.
        budget: The thinking budget of a call that asks to think.
        cancel_grace: Seconds a cancelled run may take to stop.
        verbose: Log more (every request, at info level) to stderr.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        name: str = "agentkit",
        tool_name: str = DEFAULT_TOOL_NAME,
        concurrency: int = DEFAULT_SERVE_CONCURRENCY,
        budget: int | None = None,
        cancel_grace: float = DEFAULT_SERVE_CANCEL_GRACE,
        verbose: bool = False,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.agent = agent
        self.tool_name = tool_name
        self.budget = budget
        self.cancel_grace = cancel_grace
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._runs: set[asyncio.Task[CallToolResult]] = set()
        self._http: Any = None  # the uvicorn server, while serve_http runs
        self._own_tools = [t.name for t in agent.toolbox]  # before its MCP servers add theirs
        schema = _output_schema(agent)
        self._wraps_output = schema is not None and schema.get("type") != "object"
        if self._wraps_output:
            schema = {"type": "object", "properties": {"result": schema}, "required": ["result"]}
        tool = ServerTool.from_function(
            self._call,
            name=tool_name,
            title="Run a task with a local Qwen3 agent",
            description=self._describe(),
            annotations=ToolAnnotations(read_only_hint=False, open_world_hint=True),
            structured_output=False,
        )
        tool.fn_metadata.output_schema = schema  # advertised; the agent checks its answers itself
        self._tool = tool
        self.server: MCPServer[Any] = MCPServer(
            name,
            title=f"{name}: a local Qwen3 agent",
            version=__version__,
            instructions=self._instructions(),
            tools=[tool],
            log_level="INFO" if verbose else "WARNING",
        )

    def _what(self) -> str:
        """What the agent is, in a sentence: its model, tools and MCP servers."""
        model = f" ({self.agent.model})" if self.agent.model else ""
        tools = self._own_tools
        servers = list(self.agent.mcp.sessions) if self.agent.mcp is not None else []
        failed = [s.name for s in self.agent.server_status() if not s.ok]
        up = [name for name in servers if name not in failed]
        parts = [f"tools {', '.join(tools)}" if tools else ""]
        if up:
            parts.append(f"the tools of the MCP servers {', '.join(up)}")
        having = " and ".join(p for p in parts if p) or "no tools"
        down = f" (the MCP servers {', '.join(failed)} did not start)" if failed else ""
        return f"a local Qwen3 agent{model} with {having}{down}"

    def _describe(self) -> str:
        limit = self.agent.limits.max_steps
        out = " Its answer is JSON matching the tool's output schema." if self.agent.output_type else ""
        return (
            f"Give a task to {self._what()}. It works on it in up to {limit} steps (thinking, calling "
            f"its tools) and returns its answer.{out} Say everything it needs in `task`: it does not "
            "see this conversation. `think`: true makes it reason before each step (slower, better on "
            "hard tasks), false answers directly; leave it out to let the agent decide."
        )

    def _instructions(self) -> str:
        return (
            f"This server is {self._what()}. Delegate self-contained tasks to it with the "
            f"{self.tool_name} tool; it reports each step as progress, and cancelling the call stops "
            "the run."
        )

    async def _call(
        self,
        task: Annotated[str, Field(description="The task, with everything the agent needs to do it.")],
        ctx: Context[Any, Any],
        think: Annotated[
            bool | None,
            Field(
                description="true: reason before each step; false: answer directly; omitted: agent decides."
            ),
        ] = None,
    ) -> CallToolResult:
        """Run the task (the tool's description is `_describe`'s)."""
        if self._slots.locked():
            await ctx.report_progress(0, None, f"waiting for a free slot ({self.concurrency} runs at once)")
        async with self._slots:
            token = _request.set(ctx)
            try:
                run = asyncio.create_task(self._run(task, think, ctx), name=f"mcp-serve:{ctx.request_id}")
            finally:
                _request.reset(token)
            self._runs.add(run)
            run.add_done_callback(self._runs.discard)
            try:
                return await asyncio.shield(run)
            except BaseException:
                if not run.done():
                    run.cancel(CANCELLED)
                    with anyio.CancelScope(shield=True), anyio.move_on_after(self.cancel_grace):
                        await asyncio.wait({run})
                    if not run.done():
                        log.warning("a cancelled run did not stop within %g s", self.cancel_grace)
                raise

    async def _run(self, task: str, think: bool | None, ctx: Context[Any, Any]) -> CallToolResult:
        progress = _Progress(ctx, self.agent.limits.max_steps, self.agent.output_type is not None)
        thinking = None if think is None else Always(self.budget) if think else Never()
        result: RunResult | None = None
        try:
            async for event in self.agent._stream_with(task, thinking=thinking):
                await progress.hear(event)
                if isinstance(event, RunFinished):
                    result = event.result
        except AgentkitError as exc:
            where = f" (transcript: {exc.result.transcript})" if exc.result and exc.result.transcript else ""
            return _error(f"{exc}{where}", exc.result)
        if result is None:
            return _error("the run ended without a result", None)
        if not result.ok:
            why = STOP_REASONS[result.stop_reason][1]
            detail = f": {result.error}" if result.error else ""
            return _error(
                f"the agent stopped without an answer after {len(result.steps)} step(s): {why}{detail}",
                result,
            )
        structured = None
        if self.agent.output_type is not None:
            value = result.output_json()
            structured = {"result": value} if self._wraps_output else value
        return CallToolResult(
            content=[TextContent(type="text", text=result.text)],
            structured_content=structured,
            _meta=_meta(result),
        )

    @contextlib.asynccontextmanager
    async def _agent_running(self) -> AsyncIterator[None]:
        """The agent's MCP servers started (in the background, so that the client's
        handshake does not wait) and kept for every call; stopped at the end."""

        async def start() -> None:
            try:
                # Started thus, the servers are kept between runs; a start that fails (no model
                # server yet) leaves the agent so, and the next run starts them.
                strict = self.agent.mcp is not None and self.agent.mcp.strict
                await self.agent.start_servers(lambda event: _log_start(event, strict))
                self._tool.description = self._describe()  # without the servers that did not start
            except AgentkitError as exc:
                log.warning("%s; the next call tries again", exc)
            except Exception:
                log.exception("starting the agent's MCP servers failed; the next call tries again")

        starting = asyncio.create_task(start(), name="mcp-serve:start")
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await asyncio.wait({starting}, timeout=self.cancel_grace)  # a start cut short leaks
                if not starting.done():
                    starting.cancel()
                    await asyncio.wait({starting})
                await self.agent.aclose()

    async def serve_stdio(self) -> None:
        """Serve on stdin and stdout until the client closes stdin.

        Cancelled (a signal), it stops the runs going on and the agent's MCP servers, then
        raises `CancelledError` without waiting for the SDK's stdin reader: that is a thread
        blocked in a read until the client writes or closes stdin, so the caller should exit
        the process then."""
        async with self._agent_running():
            serving = asyncio.create_task(self.server.run_stdio_async(), name="mcp-serve:stdio")
            try:
                await asyncio.shield(serving)
            except asyncio.CancelledError:
                serving.cancel()
                for run in list(self._runs):
                    run.cancel(STOPPED)
                if self._runs:
                    await asyncio.wait(set(self._runs), timeout=self.cancel_grace)
                raise

    async def serve_http(
        self, host: str, port: int, *, on_ready: Callable[[str], None] | None = None, verbose: bool = False
    ) -> None:
        """Serve streamable HTTP at `http://HOST:PORT/mcp` until `stop_http` (or cancelled).

        Args:
            host: The interface to listen on.
            port: The port; 0 picks a free one.
            on_ready: Called with the endpoint's URL once it listens.
            verbose: Log every HTTP request (to stderr).
        """
        import uvicorn

        app = self.server.streamable_http_app(host=host)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=verbose,
            lifespan="on",
            timeout_graceful_shutdown=int(self.cancel_grace),
        )
        server = self._http = uvicorn.Server(config)

        async def serve() -> None:
            with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind (and logs why)
                await server.serve()

        async with self._agent_running():
            serving = asyncio.create_task(serve())
            for _ in range(1000):  # uvicorn starts in well under a second; bounded all the same
                if server.started or serving.done():
                    break
                await asyncio.sleep(0.01)
            if not server.started:
                serving.cancel()
                await asyncio.wait({serving})
                raise ConfigError(
                    f"cannot listen on {host}:{port} (the error is above); is another server using the "
                    "port? Pick another with --http PORT (0: any free one)"
                )
            if on_ready is not None:
                bound = server.servers[0].sockets[0].getsockname()
                shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
                on_ready(f"http://{shown}:{bound[1]}/mcp")
            try:
                await asyncio.shield(serving)
            except asyncio.CancelledError:  # let uvicorn close its connections and lifespan first
                server.should_exit = True
                await asyncio.wait({serving}, timeout=self.cancel_grace)
                raise
            finally:
                self._http = None

    def stop_http(self) -> None:
        """Make `serve_http` return: it stops taking requests, gives the calls going on
        `cancel_grace` seconds, then stops the agent's MCP servers (for a signal handler)."""
        if self._http is not None:
            self._http.should_exit = True


def _log_start(event: Event, strict: bool) -> None:
    """Log how each of the agent's MCP servers started: a failed one, with why, as a warning
    (unless `strict`: then the start fails, and its error, logged next, says why)."""
    if not isinstance(event, ServerStatus):
        return
    if event.ok:
        count = len(event.tools)
        log.info(
            "MCP server %r ready: %d tool%s (%.1f s)", event.name, count, "s" * (count != 1), event.seconds
        )
    elif not strict:
        log.warning("%s\n  its tools are not offered: the agent goes on without it", event.error)


def _output_schema(agent: Agent) -> dict[str, Any] | None:
    return output_spec(agent.output_type).schema if agent.output_type is not None else None


def _meta(result: RunResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    facts = {"agentkit/run_id": result.run_id, "agentkit/transcript": result.transcript}
    return {key: value for key, value in facts.items() if value}


def _error(message: str, result: RunResult | None) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=message)], is_error=True, _meta=_meta(result)
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def log_to_stderr(verbose: bool) -> None:
    """Send agentkit's serve log to stderr (stdout is the protocol in stdio mode): how the
    agent's MCP servers started, and what went wrong; `verbose` adds the details."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("agentkit mcp serve: %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False
