"""`Agent`: a Qwen3 model, its tools and its policies, and the ways to run it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentkit.backends import Backend, make_backend
from agentkit.backends.base import ExtraBody
from agentkit.builtins import builtin_tools
from agentkit.errors import AgentkitError, ConfigError
from agentkit.events import Event, RunFailed, RunStarted, ServerStatus
from agentkit.loop import Limits, collect_result, run_loop
from agentkit.messages import AssistantMessage, Message, SystemMessage, UserMessage, as_messages
from agentkit.result import RunResult
from agentkit.serving import profile_for
from agentkit.store import TranscriptWriter
from agentkit.thinking import PolicyLike, Sampling, resolve_policy
from agentkit.tools.scope import RunScope
from agentkit.tools.tool import Approval, FunctionTool, Tool
from agentkit.tools.toolbox import DEFAULT_TOOL_TIMEOUT, Approver, Toolbox

if TYPE_CHECKING:
    from agentkit.mcp.toolset import McpSource, McpToolset

WORKSPACE_BUILTINS = {"files", "python", "shell"}

__all__ = ["Agent"]


class Agent:
    """A Qwen3 agent: it thinks, calls tools, reads their results, and answers.

    Args:
        model: The served model name (e.g. "Qwen/Qwen3-4B"); None asks the server. Also picks
            the model's sampling presets.
        base_url: The server's API root (default `http://127.0.0.1:8000/v1`).
        backend: "completions" (default: agentkit renders and parses, `/v1/completions`),
            "chat" (the server renders and parses, `/v1/chat/completions`), or a backend
            object such as `ScriptedBackend`.
        tools: Tools, or plain typed functions (made tools as if by `@tool`).
        system_prompt: The system message that opens every conversation.
        thinking: "auto" (default), "on", "off", a `ThinkingPolicy`, or a callable
            `(StepContext) -> ThinkingDecision | bool`, asked before every model call.
        max_steps: Model calls per run.
        max_tokens: Completion tokens per run, over all steps (None: no limit).
        timeout: Seconds per run (None: no limit).
        sampling: Overrides of the model's sampling presets (both modes); set
            `Sampling(max_tokens=...)` to cap each model call.
        api_key: Bearer token for the server.
        client: An `openai.AsyncOpenAI` client to take the base URL and API key from.
        transport: "aiohttp" (default) or "httpx", or a transport object.
        tool_timeout: Seconds a tool call may run, for tools that set none.
        max_tool_concurrency: Calls of one turn run at once (None: all).
        deps: Anything your tools need; they get it as `ToolContext.deps`.
        extra_body: More request-body fields for the server (e.g. vLLM's
            `repetition_penalty`), or a function of the request that returns them.
        mcp: MCP servers whose tools the agent may use: config file path(s) in the
            `{"mcpServers": ...}` format, or an `McpConfig`. They start when a run starts
            (or on `async with agent`) and stop when it ends.
        mcp_strict: Fail a run when an MCP server does not start (default: go on
            without it, reporting it in a `ServerStatus` event).
        builtins: Built-in tool groups to enable: "files", "python", "shell", "fetch",
            "time", "calculator".
        workspace: The directory file, Python and shell tools are confined to (default: a
            fresh temporary directory per run).
        approval: Policy per tool name or glob pattern, "auto", "ask" or "deny", over each
            tool's default (Python, shell, file writes and destructive MCP tools ask).
        approve: Called with `(call, tool)` for each call whose policy is "ask" (may be
            async); True lets it run. Without it, such calls are refused.
        max_output_chars: Tool results longer than this reach the model cut to head and
            tail (default: the model's context length in characters, about a quarter of
            the window); transcripts keep the whole text.
        transcripts: A directory to write each run's events to, as JSON lines.
        allow_private_fetch: Let `fetch_url` reach loopback, private and link-local
            addresses (off by default).
    """

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        *,
        backend: str | Backend = "completions",
        tools: Iterable[Tool | Callable[..., Any]] = (),
        system_prompt: str | None = None,
        thinking: PolicyLike = "auto",
        max_steps: int = 20,
        max_tokens: int | None = None,
        timeout: float | None = None,
        sampling: Sampling | None = None,
        api_key: str | None = None,
        client: Any = None,
        transport: Any = None,
        tool_timeout: float = DEFAULT_TOOL_TIMEOUT,
        max_tool_concurrency: int | None = None,
        deps: Any = None,
        extra_body: ExtraBody = None,
        mcp: McpSource | None = None,
        mcp_strict: bool = False,
        builtins: Iterable[str] = (),
        workspace: str | Path | None = None,
        approval: Mapping[str, Approval] | None = None,
        approve: Approver | None = None,
        max_output_chars: int | None = None,
        transcripts: str | Path | None = None,
        allow_private_fetch: bool = False,
    ) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {max_steps}")
        self.model = model
        if isinstance(backend, str):
            self.backend = make_backend(
                backend,
                base_url=base_url,
                model=model,
                api_key=api_key,
                transport=transport,
                client=client,
                extra_body=extra_body,
            )
        else:
            if extra_body is not None:
                raise ValueError(
                    "extra_body configures a backend agentkit makes; pass it to your backend instead"
                )
            self.backend = backend
        profile = profile_for(model)
        self.builtins = tuple(builtins)
        self.toolbox = Toolbox(
            [
                *(t if isinstance(t, Tool) else FunctionTool(t) for t in tools),
                *builtin_tools(self.builtins, allow_private_fetch=allow_private_fetch),
            ],
            timeout=tool_timeout,
            max_concurrency=max_tool_concurrency,
            approval=approval,
            approver=approve,
            max_output_chars=max_output_chars or profile.context_length,
        )
        self.workspace = Path(workspace).expanduser().resolve() if workspace is not None else None
        self.transcripts = Path(transcripts) if transcripts is not None else None
        self.last_transcript: Path | None = None
        self.system_prompt = system_prompt
        self.thinking = thinking
        self._policy = resolve_policy(thinking)
        self.limits = Limits(max_steps=max_steps, max_tokens=max_tokens, timeout=timeout)
        self._presets = {
            True: profile.thinking.merged(sampling),
            False: profile.non_thinking.merged(sampling),
        }
        self.deps = deps
        self._active = 0
        self.mcp: McpToolset | None = None
        if mcp is not None:
            from agentkit.mcp.toolset import McpToolset

            self.mcp = McpToolset(mcp, strict=mcp_strict, on_change=lambda _: self._sync_mcp_tools())
        self._mcp_tools: list[str] = []
        self._mcp_running = False
        self._entered = False

    def sampling_for(self, think: bool) -> Sampling:
        """The sampling parameters of a thinking (True) or non-thinking (False) step."""
        return self._presets[think]

    def conversation(
        self, task: str, history: Sequence[Message | Mapping[str, Any]] | None = None
    ) -> list[Message]:
        """The messages a run starts from: system prompt, earlier turns (their thinking
        left out), and the task."""
        messages = [
            AssistantMessage(m.content, None, m.tool_calls) if isinstance(m, AssistantMessage) else m
            for m in as_messages(history or ())
        ]
        if self.system_prompt and not (messages and isinstance(messages[0], SystemMessage)):
            messages.insert(0, SystemMessage(self.system_prompt))
        messages.append(UserMessage(task))
        return messages

    async def stream(
        self, task: str, *, history: Sequence[Message | Mapping[str, Any]] | None = None
    ) -> AsyncIterator[Event]:
        """Run the task and yield every event as it happens.

        Args:
            task: The user's message.
            history: Earlier messages to continue from (e.g. a previous `RunResult.messages`).

        Raises:
            ModelUnreachable: No server answers at the base URL (a `RunFailed` event comes
                first).
            ModelError: The server answered with an error.
        """
        scope = RunScope(self.workspace)
        if WORKSPACE_BUILTINS & set(self.builtins):
            scope.workspace  # noqa: B018 - made now, so that RunStarted names it
        events = run_loop(
            backend=self.backend,
            toolbox=self.toolbox,
            messages=self.conversation(task, history),
            policy=self._policy,
            sampling=self.sampling_for,
            limits=self.limits,
            deps=self.deps,
            model=self.model,
            setup=self._start_mcp,
            scope=scope,
        )
        transcript: TranscriptWriter | None = None
        self._active += 1
        try:
            async for event in events:
                if isinstance(event, RunStarted) and self.transcripts is not None:
                    transcript = TranscriptWriter(self.transcripts, event.run_id)
                    self.last_transcript = transcript.path
                if transcript is not None:
                    transcript.write(event)
                yield event
        except AgentkitError as exc:
            failed = RunFailed(str(exc), type(exc).__name__)
            if transcript is not None:
                transcript.write(failed)
            yield failed
            raise
        finally:
            if transcript is not None:
                transcript.close()
            await scope.aclose()
            self._active -= 1
            if not self._active and not self._entered:  # the last run: release connections and servers
                await self._release()

    async def _start_mcp(self) -> list[Event]:
        """Start the MCP servers if they are not running; their status as events."""
        if self.mcp is None or self._mcp_running:
            return []
        reports = await self.mcp.start()
        self._mcp_running = True
        self._sync_mcp_tools()
        return [ServerStatus(r.name, r.target, r.ok, r.tools, r.seconds, r.error) for r in reports]

    def _sync_mcp_tools(self) -> None:
        """Put the running MCP servers' current tools in the toolbox."""
        for name in self._mcp_tools:
            self.toolbox.remove(name)
        self._mcp_tools = []
        if self.mcp is None or not self._mcp_running:
            return
        for item in self.mcp.tools():
            if item.name in self.toolbox:
                raise ConfigError(
                    f"the tool {item.remote_name!r} of MCP server {item.server.name!r} is named "
                    f"{item.name!r} here, like another tool of this agent; rename the server in the "
                    "MCP config or the other tool (@tool(name=...))"
                )
            self.toolbox.add(item)
            self._mcp_tools.append(item.name)

    async def _release(self) -> None:
        if self.mcp is not None and self._mcp_running:
            self._mcp_running = False
            self._sync_mcp_tools()
            await self.mcp.close()
        await self.backend.aclose()

    async def run(
        self, task: str, *, history: Sequence[Message | Mapping[str, Any]] | None = None
    ) -> RunResult:
        """Run the task to its end; see `stream` for the arguments and errors."""
        return await collect_result(self.stream(task, history=history))

    def run_sync(
        self, task: str, *, history: Sequence[Message | Mapping[str, Any]] | None = None
    ) -> RunResult:
        """`run` for code without an event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("Agent.run_sync() cannot run inside an event loop; use `await agent.run(...)`")

        return asyncio.run(self.run(task, history=history))

    async def aclose(self) -> None:
        """Stop the MCP servers and close the backend's connections (a run does this itself
        when it ends, unless the agent is used as `async with agent:`)."""
        self._entered = False
        await self._release()

    async def __aenter__(self) -> Agent:
        """Start the MCP servers now and keep them (and connections) for every run inside."""
        self._entered = True
        await self._start_mcp()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
