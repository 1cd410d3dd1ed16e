"""`Agent`: a Qwen3 model, its tools and its policies, and the ways to run it."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import inspect
import os
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

from agentkit.backends import Backend, make_backend
from agentkit.backends.base import ExtraBody, StructuredOutputs, check_structured_outputs
from agentkit.backends.retry import RetryPolicy
from agentkit.builtins import builtin_tools
from agentkit.context import ContextPolicy
from agentkit.defaults import DEFAULT_BATCH_CONCURRENCY, RUNS_DIR_ENV, TELEMETRY_ENV
from agentkit.errors import AgentkitError, ConfigError
from agentkit.events import Event, McpLog, RunFailed, RunFinished, ServerStarting, ServerStatus
from agentkit.limits import Limits, Timeouts, with_call_cap
from agentkit.loop import collect_result, run_loop
from agentkit.messages import AssistantMessage, Message, SystemMessage, UserMessage, as_messages
from agentkit.output import OutputSpec, OutputType, answer_instruction, output_spec
from agentkit.profiles import profile_for
from agentkit.result import Resume, RunResult
from agentkit.sandbox import SandboxMode, SandboxPolicy
from agentkit.store import SavedRun, TranscriptWriter, default_runs_dir, find_run, load_run
from agentkit.thinking import PolicyLike, Sampling, StepContext, ThinkingDecision, model_policy
from agentkit.tools.scope import RunScope
from agentkit.tools.tool import Approval, FunctionTool, Tool
from agentkit.tools.toolbox import Approver, Toolbox

if TYPE_CHECKING:
    from agentkit.batch import BatchProgress, BatchResult, TaskLike
    from agentkit.mcp.asks import Elicitor, McpAsks, SamplingApprover
    from agentkit.mcp.config import McpConfig
    from agentkit.mcp.toolset import McpSource, McpToolset
    from agentkit.telemetry import RunTracer, TelemetryLike

WORKSPACE_BUILTINS = {"files", "python", "shell"}

__all__ = ["Agent"]


class Agent:
    """A Qwen3 agent: it thinks, calls tools, reads their results, and answers.

    Args:
        model: The served model name (e.g. "Qwen/Qwen3-4B"); None asks the server. Also picks
            the model's sampling presets.
        base_url: The server's API root (default `http://127.0.0.1:8000/v1`), or a list of
            several servers of the same model: each run stays on one (its prefix cache), new
            runs go to the least busy, a failing server is set aside for a while.
        backend: "completions" (default: agentkit renders and parses, `/v1/completions`),
            "chat" (the server renders and parses, `/v1/chat/completions`), or a backend
            object such as `ScriptedBackend`.
        tools: Tools, or plain typed functions (made tools as if by `@tool`).
        system_prompt: The system message that opens every conversation.
        thinking: "auto" (default), "on", "off", a `ThinkingPolicy`, or a callable
            `(StepContext) -> ThinkingDecision | bool`, asked before every model call. A
            model with one mode keeps it: Qwen3-Instruct-2507 never thinks and
            Qwen3-Thinking-2507 always does (a `ThinkingModeWarning` says so when the policy
            asks for the other mode).
        max_tokens: Completion tokens per model call (default: what the context window
            leaves); short for `sampling=Sampling(max_tokens=...)`. The whole run's tokens
            are capped by `Limits(max_run_tokens=...)`.
        limits: Where each run stops if the model does not answer first: steps, tokens
            over the run, wall-clock time, a model repeating itself (`Limits`; default
            `Limits()`). A run can set its own (`run(task, limits=...)`).
        timeouts: How long each wait may last: connecting to the model server, a silent
            response, a tool call, a person answering an MCP server (`Timeouts`; default
            `Timeouts()`).
        sampling: Overrides of the model's sampling presets (both modes).
        api_key: Bearer token for the server.
        client: An `openai.AsyncOpenAI` client to take the base URL and API key from.
        transport: "aiohttp" (default) or "httpx", or a transport object.
        retry: How failed model requests are retried (`RetryPolicy(attempts=...,
            total_time=...)`; `RetryPolicy(attempts=1)` never retries).
        context: How the prompt is kept inside the model's window (`ContextPolicy`:
            window, output reserve, compaction target), or a window size in tokens.
        max_tool_concurrency: Calls of one turn run at once (None: all).
        deps: Anything your tools need; they get it as `ToolContext.deps`.
        extra_body: More request-body fields for the server (e.g. vLLM's
            `repetition_penalty`), or a function of the request that returns them.
        mcp: MCP servers whose tools the agent may use: config file path(s), a dict in
            a config file's shape (`{"mcpServers": ...}`, or VS Code's `{"servers": ...}`),
            or an `McpConfig`. They start when a run starts (or on `async with agent`) and
            stop when it ends. None: the default config, `$AGENTKIT_MCP_CONFIG` or
            `mcp.json` in the user's config folder, if there is one; False: no servers.
        mcp_strict: Fail a run when an MCP server does not start (default: go on
            without it, reporting it in a `ServerStatus` event).
        builtins: Built-in tool groups to enable: "files", "python", "shell", "fetch",
            "time", "calculator".
        workspace: The directory file, Python and shell tools are confined to (default: a
            fresh temporary directory per run).
        approval: Policy per tool name or glob pattern, "auto", "ask" or "deny", over each
            tool's default (Python, shell, file writes and destructive MCP tools ask).
        approve: Called with `(call, tool)` for each call whose policy is "ask" (may be
            async); True lets it run, False refuses it, None says no one could be asked.
            Without it, such calls are refused.
        on_sampling: Called with a `SamplingRequest` when an MCP server asks for a message
            from the agent's model (may be async); True lets the model answer it (without
            thinking unless the request's metadata says `"thinking": true`). Without it,
            such requests are refused.
        on_elicitation: Called with an `ElicitationRequest` when an MCP server asks the
            person for something (may be async); returns an `ElicitationAnswer`. Without it,
            a form whose required fields all have defaults is accepted with them, and other
            requests are declined. An accepted URL request opens the page in the browser.
        max_output_chars: Tool results longer than this reach the model cut to head and
            tail (default: the model's context length in characters, about a quarter of
            the window); transcripts keep the whole text.
        transcripts: Where each run's transcript goes, as it runs: True (default) for the
            runs directory (`$AGENTKIT_RUNS_DIR`, else the user's data directory), a
            directory, or False for none (such runs cannot be resumed).
        metadata: More facts to keep on each transcript's first line (the CLI keeps its
            options there, to resume a run with them).
        allow_private_fetch: Let `fetch_url` reach loopback, private and link-local
            addresses (off by default).
        sandbox: How `run_python` and `run_shell` confine the code the model writes:
            "auto" (default: bubblewrap where it works, else process limits only and a
            `SandboxWarning`), "required" (no sandbox: the tools refuse to run), "off", or
            a `SandboxPolicy`.
        sandbox_network: Network inside the sandbox: False (default: none), True (the
            host's networking), or the names of the tools that get it.
        output_type: The answer's type: a pydantic model, any type pydantic's `TypeAdapter`
            takes (`list[Item]`, a dataclass, a `TypedDict`), or a JSON schema dict. The
            model is told its schema, a server that can (vLLM) constrains the answer to it
            (tools stay usable before the answer, and thinking stays free), and
            `RunResult.output` is the validated object (`RunResult.text` its JSON). A run
            can set its own (`run(task, output_type=...)`).
        structured_outputs: How the answer is made to match the output type: "auto"
            (default: the server constrains it where it is known to, vLLM; else it is
            checked and sent back), "server" (always ask the server), or "validate"
            (never ask: check and send back).
        telemetry: Trace each run with OpenTelemetry (`pip install 'agentkit[otel]'`):
            True, a `TracerProvider`, or a `Telemetry` (content capture, agent name); None
            (default): when `AGENTKIT_OTEL=1`. Spans: `invoke_agent` per run, `chat` or
            `text_completion` per model call, `execute_tool` per tool call, with the GenAI
            semantic conventions' attributes (see `agentkit.telemetry`).
    """

    def __init__(
        self,
        model: str | None = None,
        base_url: str | Sequence[str] | None = None,
        *,
        backend: str | Backend = "completions",
        tools: Iterable[Tool | Callable[..., Any]] = (),
        system_prompt: str | None = None,
        thinking: PolicyLike = "auto",
        max_tokens: int | None = None,
        limits: Limits | None = None,
        timeouts: Timeouts | None = None,
        sampling: Sampling | None = None,
        api_key: str | None = None,
        client: Any = None,
        transport: Any = None,
        retry: RetryPolicy | None = None,
        context: ContextPolicy | int | None = None,
        max_tool_concurrency: int | None = None,
        deps: Any = None,
        extra_body: ExtraBody = None,
        mcp: McpSource | Mapping[str, Any] | Literal[False] | None = None,
        mcp_strict: bool = False,
        builtins: Iterable[str] = (),
        workspace: str | Path | None = None,
        approval: Mapping[str, Approval] | None = None,
        approve: Approver | None = None,
        on_sampling: SamplingApprover | None = None,
        on_elicitation: Elicitor | None = None,
        max_output_chars: int | None = None,
        transcripts: str | Path | bool = True,
        allow_private_fetch: bool = False,
        metadata: Mapping[str, Any] | None = None,
        sandbox: SandboxMode | SandboxPolicy = "auto",
        sandbox_network: bool | Iterable[str] = False,
        output_type: OutputType | None = None,
        structured_outputs: StructuredOutputs = "auto",
        telemetry: TelemetryLike = None,
        **moved: NoReturn,  # the settings that moved into Limits and Timeouts: told where
    ) -> None:
        if moved:
            raise TypeError(_moved_settings(moved))
        self._tracer = _tracer(telemetry)  # first: a missing package is said before anything starts
        self.limits = _settings(limits, Limits, "limits")
        self.timeouts = timeouts = _settings(timeouts, Timeouts, "timeouts")
        sampling = with_call_cap(max_tokens, sampling)
        self.model = model
        self.output_type = output_type
        self._output = _spec(output_type)
        if isinstance(backend, str):
            self.backend = make_backend(
                backend,
                base_url=base_url,
                model=model,
                api_key=api_key,
                transport=transport,
                client=client,
                extra_body=extra_body,
                connect_timeout=timeouts.connect,
                idle_timeout=timeouts.idle,
                set_aside=timeouts.set_aside,
                retry=retry,
                structured_outputs=check_structured_outputs(structured_outputs),
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
                *(t if isinstance(t, Tool) else FunctionTool(_function(t)) for t in tools),
                *builtin_tools(self.builtins, allow_private_fetch=allow_private_fetch),
            ],
            timeout=timeouts.tool,
            max_concurrency=max_tool_concurrency,
            approval=approval,
            approver=approve,
            max_output_chars=max_output_chars or profile.context_length,
        )
        self.workspace = Path(workspace).expanduser().resolve() if workspace is not None else None
        self.sandbox = SandboxPolicy.of(sandbox, sandbox_network)
        if not isinstance(self.sandbox.network, bool):
            coders = sorted(t.name for t in self.toolbox if getattr(t, "runs_code", False))
            unknown = sorted(self.sandbox.network - set(coders))
            if unknown:
                have = ", ".join(coders) or "none (enable them: builtins=['python', 'shell'])"
                raise ValueError(
                    f"sandbox_network names {', '.join(unknown)}, which this agent has no tool of that "
                    f"runs code; its tools that run code: {have}"
                )
        self.transcripts: Path | None = (
            default_runs_dir() if transcripts is True else None if transcripts is False else Path(transcripts)
        )
        self.last_transcript: Path | None = None
        self.metadata = dict(metadata or {})
        self.system_prompt = system_prompt
        self._profile = profile
        self.thinking = thinking
        self.context = context if isinstance(context, ContextPolicy) else ContextPolicy(window=context)
        self._window = profile.context_length
        self._presets = {
            True: profile.thinking.merged(sampling),
            False: profile.non_thinking.merged(sampling),
        }
        self.deps = deps
        self._active = 0
        self.mcp: McpToolset | None = None
        self._asks: McpAsks | None = None
        self._per_run_mcp: McpConfig | None = None  # servers each run starts for itself
        if mcp is None:
            from agentkit.mcp.config import default_mcp_config_path

            mcp = default_mcp_config_path()
        if mcp is not None and mcp is not False:
            from agentkit.mcp.asks import McpAsks
            from agentkit.mcp.config import parse_mcp_config
            from agentkit.mcp.toolset import McpToolset, mcp_config

            if isinstance(mcp, Mapping):
                mcp = parse_mcp_config(mcp, "Agent(mcp={...})")
            shared, own = mcp_config(mcp).split()
            self._asks = McpAsks(
                self.backend,
                model=model,
                presets=self.sampling_for,
                on_sampling=on_sampling,
                on_elicitation=on_elicitation,
                on_event=self._noted,
                timeout=timeouts.mcp_ask,
            )
            self.mcp = McpToolset(
                shared,
                strict=mcp_strict,
                on_change=lambda _: self._sync_mcp_tools(),
                roots=lambda: [w for run in self._listening for w in run.roots()],
                on_log=self._heard,
                asks=self._asks,
            )
            self._per_run_mcp = own if own.servers else None
        self._mcp_tools: list[str] = []
        self._listening: set[_RunMcp] = set()  # the runs going on, for their servers' roots and logs
        self._mcp_running = False
        self._mcp_lock: tuple[asyncio.Lock, asyncio.AbstractEventLoop] | None = None
        self._entered = False

    @property
    def thinking(self) -> PolicyLike:
        """The thinking policy; setting it applies from the next run (or chat turn) on."""
        return self._thinking

    @thinking.setter
    def thinking(self, policy: PolicyLike) -> None:
        self._policy = model_policy(policy, self._profile.thinks, self.model or self._profile.name)
        self._thinking = policy

    def sampling_for(self, think: bool) -> Sampling:
        """The sampling parameters of a thinking (True) or non-thinking (False) step."""
        return self._presets[think]

    def conversation(
        self,
        task: str,
        history: Sequence[Message | Mapping[str, Any]] | None = None,
        output: OutputSpec | None = None,
    ) -> list[Message]:
        """The messages a run starts from: system prompt (with the answer's schema, given
        an output type), earlier turns (their thinking left out), and the task."""
        messages = [
            AssistantMessage(m.content, None, m.tool_calls) if isinstance(m, AssistantMessage) else m
            for m in as_messages(history or ())
        ]
        if self.system_prompt and not (messages and isinstance(messages[0], SystemMessage)):
            messages.insert(0, SystemMessage(self.system_prompt))
        if output is not None:
            instruction = answer_instruction(output)
            first = messages[0] if messages and isinstance(messages[0], SystemMessage) else None
            if first is None:
                messages.insert(0, SystemMessage(instruction))
            elif instruction not in first.content:
                messages[0] = SystemMessage(first.content + "\n\n" + instruction)
        messages.append(UserMessage(task))
        return messages

    async def stream(
        self,
        task: str,
        *,
        history: Sequence[Message | Mapping[str, Any]] | None = None,
        output_type: OutputType | None = None,
        limits: Limits | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Run the task and yield every event as it happens.

        Args:
            task: The user's message.
            history: Earlier messages to continue from (e.g. a previous `RunResult.messages`).
            output_type: This run's answer type, instead of the agent's (see `Agent`).
            limits: This run's limits, instead of the agent's (see `Limits`).

        Raises:
            ConfigError: The task is empty or not valid text.
            ModelUnreachable: No server answers at the base URL.
            ModelError: The server failed, or refused the request, after retries. A
                `RunFailed` event comes first, and the error's `result` holds what the run
                had done (finished steps and messages).
        """
        check_task(task)
        output = _spec(output_type) if output_type is not None else self._output
        messages = self.conversation(task, history, output)
        limits = _settings(limits, Limits, "limits") if limits is not None else None
        async with contextlib.aclosing(
            self._drive(messages, task, uuid.uuid4().hex[:12], output=output, limits=limits)
        ) as inner:
            async for event in inner:
                yield event

    async def _stream_with(
        self,
        task: str,
        *,
        system_prompt: str | None = None,
        thinking: PolicyLike | None = None,
        limits: Mapping[str, Any] | None = None,
        sampling: Sampling | None = None,
        tag: Mapping[str, Any] | None = None,
        resume_from: SavedRun | None = None,
    ) -> AsyncGenerator[Event, None]:
        """`stream` with some of the agent's settings changed for this run alone (a batch's
        per-task options); the agent itself is not changed, so other runs go on as they were.

        `limits`: `Limits` fields to change (None values keep the agent's).
        `tag`: more facts for the transcript's first line (a batch names its task there).
        `resume_from`: a stopped run of this task to go on with instead of starting anew."""
        check_task(task)
        try:
            own = self.limits.override(**(limits or {}))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        presets = {think: preset.merged(sampling) for think, preset in self._presets.items()}
        options: dict[str, Any] = {
            "policy": (
                model_policy(thinking, self._profile.thinks, self.model or self._profile.name)
                if thinking is not None
                else None
            ),
            "limits": own,
            "sampling": presets.__getitem__,
        }
        if resume_from is not None:
            events = self._resumed(resume_from, None, **options)
        else:
            history = [SystemMessage(system_prompt)] if system_prompt is not None else None
            messages = self.conversation(task, history, self._output)
            run_id = uuid.uuid4().hex[:12]
            events = self._drive(messages, task, run_id, output=self._output, tag=tag, **options)
        async with contextlib.aclosing(events) as inner:
            async for event in inner:
                yield event

    async def resume_stream(
        self, run_id: str, *, output_type: OutputType | None = None
    ) -> AsyncGenerator[Event, None]:
        """Take up a run that stopped (killed, interrupted, failed, or at a limit) from its
        last finished step, and yield its events. Finished tool calls are not run again;
        a call that started and never finished is answered to the model as interrupted.

        Args:
            run_id: The run's id (or a unique start of it), from `agentkit runs list`.
            output_type: The answer's type (default: the agent's, else the JSON schema
                the run was started with).

        Raises:
            ConfigError: No such run in the runs directory, or it already answered.
        """
        if self.transcripts is None:
            raise ConfigError("this agent keeps no transcripts (transcripts=False), so it cannot resume runs")
        async with contextlib.aclosing(
            self._resumed(load_run(find_run(run_id, self.transcripts)), output_type)
        ) as inner:
            async for event in inner:
                yield event

    async def _resumed(
        self, saved: SavedRun, output_type: OutputType | None, **options: Any
    ) -> AsyncGenerator[Event, None]:
        """Go on with a saved run (`options`: `_drive`'s per-run policy, limits, sampling)."""
        if saved.status == "answer":
            raise ConfigError(
                f"run {saved.run_id} already answered; continue the conversation with "
                "history=result.messages instead"
            )
        if saved.status == "running":
            raise ConfigError(f"run {saved.run_id} is still running in another process")
        self.check_tools_of(saved)
        workspace = saved.config.get("workspace")
        saved_schema = saved.config.get("output_schema")
        output = (
            _spec(output_type)
            if output_type is not None
            else self._output or (_spec(saved_schema) if isinstance(saved_schema, dict) else None)
        )
        async with contextlib.aclosing(
            self._drive(
                saved.messages,
                saved.task,
                saved.run_id,
                resume=saved.resume,
                path=saved.path,
                workspace=Path(workspace) if workspace and self.workspace is None else None,
                output=output,
                **options,
            )
        ) as inner:
            async for event in inner:
                yield event

    def check_tools_of(self, saved: SavedRun) -> None:
        """Refuse to go on with a saved run whose tools this agent lacks (MCP tools aside:
        they are known once the servers run).

        Raises:
            ConfigError: Naming the missing tools.
        """
        missing = [name for name in saved.config.get("tools") or () if name not in self.toolbox]
        if missing and not self.mcp:
            raise ConfigError(
                f"run {saved.run_id} used tools this agent lacks: {', '.join(missing)}; resume it with an "
                "Agent that has them (the model's next prompt lists the tools)"
            )

    async def resume(self, run_id: str, *, output_type: OutputType | None = None) -> RunResult:
        """`resume_stream` to its end: the run's result."""
        return await collect_result(self.resume_stream(run_id, output_type=output_type))

    def resume_sync(self, run_id: str, *, output_type: OutputType | None = None) -> RunResult:
        """`resume` for code without an event loop."""
        _no_running_loop("resume_sync", "resume")
        return asyncio.run(self.resume(run_id, output_type=output_type))

    async def _drive(
        self,
        messages: list[Message],
        task: str,
        run_id: str,
        *,
        resume: Resume | None = None,
        path: Path | None = None,
        workspace: Path | None = None,
        output: OutputSpec | None = None,
        scope: RunScope | None = None,
        chat: bool = False,
        policy: Callable[[StepContext], ThinkingDecision] | None = None,
        limits: Limits | None = None,
        sampling: Callable[[bool], Sampling] | None = None,
        tag: Mapping[str, Any] | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Run the loop over `messages`, writing the transcript as it goes (with this run's
        own `policy`, `limits` or `sampling`, where given: a batch task's options; `tag`:
        more facts for the transcript's first line).

        `scope`: what the run's tool calls share, kept open for the caller (a chat's turns
        share one); None makes one for this run alone. `chat`: the run is a turn of a chat:
        its first line says so, and with `path` (and no `resume`) the turn is appended to the
        chat's transcript, opening with its user message.
        """
        limits = limits or self.limits
        owned = scope is None
        scope = scope or RunScope(workspace or self.workspace, self.sandbox)
        if WORKSPACE_BUILTINS & set(self.builtins):
            scope.workspace  # noqa: B018 - made now, so that RunStarted and the transcript name it
        transcript = None
        if self.transcripts is not None:
            transcript = self._open_transcript(self.transcripts, run_id, path, resume)
            if resume is None:
                config = {
                    **self._describe(scope, limits),
                    **({"chat": True} if chat else {}),
                    **(tag or {}),
                    **({"output_schema": output.schema} if output is not None else {}),
                }
                self._first_lines(transcript, path, run_id, task, messages, config)
        listening = _RunMcp(scope)
        self._listening.add(listening)
        toolbox, servers_up, own_servers = self._run_tools(listening)

        async def setup() -> list[Event]:
            events = await servers_up()
            _join_instructions(messages, self._mcp_instructions(own_servers))
            return events

        events = run_loop(
            backend=self.backend,
            toolbox=toolbox,
            messages=messages,
            policy=policy or self._policy,
            sampling=sampling or self.sampling_for,
            limits=limits,
            deps=self.deps,
            run_id=run_id,
            model=self.model,
            setup=setup,
            scope=scope,
            context=self.context,
            fallback_window=self._window,
            resume=resume,
            output=output,
            heard=listening.heard,
            cancel_grace=self.timeouts.tool_cancel_grace,
        )
        if self._tracer is not None:
            events = self._tracer.traced(
                events, run_id=run_id, backend=self.backend, model=self.model, messages=messages
            )
        self._active += 1
        try:
            async with contextlib.aclosing(_recorded(events, transcript)) as recorded:
                async for event in recorded:
                    yield event
        finally:
            self._listening.discard(listening)
            if transcript is not None:
                transcript.close()
            await events.aclose()
            await self._run_ended(own_servers, scope if owned else None)

    async def _run_ended(self, own_servers: Any, scope: RunScope | None) -> None:
        """Close what a run opened for itself (its own MCP servers, its scope), and after the
        last run of an agent not entered with `async with`, its connections and servers."""
        if own_servers is not None:
            await own_servers.close()
        if scope is not None:
            await scope.aclose()
        self._active -= 1
        if not self._active and not self._entered:
            await self._release()

    def _open_transcript(
        self, folder: Path, run_id: str, path: Path | None, resume: Resume | None
    ) -> TranscriptWriter:
        """The run's transcript, opened for writing (a resumed run's counts carried on)."""
        try:
            transcript = TranscriptWriter(folder, run_id, path=path)
        except OSError as exc:
            raise ConfigError(
                f"cannot write the run's transcript in {folder} ({exc.strerror or exc}); "
                f"pick another runs directory (--runs-dir, ${RUNS_DIR_ENV}), or Agent(transcripts=False)"
            ) from None
        if resume is not None:
            transcript.resumed()
            transcript.count_from(len(resume.steps), resume.usage)
        self.last_transcript = transcript.path
        return transcript

    @staticmethod
    def _first_lines(
        transcript: TranscriptWriter,
        path: Path | None,
        run_id: str,
        task: str,
        messages: list[Message],
        config: dict[str, Any],
    ) -> None:
        """How a new run's transcript opens: with the run's configuration and messages, or,
        for a chat's next turn (`path`: the chat's transcript), with the user's message."""
        if path is None:
            transcript.begin(run_id, task, messages, config)
        else:
            transcript.user_turn(messages[-1])

    def _describe(self, scope: RunScope, limits: Limits) -> dict[str, Any]:
        """The configuration a transcript keeps (no secrets: API keys and MCP env and
        headers are not in it)."""
        thinking = self.thinking if isinstance(self.thinking, str) else type(self.thinking).__name__
        server = getattr(self.backend, "server", None)
        return {
            "backend": getattr(self.backend, "name", type(self.backend).__name__),
            "base_url": getattr(self.backend, "base_urls", None) or getattr(server, "base_url", None),
            "model": self.model,
            "thinking": thinking,
            "tools": [t.name for t in self.toolbox],
            "builtins": list(self.builtins),
            "workspace": str(scope.workspace) if scope.has_workspace else None,
            "sandbox": self.sandbox.mode,
            "sandbox_network": sorted(n) if not isinstance(n := self.sandbox.network, bool) else n,
            "max_steps": limits.max_steps,
            "max_run_tokens": limits.max_run_tokens,
            "timeout": limits.timeout,
            **self.metadata,
        }

    def _run_tools(
        self, run: _RunMcp
    ) -> tuple[Toolbox, Callable[[], Awaitable[list[Event]]], McpToolset | None]:
        """A run's toolbox, what its setup starts, and its own MCP servers (per-run ones),
        if any: the agent's toolbox and shared servers alone when it has none."""
        if self._per_run_mcp is None:
            return self.toolbox, lambda: self._start_mcp(run.watch), None
        from agentkit.mcp.toolset import McpToolset

        own = McpToolset(
            self._per_run_mcp,
            strict=self.mcp.strict if self.mcp else False,
            roots=run.roots,
            on_log=run.log,
            asks=self._asks.heard_by(run.note) if self._asks is not None else None,
        )
        toolbox = self.toolbox.copy()

        async def setup() -> list[Event]:
            events = await self._start_mcp(run.watch)
            for item in self.toolbox:  # the shared servers' tools, now that they are up
                if item.name not in toolbox:
                    toolbox.add(item)
            await own.start(run.watch)
            for item in own.tools():
                if item.name in toolbox:
                    raise ConfigError(
                        f"the tool {item.name!r} of per-run MCP server {item.server.name!r} is named like "
                        "another tool of this agent; rename the server in the MCP config"
                    )
                toolbox.add(item)
            return events

        return toolbox, setup, own

    async def _start_mcp(
        self, watch: Callable[[Any, ServerStatus | None], None] | None = None
    ) -> list[Event]:
        """Start the MCP servers if they are not running, telling `watch` as each begins to
        start and as each is up or has failed. Runs that start together start them once (the
        others wait for that start, and hear nothing of it)."""
        if self.mcp is None or self._mcp_running:
            return []
        loop = asyncio.get_running_loop()
        if self._mcp_lock is None or self._mcp_lock[1] is not loop:
            self._mcp_lock = (asyncio.Lock(), loop)
        async with self._mcp_lock[0]:
            if self._mcp_running:
                return []
            check = getattr(self.backend, "check", None)
            if check is not None:
                await check()  # no model server: say so now, not after the MCP servers start
            await self.mcp.start(watch)
            self._mcp_running = True
        self._sync_mcp_tools()
        return []

    def _heard(self, session: Any, level: str, logger: str | None, data: Any) -> None:
        """A shared MCP server's log message: every run going on hears it."""
        for run in self._listening:
            run.log(session, level, logger, data)

    def _noted(self, event: Event) -> None:
        """A shared MCP server's sampling or elicitation request was answered: every run going
        on hears of it (as of its log messages)."""
        for run in self._listening:
            run.note(event)

    def _mcp_instructions(self, own: McpToolset | None) -> dict[str, str]:
        """The running MCP servers' instructions (from `initialize`), by server name."""
        shared = self.mcp.instructions() if self.mcp is not None and self._mcp_running else {}
        return {**shared, **(own.instructions() if own is not None else {})}

    def server_status(self) -> list[ServerStatus]:
        """How the MCP servers started, last time they did (empty before)."""
        return list(self.mcp.reports) if self.mcp is not None else []

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
        self,
        task: str,
        *,
        history: Sequence[Message | Mapping[str, Any]] | None = None,
        output_type: OutputType | None = None,
        limits: Limits | None = None,
    ) -> RunResult:
        """Run the task to its end; see `stream` for the arguments and errors."""
        return await collect_result(
            self.stream(task, history=history, output_type=output_type, limits=limits)
        )

    def run_sync(
        self,
        task: str,
        *,
        history: Sequence[Message | Mapping[str, Any]] | None = None,
        output_type: OutputType | None = None,
        limits: Limits | None = None,
    ) -> RunResult:
        """`run` for code without an event loop."""
        _no_running_loop("run_sync", "run")
        return asyncio.run(self.run(task, history=history, output_type=output_type, limits=limits))

    async def batch(
        self,
        tasks: Iterable[TaskLike],
        *,
        concurrency: int = DEFAULT_BATCH_CONCURRENCY,
        results: str | Path | None = None,
        retry_failed: bool = False,
        progress: BatchProgress | None = None,
    ) -> AsyncGenerator[BatchResult, None]:
        """Run many tasks, `concurrency` at a time, and yield each one's result as it
        finishes; a failed task is a result with its error, and the batch goes on. The MCP
        servers start once for the whole batch. The arguments and errors are those of
        `agentkit.batch.run_batch` (a task's fields: `BatchTask`); with a `results` file, a
        batch started again goes on where it stopped.
        """
        from agentkit.batch import run_batch

        async with contextlib.aclosing(
            run_batch(
                self,
                tasks,
                concurrency=concurrency,
                results=results,
                retry_failed=retry_failed,
                progress=progress,
            )
        ) as inner:
            async for result in inner:
                yield result

    def batch_sync(
        self,
        tasks: Iterable[TaskLike],
        *,
        concurrency: int = DEFAULT_BATCH_CONCURRENCY,
        results: str | Path | None = None,
        retry_failed: bool = False,
    ) -> list[BatchResult]:
        """`batch` for code without an event loop: the results of the tasks run now, in the
        order they finished."""
        _no_running_loop("batch_sync", "batch")

        async def collect() -> list[BatchResult]:
            return [
                r
                async for r in self.batch(
                    tasks, concurrency=concurrency, results=results, retry_failed=retry_failed
                )
            ]

        return asyncio.run(collect())

    async def aclose(self) -> None:
        """Stop the MCP servers and close the backend's connections (a run does this itself
        when it ends, unless the agent is used as `async with agent:`)."""
        self._entered = False
        await self._release()

    async def start_servers(self, on_event: Callable[[Event], None] | None = None) -> list[ServerStatus]:
        """Start the MCP servers now and keep them (and the model server's connections) for
        every run until `aclose`, as `async with agent:` does. `on_event` hears what a run
        that starts them yields: a `ServerStarting` as each server begins to start, and a
        `ServerStatus` as each is up or has failed (nothing, when they run already).

        Returns:
            How each server started (`server_status()`).

        Raises:
            ModelUnreachable: No model server answers (asked first, before any MCP server starts).
            McpServerError: With `mcp_strict`, a server did not start (the others are stopped).
        """
        self._entered = True
        watch = None if on_event is None else lambda session, report: on_event(_start_event(session, report))
        await self._start_mcp(watch)
        return self.server_status()

    async def __aenter__(self) -> Agent:
        """Start the MCP servers now and keep them (and connections) for every run inside."""
        await self.start_servers()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


_MOVED = {
    "max_steps": "limits=Limits(max_steps=...)",
    "max_run_tokens": "limits=Limits(max_run_tokens=...)",
    "timeout": "limits=Limits(timeout=...)",
    "max_repeats": "limits=Limits(max_repeats=...)",
    "max_malformed": "limits=Limits(max_malformed=...)",
    "output_retries": "limits=Limits(output_retries=...)",
    "connect_timeout": "timeouts=Timeouts(connect=...)",
    "idle_timeout": "timeouts=Timeouts(idle=...)",
    "tool_timeout": "timeouts=Timeouts(tool=...)",
}
"""Agent's former keyword arguments, and where each setting is given now."""

_ELSEWHERE = {
    "script": "a scripted model is backend=ScriptedBackend(turns) (from agentkit)",
    "tools_file": "tools=load_tools(path) (from agentkit) loads a tool file",
    "mcp_config": "mcp= takes the path of an MCP config file, or its servers as a dict",
}
"""CLI options a user may try as Agent keywords, and what Agent takes instead."""


def _tracer(telemetry: TelemetryLike) -> RunTracer | None:
    """The runs' tracer, if tracing is on; agentkit.telemetry is not even imported when off."""
    if telemetry is False or (telemetry is None and not os.environ.get(TELEMETRY_ENV, "").strip()):
        return None
    from agentkit.telemetry import tracer_for

    return tracer_for(telemetry)


def _moved_settings(given: Mapping[str, Any]) -> str:
    """The error for keyword arguments Agent does not take: where each moved one is given
    now, and for the others, that there is no such setting."""
    settings = [name for name in inspect.signature(Agent).parameters if name != "moved"]
    parts = []
    for name in given:
        if name in _MOVED:
            parts.append(f"{name}= is now {_MOVED[name]}")
        elif name in _ELSEWHERE:
            parts.append(f"Agent has no setting {name}=: {_ELSEWHERE[name]}")
        else:
            close = difflib.get_close_matches(name, settings, n=1)
            hint = f"did you mean {close[0]}=?" if close else "help(Agent) lists its settings"
            parts.append(f"Agent has no setting {name}= ({hint})")
    moved = " (Limits and Timeouts are imported from agentkit)" if any(n in _MOVED for n in given) else ""
    return "; ".join(parts) + moved


async def _recorded(
    events: AsyncGenerator[Event, None], transcript: TranscriptWriter | None
) -> AsyncGenerator[Event, None]:
    """A run's events, each written to its transcript (if it keeps one) as it passes, and the
    result, finished or failed, told where that transcript is; a cancelled run's transcript
    says it was interrupted."""
    where = str(transcript.path) if transcript is not None else None
    try:
        async for event in events:
            if isinstance(event, (RunFinished, RunFailed)) and event.result is not None:
                event.result.transcript = where
            if transcript is not None:
                transcript.write(event)
            yield event
    except asyncio.CancelledError as exc:
        if transcript is not None:
            transcript.interrupted(str(exc.args[0]) if exc.args else "cancelled")
        raise
    except AgentkitError as exc:
        if exc.result is not None:
            exc.result.transcript = where
        raise


class _RunMcp:
    """What a run offers its MCP servers (its workspace as their root) and what it hears from
    them (their log messages, their starts, and what they asked of the model and the person),
    to yield as events as it hears them."""

    def __init__(self, scope: RunScope) -> None:
        self.scope = scope
        self.heard: asyncio.Queue[Event] = asyncio.Queue()

    def roots(self) -> list[Path]:
        """The run's workspace, once it has one (none: the run has no root to offer)."""
        return [self.scope.workspace] if self.scope.has_workspace else []

    def hear(self, event: Event) -> None:
        """An event for the run's stream (the loop yields it as soon as it can)."""
        self.heard.put_nowait(event)

    def note(self, event: Event) -> None:
        """A server's sampling or elicitation request was answered."""
        self.hear(event)

    def log(self, session: Any, level: str, logger: str | None, data: Any) -> None:
        self.hear(McpLog(session.name, level, logger, data))

    def watch(self, session: Any, report: ServerStatus | None) -> None:
        self.hear(_start_event(session, report))


def _start_event(session: Any, report: ServerStatus | None) -> ServerStarting | ServerStatus:
    """A server begins to start (no report yet), or is up or has failed, as an event."""
    if report is None:
        return ServerStarting(session.name, session.config.describe())
    return report


def _join_instructions(messages: list[Message], instructions: Mapping[str, str]) -> None:
    """Add the MCP servers' instructions to the run's system message (once: a chat's next turn,
    or a resumed run, has them already)."""
    if not instructions:
        return
    block = "\n\n".join(
        f"Instructions from the MCP server {name!r}:\n{text.strip()}" for name, text in instructions.items()
    )
    first = messages[0] if messages and isinstance(messages[0], SystemMessage) else None
    if first is None:
        messages.insert(0, SystemMessage(block))
    elif block not in first.content:
        messages[0] = SystemMessage(first.content + "\n\n" + block)


def _no_running_loop(name: str, instead: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(f"Agent.{name}() cannot run inside an event loop; use `await agent.{instead}(...)`")


def check_task(task: str) -> None:
    """Refuse a task the model cannot be given: empty, or not valid text."""
    if not isinstance(task, str):
        raise ConfigError(f"the task must be text (str), got {type(task).__name__}")
    if not task.strip():
        raise ConfigError("the task is empty; say what the agent should do")
    try:
        task.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(task[exc.start])
        what = (
            f"the byte 0x{code - 0xDC00:02x}, which is not UTF-8"  # how Python keeps undecodable bytes
            if 0xDC80 <= code <= 0xDCFF
            else f"a lone surrogate (U+{code:04X})"
        )
        raise ConfigError(
            f"the task is not valid UTF-8 text: character {exc.start + 1} is {what}; it may come from "
            "a file in another encoding: convert it to UTF-8 first (iconv -t UTF-8)"
        ) from None


_Settings = TypeVar("_Settings", Limits, Timeouts)


def _settings(given: _Settings | None, kind: type[_Settings], name: str) -> _Settings:
    """`limits` or `timeouts` as given (None: the defaults), or a `TypeError` saying what it takes."""
    if given is None:
        return kind()
    if not isinstance(given, kind):
        raise TypeError(
            f"{name} must be a {kind.__name__}, got {type(given).__name__}: "
            f"Agent({name}={kind.__name__}(...)), imported from agentkit"
        )
    return given


def _spec(output_type: OutputType | None) -> OutputSpec | None:
    """An output type made ready, or a `ConfigError` saying what is wrong with it."""
    if output_type is None:
        return None
    try:
        return output_spec(output_type)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"output_type: {exc}") from None


def _function(item: Any) -> Callable[..., Any]:
    if not callable(item):
        raise TypeError(
            f"tools must be functions or Tool objects, got {item!r} ({type(item).__name__}); "
            "decorate a function with @agentkit.tool, or pass the function itself"
        )
    return item  # type: ignore[no-any-return]
