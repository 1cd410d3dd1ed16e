"""The `agentkit` command line: typer for arguments, rich for rendering run events.

It holds no logic the Python API lacks: it builds an `Agent` and renders its events. The
answer goes to stdout; thinking, tool calls and status go to stderr, so
`agentkit run "..." > answer.txt` keeps just the answer.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from agentkit.errors import AgentkitError, ConfigError
from agentkit.events import (
    Event,
    RunFailed,
    RunFinished,
    RunStarted,
    ServerStatus,
    StepFinished,
    StepStarted,
    TextDelta,
    ThinkingDelta,
    ToolCallFinished,
    ToolCallStarted,
    ToolProgress,
    event_to_dict,
)
from agentkit.messages import ToolCallError

app = typer.Typer(
    name="agentkit",
    help="Run a locally served Qwen3 model as a tool-using agent.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Think(str, Enum):
    on = "on"
    off = "off"
    auto = "auto"


class BackendName(str, Enum):
    completions = "completions"
    chat = "chat"
    scripted = "scripted"


def load_tools(path: Path) -> list[Any]:
    """The tools a Python file defines: its `@tool` objects, or its `TOOLS` list."""
    from agentkit.tools.tool import Tool

    if not path.is_file():
        raise ConfigError(f"--tools {path}: no such file")
    spec = importlib.util.spec_from_file_location(f"agentkit_user_tools_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"--tools {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ConfigError(f"--tools {path}: importing it failed: {type(exc).__name__}: {exc}") from exc
    listed = getattr(module, "TOOLS", None)
    found = list(listed) if listed is not None else [v for v in vars(module).values() if isinstance(v, Tool)]
    if not found:
        raise ConfigError(
            f"--tools {path}: it defines no tools; decorate functions with @agentkit.tool "
            "or list them in TOOLS = [...]"
        )
    return found


class _Renderer:
    """Renders events for a person: thinking dimmed, calls and results, the answer."""

    def __init__(self, out: Console, err: Console, show_thinking: bool) -> None:
        self.out = out
        self.err = err
        self.show_thinking = show_thinking
        self.open_line: Console | None = None

    def pause(self) -> None:
        """End any line in progress (before a question on the terminal)."""
        self._break()

    def _break(self) -> None:
        if self.open_line is not None:
            self.open_line.print()
            self.open_line.file.flush()
            self.open_line = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepStarted):
            self._break()
            mode = "thinking" if event.decision.think else "no thinking"
            budget = f", budget {event.decision.budget}" if event.decision.budget else ""
            self.err.print(
                f"[bold cyan]●[/] step {event.step} · {mode}{budget} "
                f"[dim]({escape(event.decision.reason)})[/]"
            )
        elif isinstance(event, ThinkingDelta):
            if self.show_thinking:
                self.err.print(Text(event.text, style="dim italic"), end="")
                self.open_line = self.err
        elif isinstance(event, TextDelta):
            if self.open_line is self.err:
                self._break()
            self.out.print(Text(event.text), end="")
            self.out.file.flush()
            self.open_line = self.out
        elif isinstance(event, ToolCallStarted):
            self._break()
            args = json.dumps(event.call.arguments, ensure_ascii=False)
            self.err.print(f"[yellow]→[/] [bold]{escape(event.call.name)}[/] {escape(_clip(args, 200))}")
        elif isinstance(event, ToolCallFinished):
            self._break()
            name = event.call.name or "?" if isinstance(event.call, ToolCallError) else event.call.name
            mark = "[red]✗[/]" if event.result.is_error else "[green]←[/]"
            text = _clip(event.result.content.replace("\n", " ⏎ "), 300)
            self.err.print(f"{mark} {escape(name)} [dim]{event.duration:.2f}s[/] {escape(text)}")
        elif isinstance(event, RunStarted):
            if event.workspace:
                self.err.print(f"[dim]workspace: {escape(event.workspace)}[/]")
        elif isinstance(event, ToolProgress):
            self._break()
            total = f"/{event.total:g}" if event.total else ""
            note = f" {escape(event.message)}" if event.message else ""
            self.err.print(f"[dim]  … {escape(event.tool)} {event.progress:g}{total}{note}[/]")
        elif isinstance(event, ServerStatus):
            self._break()
            if event.ok:
                self.err.print(
                    f"[cyan]●[/] MCP server {escape(event.name)}: {len(event.tools)} tools "
                    f"[dim]({event.seconds:.1f}s)[/]"
                )
            else:
                self.err.print(
                    f"[yellow]⚠[/] {escape(event.error or event.name)} [dim](going on without it)[/]"
                )
        elif isinstance(event, StepFinished):
            self._break()
        elif isinstance(event, RunFinished):
            self._break()
            r = event.result
            usage = r.usage
            tokens = f" · {usage.prompt_tokens}+{usage.completion_tokens} tokens" if usage.requests else ""
            self.err.print(f"[dim]{len(r.steps)} step(s){tokens} · {r.stop_reason}[/]")
        elif isinstance(event, RunFailed):
            self._break()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fail(message: str, code: int = 1) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]agentkit:[/] {escape(message)}")
    return typer.Exit(code)


class _TerminalApprover:
    """Asks on the terminal before a call whose policy is "ask" runs (one question at a time)."""

    def __init__(self, err: Console, render: _Renderer, *, approve_all: bool) -> None:
        self.err = err
        self.render = render
        self.approve_all = approve_all
        self.always: set[str] = set()
        self.lock: asyncio.Lock | None = None

    async def __call__(self, call: Any, tool: Any) -> bool:
        if self.approve_all or call.name in self.always:
            return True
        if not sys.stdin.isatty():
            self.render.pause()
            self.err.print(
                f"[yellow]⚠[/] {escape(call.name)} needs approval and there is no terminal to ask: pass --yes"
            )
            return False
        self.lock = self.lock or asyncio.Lock()
        async with self.lock:
            self.render.pause()
            self.err.print(f"[bold yellow]?[/] [bold]{escape(call.name)}[/] wants to run:")
            for key, value in call.arguments.items():
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                self.err.print(f"  [cyan]{escape(key)}[/]: {escape(_clip(text, 2000))}")
            answer = await asyncio.to_thread(_ask, "Allow it? [y]es / [n]o / [a]lways for this tool: ")
        if answer.startswith("a"):
            self.always.add(call.name)
        return answer.startswith(("y", "a"))


def _ask(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower()


_STOP_MESSAGES = {
    "max_steps": "stopped after {steps} steps without an answer; raise --max-steps or simplify the task",
    "max_tokens": "stopped at the token limit without an answer",
    "timeout": "stopped at the time limit without an answer",
}


@dataclass
class _RunOptions:
    """What `agentkit run` was asked to do."""

    task: str
    base_url: str
    model: Optional[str]
    backend: BackendName
    think: Think
    budget: Optional[int]
    max_steps: int
    max_tokens: Optional[int]
    system: Optional[str]
    tools: list[Path]
    script: Optional[Path]
    api_key: Optional[str]
    extra_body: Optional[str]
    json_events: bool
    hide_thinking: bool
    mcp_config: list[Path]
    mcp_strict: bool
    builtins: list[str]
    workspace: Optional[Path]
    yes: bool
    allow: list[str]
    deny: list[str]
    transcript_dir: Optional[Path]
    allow_private_fetch: bool


@app.command()
def run(
    task: Annotated[str, typer.Argument(help="What the agent should do.")],
    base_url: Annotated[
        str, typer.Option(help="The model server's API root.", envvar="AGENTKIT_BASE_URL")
    ] = "http://127.0.0.1:8000/v1",
    model: Annotated[
        Optional[str],
        typer.Option(help="Served model name (default: the server's first).", envvar="AGENTKIT_MODEL"),
    ] = None,
    backend: Annotated[
        BackendName, typer.Option(help="completions: agentkit renders and parses; chat: the server does.")
    ] = BackendName.completions,
    think: Annotated[Think, typer.Option("--think", help="Thinking policy per step.")] = Think.auto,
    budget: Annotated[Optional[int], typer.Option(help="Thinking budget in tokens per step.")] = None,
    max_steps: Annotated[int, typer.Option(min=1, help="Model calls at most.")] = 20,
    max_tokens: Annotated[Optional[int], typer.Option(min=1, help="Tokens per model call at most.")] = None,
    system: Annotated[Optional[str], typer.Option(help="System prompt.")] = None,
    tools: Annotated[
        Optional[list[Path]], typer.Option("--tools", help="A Python file of @tool functions (repeatable).")
    ] = None,
    script: Annotated[
        Optional[Path], typer.Option(help="JSON list of model turns, for --backend scripted.")
    ] = None,
    api_key: Annotated[
        Optional[str], typer.Option(help="Bearer token for the server.", envvar="AGENTKIT_API_KEY")
    ] = None,
    extra_body: Annotated[
        Optional[str], typer.Option(help="JSON object of more request fields (server-specific options).")
    ] = None,
    mcp_config: Annotated[
        Optional[list[Path]],
        typer.Option("--mcp-config", help='MCP servers to use: a {"mcpServers": ...} file (repeatable).'),
    ] = None,
    mcp_strict: Annotated[
        bool, typer.Option("--mcp-strict", help="Fail when an MCP server does not start.")
    ] = False,
    builtin: Annotated[
        Optional[list[str]],
        typer.Option(
            "--builtin",
            help="Enable built-in tools: files, python, shell, fetch, time, calculator (repeatable).",
        ),
    ] = None,
    workspace: Annotated[
        Optional[Path],
        typer.Option(help="Folder the file, Python and shell tools work in (default: a fresh one)."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve every tool call that would ask.")] = False,
    allow: Annotated[
        Optional[list[str]],
        typer.Option("--allow", help="Run this tool (name or glob) without asking (repeatable)."),
    ] = None,
    deny: Annotated[
        Optional[list[str]], typer.Option("--deny", help="Never run this tool (name or glob) (repeatable).")
    ] = None,
    transcript_dir: Annotated[
        Optional[Path], typer.Option(help="Where run transcripts go (JSON lines).")
    ] = Path(".agentkit/runs"),
    allow_private_fetch: Annotated[
        bool,
        typer.Option(help="Let fetch_url reach this machine and private networks (off: public sites only)."),
    ] = False,
    json_events: Annotated[
        bool, typer.Option("--json", help="Print one JSON event per line instead.")
    ] = False,
    hide_thinking: Annotated[
        bool, typer.Option("--hide-thinking", help="Do not print the model's reasoning.")
    ] = False,
    serve: Annotated[
        bool, typer.Option("--serve", help="Start a vLLM server for this run if none answers at --base-url.")
    ] = False,
    serve_arg: Annotated[
        Optional[list[str]],
        typer.Option("--serve-arg", help="A vLLM argument for the server --serve starts (repeatable)."),
    ] = None,
    vllm_python: Annotated[
        Optional[str],
        typer.Option(help="Python interpreter that has vLLM (for --serve).", envvar="AGENTKIT_VLLM_PYTHON"),
    ] = None,
) -> None:
    """Run one task with a Qwen3 agent and print its answer."""
    options = _RunOptions(
        task, base_url, model, backend, think, budget, max_steps, max_tokens, system, tools or [], script,
        api_key, extra_body, json_events, hide_thinking, mcp_config or [], mcp_strict, builtin or [],
        workspace, yes, allow or [], deny or [], transcript_dir, allow_private_fetch,
    )  # fmt: skip
    server = None
    if serve and backend is not BackendName.scripted:
        server = _serve_for_run(base_url, model, vllm_python, serve_arg or [])
        if server is not None:
            # The server serves this one model; the backend asks it for the name clients use.
            options.base_url, options.model = server.base_url, None
    try:
        _run(options)
    finally:
        if server is not None:
            server.stop()


def _serve_for_run(base_url: str, model: Optional[str], vllm_python: Optional[str], args: list[str]) -> Any:
    """A managed server at `base_url` if none answers there yet (None if one does)."""
    from urllib.parse import urlsplit

    from agentkit.serving import ManagedServer, ServeConfig, server_answers

    if server_answers(base_url):
        return None
    parts = urlsplit(base_url)
    config = ServeConfig(
        model=model,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 8000,
        python=vllm_python,
        extra_args=tuple(args),
    )
    try:
        server = ManagedServer(config)
        _start_with_progress(server)
    except AgentkitError as exc:
        raise _fail(str(exc), 2) from None
    return server


def _start_with_progress(server: Any) -> None:
    err = Console(stderr=True, highlight=False)
    with err.status(f"Starting vLLM ({escape(server.model)}) …") as status:

        def progress(elapsed: float, line: str) -> None:
            status.update(
                f"Starting vLLM ({escape(server.model)}) … {elapsed:.0f}s [dim]{escape(_clip(line, 100))}[/]"
            )

        server.start(progress=progress)
    err.print(
        f"[green]●[/] vLLM ready at {server.base_url} in {server.started_in:.0f}s "
        f"[dim](log: {server.log_path})[/]"
    )


def _agent(options: _RunOptions, approver: Any = None) -> Any:
    """The agent `agentkit run` asked for."""
    from agentkit.agent import Agent
    from agentkit.thinking import Always, Auto, Never, Sampling, ThinkingPolicy

    loaded = [t for path in options.tools for t in load_tools(path)]
    if options.backend is BackendName.scripted:
        from agentkit.backends.scripted import ScriptedBackend, load_script

        if options.script is None:
            raise ConfigError("--backend scripted needs --script FILE (a JSON list of turns)")
        chosen: Any = ScriptedBackend(load_script(options.script))
    else:
        if options.script is not None:
            raise ConfigError("--script only goes with --backend scripted")
        chosen = options.backend.value
    extra = None
    if options.extra_body:
        try:
            extra = json.loads(options.extra_body)
        except ValueError as exc:
            raise ConfigError(f"--extra-body is not valid JSON: {exc}") from None
        if not isinstance(extra, dict):
            raise ConfigError("--extra-body must be a JSON object, e.g. '{\"repetition_penalty\": 1.05}'")
    policies: dict[Think, ThinkingPolicy] = {
        Think.on: Always(options.budget),
        Think.off: Never(),
        Think.auto: Auto(options.budget),
    }
    return Agent(
        model=options.model,
        base_url=options.base_url,
        backend=chosen,
        tools=loaded,
        system_prompt=options.system,
        thinking=policies[options.think],
        max_steps=options.max_steps,
        sampling=Sampling(max_tokens=options.max_tokens),
        api_key=options.api_key,
        extra_body=extra,
        mcp=options.mcp_config or None,
        mcp_strict=options.mcp_strict,
        builtins=options.builtins,
        workspace=options.workspace,
        approval={**dict.fromkeys(options.allow, "auto"), **dict.fromkeys(options.deny, "deny")},
        approve=approver,
        transcripts=options.transcript_dir,
        allow_private_fetch=options.allow_private_fetch,
    )


def _run(options: _RunOptions) -> None:
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    render = _Renderer(out, err, show_thinking=not options.hide_thinking)
    try:
        agent = _agent(options, _TerminalApprover(err, render, approve_all=options.yes))
    except (AgentkitError, ValueError, TypeError) as exc:
        raise _fail(str(exc), 2) from None

    async def main() -> Any:
        try:
            async for event in agent.stream(options.task):
                if options.json_events:
                    print(json.dumps(event_to_dict(event), ensure_ascii=False, default=str), flush=True)
                else:
                    render(event)
                if isinstance(event, RunFinished):
                    return event.result
        finally:
            await agent.aclose()
        return None

    try:
        result = asyncio.run(main())
    except AgentkitError as exc:
        raise _fail(str(exc), 2) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None
    if agent.last_transcript is not None and not options.json_events:
        err.print(f"[dim]transcript: {agent.last_transcript}[/]")
    if result is None or not result.ok:
        reason = result.stop_reason if result is not None else "no result"
        message = _STOP_MESSAGES.get(reason, reason).format(steps=len(result.steps) if result else 0)
        raise _fail(message, 1)


@app.command()
def serve(
    model: Annotated[
        Optional[str],
        typer.Option(help="Hugging Face id or local directory (default: Qwen3-4B; Qwen3-0.6B on CPU)."),
    ] = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    gpu_memory_utilization: Annotated[
        Optional[float], typer.Option(help="Share of GPU memory vLLM may take.")
    ] = None,
    max_model_len: Annotated[Optional[int], typer.Option(help="Context window to serve.")] = None,
    long_context: Annotated[bool, typer.Option(help="Serve 131,072 tokens with YaRN rope scaling.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the vLLM command line and exit.")] = False,
    vllm_python: Annotated[
        Optional[str], typer.Option(help="Python interpreter that has vLLM.", envvar="AGENTKIT_VLLM_PYTHON")
    ] = None,
    log: Annotated[Optional[Path], typer.Option(help="Where the server's log goes.")] = None,
    extra: Annotated[Optional[list[str]], typer.Argument(help="More vLLM arguments, after `--`.")] = None,
) -> None:
    """Serve a Qwen3 model with vLLM and the flags agentkit needs; Ctrl-C stops it."""
    from agentkit.serving import ManagedServer, ServeConfig, VllmInstall, find_vllm

    config = ServeConfig(
        model=model,
        host=host,
        port=port,
        max_model_len=max_model_len,
        gpu_memory_utilization=gpu_memory_utilization,
        long_context=long_context,
        extra_args=tuple(extra or ()),
        python=vllm_python,
        log_path=log,
    )
    try:
        install = find_vllm(vllm_python)
    except AgentkitError as exc:
        if not dry_run:
            raise _fail(str(exc), 2) from None
        install = VllmInstall(vllm_python or sys.executable, "gpu", "")  # show the GPU form
    server = ManagedServer(config, install)
    if dry_run:
        print(server.command())
        return
    try:
        _start_with_progress(server)
    except AgentkitError as exc:
        raise _fail(str(exc), 2) from None
    except KeyboardInterrupt:
        server.stop()
        raise _fail("interrupted while starting; the server was stopped", 130) from None
    print(server.base_url, flush=True)
    Console(stderr=True, highlight=False).print(
        f"[dim]serving {escape(server.served_name)} · Ctrl-C stops it · "
        f'try: agentkit run "hello" --base-url {server.base_url}[/]'
    )
    try:
        code = server.process.wait() if server.process is not None else 0
    except KeyboardInterrupt:
        server.stop()
        Console(stderr=True, highlight=False).print("[dim]stopped[/]")
        return
    raise _fail(
        f"vLLM exited with code {code}. The end of its log ({server.log_path}):\n{server.log_tail()}", 1
    )


mcp_app = typer.Typer(help="Inspect and try MCP servers without a model.", no_args_is_help=True)
app.add_typer(mcp_app, name="mcp")

McpConfigOption = Annotated[
    list[Path], typer.Option("--mcp-config", help='A {"mcpServers": ...} file (repeatable).')
]


def _toolset(paths: list[Path], only: Optional[str] = None) -> Any:
    from agentkit.mcp.config import McpConfig, load_mcp_configs
    from agentkit.mcp.toolset import McpToolset

    try:
        config = load_mcp_configs(paths)
        if only is not None:
            if only not in config.servers:
                raise ConfigError(
                    f"no MCP server named {only!r} in {', '.join(map(str, paths))}; "
                    f"the servers are: {', '.join(config.servers) or 'none'}"
                )
            config = McpConfig(servers={only: config.servers[only].model_copy(update={"disabled": False})})
        return McpToolset(config)
    except AgentkitError as exc:
        raise _fail(str(exc), 2) from None


@mcp_app.command("list")
def mcp_list(
    mcp_config: McpConfigOption,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Start every server of the config, show its status, start time and tools, then stop it."""
    toolset = _toolset(mcp_config)

    async def main() -> list[Any]:
        try:
            reports: list[Any] = await toolset.start()
            return reports
        finally:
            await toolset.close()

    try:
        reports = asyncio.run(main())
    except AgentkitError as exc:
        raise _fail(str(exc), 2) from None
    disabled = [name for name, server in toolset.config.servers.items() if server.disabled]
    if json_out:
        rows = [
            {"server": r.name, "target": r.target, "status": "ready" if r.ok else "failed",
             "seconds": round(r.seconds, 3), "tools": list(r.tools), "error": r.error}
            for r in reports
        ] + [{"server": name, "status": "disabled"} for name in disabled]  # fmt: skip
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        from rich.table import Table

        table = Table("server", "status", "start", "tools", box=None, highlight=False)
        for r in reports:
            status = "[green]ready[/]" if r.ok else "[red]failed[/]"
            detail = ", ".join(r.tools) if r.ok else escape(r.error or "")
            table.add_row(escape(r.name), status, f"{r.seconds:.2f}s" if r.ok else "", detail)
        for name in disabled:
            table.add_row(escape(name), "[dim]disabled[/]", "", "")
        Console(highlight=False).print(table)
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


@mcp_app.command("call")
def mcp_call(
    server: Annotated[str, typer.Argument(help="The server's name in the config.")],
    tool: Annotated[str, typer.Argument(help="The tool's name on that server.")],
    arguments: Annotated[str, typer.Argument(help="The arguments, a JSON object.")] = "{}",
    mcp_config: McpConfigOption = ...,  # type: ignore[assignment]
) -> None:
    """Call one tool of one server, as the agent would, and print the result."""
    from agentkit.mcp.tools import prefixed_name
    from agentkit.messages import ToolCall
    from agentkit.tools.tool import ToolContext
    from agentkit.tools.toolbox import Toolbox

    try:
        parsed = json.loads(arguments)
    except ValueError as exc:
        raise _fail(f'the arguments are not valid JSON ({exc}); e.g. \'{{"city": "Paris"}}\'', 2) from None
    if not isinstance(parsed, dict):
        raise _fail('the arguments must be a JSON object, e.g. \'{"city": "Paris"}\'', 2)
    toolset = _toolset(mcp_config, only=server)
    err = Console(stderr=True, highlight=False)

    def progress(ctx: Any, done: float, total: Optional[float], message: Optional[str]) -> None:
        err.print(f"[dim]… {done:g}{f'/{total:g}' if total else ''} {escape(message or '')}[/]")

    async def main() -> Any:
        try:
            await toolset.start()
            if toolset.reports and not toolset.reports[0].ok:
                raise _fail(toolset.reports[0].error or f"MCP server {server!r} did not start", 2)
            box = Toolbox(toolset.tools())
            name = prefixed_name(server, tool)
            if name not in box:
                names = ", ".join(t.remote_name for t in toolset.tools())
                raise _fail(f"MCP server {server!r} has no tool {tool!r}; its tools: {names}", 2)
            return await box.run(ToolCall(name, parsed), ToolContext(on_progress=progress))
        finally:
            await toolset.close()

    try:
        result = asyncio.run(main())
    except AgentkitError as exc:
        raise _fail(str(exc), 2) from None
    print(result.content)
    if result.is_error:
        raise typer.Exit(1)


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        from agentkit import __version__

        print(f"agentkit {__version__}")
        raise typer.Exit()


def main() -> None:
    """Entry point of the `agentkit` console script."""
    app()


if __name__ == "__main__":
    main()
