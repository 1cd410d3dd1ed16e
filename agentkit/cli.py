"""The `agentkit` command line: typer for arguments, rich for rendering run events.

It holds no logic the Python API lacks: it builds an `Agent` and renders its events. The
answer goes to stdout; thinking, tool calls and status go to stderr, so
`agentkit run "..." > answer.txt` keeps just the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar, Optional

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.text import Text

from agentkit import cli_asks
from agentkit.cli_mcp import Opening, no_mcp_config
from agentkit.cli_options import (
    PANEL_MODEL,
    BackendName,
    RunOptions,
    SandboxName,
    agent_options,
    build_agent,
    shared_options,
    tidy_help,
)
from agentkit.defaults import (
    DEFAULT_BASE_URL,
    DEFAULT_BATCH_CONCURRENCY,
    DEFAULT_SERVE_CONCURRENCY,
    OAUTH_LOGIN_TIMEOUT,
    RUNS_DIR_ENV,
    SERVE_PORT,
)
from agentkit.errors import AgentkitError, ConfigError
from agentkit.events import (
    Compacted,
    Event,
    McpElicitation,
    McpLog,
    McpSampling,
    ModelRetry,
    OutputRejected,
    RunFailed,
    RunFinished,
    RunStarted,
    ServerStarting,
    ServerStatus,
    StepFinished,
    StepStarted,
    TextDelta,
    ThinkingDelta,
    ToolApproval,
    ToolCallFinished,
    ToolCallStarted,
    ToolProgress,
    TurnFinished,
    event_to_dict,
)
from agentkit.messages import ToolCallError
from agentkit.result import STOP_REASONS, RunResult, stop_reason_of

app = typer.Typer(
    name="agentkit",
    help="Run a locally served Qwen3 model as a tool-using agent.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # help paragraphs wrap to the terminal, `code` shows as code
)
tidy_help()


class _Renderer:
    """Renders events for a person: thinking dimmed, calls and results, the answer."""

    def __init__(
        self,
        out: Console,
        err: Console,
        show_thinking: bool,
        structured: bool = False,
        verbose: bool = False,
        mcp_strict: bool = False,
    ) -> None:
        self.out = out
        self.err = err
        self.show_thinking = show_thinking
        self.structured = structured  # the answer is JSON: printed whole at the end
        self.verbose = verbose  # MCP servers' log messages shown
        self.open_line: Console | None = None
        self.text_steps: set[int] = set()  # steps whose text was printed as it streamed
        # Piped or redirected, stdout gets the answer alone: a turn's text waits until the
        # turn ends, and text written before tool calls goes to stderr with them.
        self.held: list[str] | None = None if out.is_terminal else []
        self.markdown = _MarkdownStream(out) if out.is_terminal else None
        self.servers = _ServersLine(err, mcp_strict)

    def _print_answer(self, text: str) -> None:
        """A whole answer at once: Markdown rendered in a terminal, as it is elsewhere."""
        if self.markdown is not None:
            self.out.print(Markdown(text))
        else:
            self.out.print(Text(text))

    def pause(self) -> None:
        """End any line in progress (before a question on the terminal, or when a run stops)."""
        self._break()
        self.servers.stop()

    def _break(self) -> None:
        if self.markdown is not None and self.open_line is self.out:
            self.markdown.end()
            self.open_line = None
        if self.open_line is not None:
            self.open_line.print()
            self.open_line.file.flush()
            self.open_line = None

    def __call__(self, event: Event) -> None:
        handler = self._HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _end_line(self, event: StepFinished | RunFailed) -> None:
        self._break()

    def _step_started(self, event: StepStarted) -> None:
        self._break()
        mode = "thinking" if event.decision.think else "no thinking"
        budget = f", budget {event.decision.budget}" if event.decision.budget else ""
        self.err.print(
            f"[bold cyan]●[/] step {event.step} · {mode}{budget} [dim]({escape(event.decision.reason)})[/]"
        )

    def _thinking(self, event: ThinkingDelta) -> None:
        if self.show_thinking:
            self.err.print(Text(event.text, style="dim italic"), end="")
            self.open_line = self.err

    def _text(self, event: TextDelta) -> None:
        if self.structured:
            return
        if self.held is not None:
            self.held.append(event.text)
            return
        if self.open_line is self.err:
            self._break()
        self.text_steps.add(event.step)
        if self.markdown is not None:
            self.markdown.add(event.text)
        else:
            self.out.print(Text(event.text), end="")
            self.out.file.flush()
        self.open_line = self.out

    def _call_started(self, event: ToolCallStarted) -> None:
        self._break()
        args = json.dumps(event.call.arguments, ensure_ascii=False)
        kept = " [dim](not run again: answered from before the retry or resume)[/]" if event.reused else ""
        self.err.print(f"[yellow]→[/] [bold]{escape(event.call.name)}[/] {escape(_clip(args, 200))}{kept}")

    def _call_finished(self, event: ToolCallFinished) -> None:
        self._break()
        name = event.call.name or "?" if isinstance(event.call, ToolCallError) else event.call.name
        mark = "[red]✗[/]" if event.result.is_error else "[green]←[/]"
        text = _clip(event.result.content.replace("\n", " ⏎ "), 300)
        self.err.print(f"{mark} {escape(name)} [dim]{event.duration:.2f}s[/] {escape(text)}")

    def _model_retry(self, event: ModelRetry) -> None:
        self._break()
        how = (
            "the step starts over"
            if event.restart
            else f"going on from the {event.kept:,} characters received"
            if event.kept
            else "retrying"
        )
        self.err.print(
            f"[dim]↻ {escape(_clip(event.reason.rstrip('.'), 300))} · {how} in {event.wait:.1f}s "
            f"(attempt {event.attempt})[/]"
        )

    def _compacted(self, event: Compacted) -> None:
        self._break()
        parts = [f"{event.results} tool result(s)"] if event.results else []
        parts += [f"the thinking of {event.thoughts} step(s)"] if event.thoughts else []
        self.err.print(
            f"[dim]⇣ context: {event.tokens_before:,} → {event.tokens_after:,} tokens "
            f"(left out {' and '.join(parts)})[/]"
        )

    def _run_started(self, event: RunStarted) -> None:
        self.text_steps.clear()  # step numbers start again (a chat's next turn)
        if event.resumed:
            self.err.print(f"[dim]resuming run {event.run_id} at step {event.first_step}[/]")
        if event.workspace:
            self.err.print(f"[dim]workspace: {escape(event.workspace)}[/]")
        if event.sandbox:
            unconfined = event.sandbox.startswith(("auto, but none", "required, but"))
            style = "yellow" if unconfined else "dim"
            self.err.print(f"[{style}]sandbox: {escape(event.sandbox)}[/]")

    def _progress(self, event: ToolProgress) -> None:
        self._break()
        total = f"/{event.total:g}" if event.total else ""
        note = f" {escape(event.message)}" if event.message else ""
        self.err.print(f"[dim]  … {escape(event.tool)} {event.progress:g}{total}{note}[/]")

    def _approval(self, event: ToolApproval) -> None:
        """A refusal, and with --verbose each decision (the terminal's own prompt shows the rest)."""
        if event.allowed and not self.verbose:
            return
        self._break()
        verdict = "allowed" if event.allowed else "refused"
        by = "by the approver" if event.decided_by == "approver" else "by policy"
        self.err.print(f"[dim]  ⚖ {escape(event.tool)} {verdict} {by} ({event.policy})[/]")

    def _mcp_log(self, event: McpLog) -> None:
        if not self.verbose:
            return
        self._break()
        data = event.data if isinstance(event.data, str) else json.dumps(event.data, ensure_ascii=False)
        where = f"{event.server}/{event.logger}" if event.logger else event.server
        self.err.print(f"[dim]  {escape(where)} {event.level}: {escape(_clip(data, 300))}[/]")

    def _mcp_ask(self, event: McpSampling | McpElicitation) -> None:
        self._break()
        self.err.print(cli_asks.describe_ask(event))

    def _server_starting(self, event: ServerStarting) -> None:
        self._break()
        self.servers.starting(event)

    def _server_status(self, event: ServerStatus) -> None:
        if not self.servers.expects(event):
            self._break()
        self.servers.done(event)

    def _turn_finished(self, event: TurnFinished) -> None:
        if self.held:
            self._break()
            text, self.held = "".join(self.held), []
            (self.err if event.calls else self.out).print(Text(text))
            self.text_steps.add(event.step)

    def _output_rejected(self, event: OutputRejected) -> None:
        self._break()
        self.err.print(
            "[yellow]✗[/] the answer does not match the output schema: "
            f"{escape(_clip(event.error, 300))} [dim](sent back to the model)[/]"
        )

    def _run_finished(self, event: RunFinished) -> None:
        r = event.result
        if r.ok and self.structured:
            self._break()
            value = json.dumps(r.output_json(), ensure_ascii=False)
            if self.out.is_terminal:
                self.out.print_json(value)  # indented and coloured
            else:
                self.out.print(Text(value))
        elif r.ok and r.text and r.steps[-1].step not in self.text_steps:
            self._print_answer(r.text)  # an answer that did not stream here (a resumed run's)
        self._break()
        usage = r.usage
        tokens = f" · {usage.prompt_tokens}+{usage.completion_tokens} tokens" if usage.requests else ""
        self.err.print(f"[dim]{len(r.steps)} step(s){tokens} · {r.stop_reason}[/]")
        if r.ok and r.steps and r.steps[-1].finish_reason == "length":
            self.err.print(
                "[yellow]⚠[/] the answer was cut off: its model call reached the per-call token cap "
                "(--max-tokens, Agent(max_tokens=...)); raise it, or leave it out for what the window leaves"
            )

    _HANDLERS: ClassVar[dict[type, Callable[[Any, Any], None]]] = {
        RunStarted: _run_started,
        StepStarted: _step_started,
        ThinkingDelta: _thinking,
        TextDelta: _text,
        ToolCallStarted: _call_started,
        ToolProgress: _progress,
        ToolApproval: _approval,
        ToolCallFinished: _call_finished,
        ModelRetry: _model_retry,
        Compacted: _compacted,
        McpLog: _mcp_log,
        McpSampling: _mcp_ask,
        McpElicitation: _mcp_ask,
        ServerStarting: _server_starting,
        ServerStatus: _server_status,
        TurnFinished: _turn_finished,
        StepFinished: _end_line,
        OutputRejected: _output_rejected,
        RunFinished: _run_finished,
        RunFailed: _end_line,
    }
    """Each event's handler; events not named here show nothing."""


class _MarkdownStream:
    """An answer's text rendered as Markdown while it streams. Finished blocks (up to a blank
    line outside a code fence) are printed for good; only the block being written is redrawn
    in place, at most `_MARKDOWN_FPS` times a second, so the redrawn part stays small and a
    long answer scrolls like any output."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.text = ""  # the block being written
        self.live: Any = None
        self.drawn = 0.0
        self.gap = False  # a finished block was printed: a blank line goes before the next

    def add(self, text: str) -> None:
        self.text += text
        done, self.text = _finished_blocks(self.text)
        if done:
            self._draw(done)
            self._stop()
            self.gap = True
        if not self.text:
            return
        now = time.monotonic()
        if self.live is None or now - self.drawn >= 1 / _MARKDOWN_FPS:
            self._draw(self.text)
            self.drawn = now

    def _draw(self, text: str) -> None:
        from rich.live import Live

        if self.live is not None:
            self.live.update(Markdown(text), refresh=True)
            return
        if self.gap and not _LIST_ITEM.match(text):  # rich sets a list off itself
            self.out.print()  # the blank line between blocks
        self.gap = False
        self.live = Live(Markdown(text), console=self.out, auto_refresh=False, vertical_overflow="visible")
        self.live.start(refresh=True)

    def _stop(self) -> None:
        if self.live is not None:
            self.live.stop()
        self.live = None

    def end(self) -> None:
        if self.text:
            self._draw(self.text)
        self._stop()
        self.text, self.drawn, self.gap = "", 0.0, False


class _ServersLine:
    """The MCP servers a run or chat starts, on one line: in a terminal redrawn as each changes
    state (`MCP: time ✓ 0.4s · git … · fetch ✗`); elsewhere printed once, when all have started
    or failed. Why a server failed follows, unless `strict` (--mcp-strict): the run's failure
    then says it."""

    def __init__(self, err: Console, strict: bool = False) -> None:
        self.err = err
        self.strict = strict
        self.states: dict[str, ServerStatus | None] = {}
        self.live: Any = None

    def expects(self, event: ServerStatus) -> bool:
        """Whether the event is the state of a server this line shows."""
        return event.name in self.states

    def hear(self, event: Event) -> None:
        """A server's start (`Agent.start_servers(on_event=...)`)."""
        if isinstance(event, ServerStarting):
            self.starting(event)
        elif isinstance(event, ServerStatus):
            self.done(event)

    def starting(self, event: ServerStarting) -> None:
        self.states[event.name] = None
        self._draw()

    def done(self, event: ServerStatus) -> None:
        self.states[event.name] = event
        if any(state is None for state in self.states.values()):
            self._draw()
            return
        states = self.states
        if self.live is not None:
            self.stop()  # the live line gives way to the same line, printed
        else:
            self.err.print(self._line())
            self.states = {}
        for state in states.values():
            if state is not None and not state.ok and not self.strict:
                self.err.print(f"[yellow]⚠[/] {escape(state.error or state.name)}")
                self.err.print("  [dim](going on without it)[/]")  # not on the last stderr line

    def stop(self) -> None:
        """End the live line, printing it as it stands (also when the run stops while servers
        are starting)."""
        if self.live is not None:
            self.live.stop()
            self.live = None
            self.err.print(self._line())
        self.states = {}

    def _draw(self) -> None:
        if not self.err.is_terminal:
            return
        if self.live is None:
            from rich.live import Live

            self.live = Live(self._line(), console=self.err, auto_refresh=False, transient=True)
            self.live.start(refresh=True)
        else:
            self.live.update(self._line(), refresh=True)

    def _line(self) -> Text:
        line = Text("MCP: ", style="cyan")
        for n, (name, state) in enumerate(self.states.items()):
            if n:
                line.append(" · ", style="dim")
            line.append(name)
            if state is None:
                line.append(" …", style="dim")
            elif state.ok:
                line.append(" ✓", style="green")
                tools = len(state.tools)
                line.append(f" {state.seconds:.1f}s ({tools} tool{'' if tools == 1 else 's'})", style="dim")
            else:
                line.append(" ✗", style="red")
        return line


_LIST_ITEM = re.compile(r"\s*(?:[-*+]|\d+[.)])\s")


def _finished_blocks(text: str) -> tuple[str, str]:
    """`text` cut at its last blank line outside a code fence: (the finished blocks, the
    block still being written)."""
    cut = len(text)
    while (cut := text.rfind("\n\n", 0, cut)) > 0:
        if text.count("```", 0, cut) % 2 == 0:
            return text[:cut], text[cut + 2 :].lstrip("\n")
    return "", text


_MARKDOWN_FPS = 15


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fail(message: str, code: int = 1) -> typer.Exit:
    Console(stderr=True, highlight=False, emoji=False, soft_wrap=True).print(
        f"[red]agentkit:[/] {escape(message)}"
    )
    return typer.Exit(code)


class _TerminalApprover:
    """Asks on the terminal before a call whose policy is "ask" runs (one question at a time)."""

    def __init__(
        self,
        err: Console,
        render: _Renderer,
        *,
        approve_all: bool,
        ask: Callable[[str], Awaitable[str]] | None = None,
    ) -> None:
        self.err = err
        self.render = render
        self.approve_all = approve_all
        self.ask = ask or _ask  # the answer, stripped and lowered
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
            question = "Allow it? [y]es / [n]o / [a]lways for this tool: "
            choices = ("yes", "no", "always")
            answer = await cli_asks.read_choice(self.ask, self.err, question, choices, refusal="no")
        if answer == "always":
            self.always.add(call.name)
        return answer in ("yes", "always")


async def _ask(prompt: str) -> str:
    """A line from the terminal, read in a daemon thread: a run stopped meanwhile (Ctrl-C,
    SIGTERM) does not wait for the answer."""
    from agentkit._threads import in_daemon_thread

    return await in_daemon_thread(_read_line, prompt)


def _read_line(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower()


def _stop_message(result: RunResult, options: RunOptions) -> str:
    """Why a run stopped without an answer, and the advice that fits."""
    steps = len(result.steps)
    resume = f"agentkit runs resume {result.run_id}"
    reason = result.stop_reason
    if reason == "max_steps":
        return (
            f"stopped after {steps} step{'s' * (steps != 1)} without an answer. If the model was getting "
            f"somewhere, go on with more steps: {resume} --max-steps {max(2 * options.max_steps, steps + 10)}"
            "; if it was going in circles, rephrase the task or give it better tools."
        )
    if reason == "timeout":
        more = f" --timeout {2 * options.timeout:g}" if options.timeout else ""
        return (
            f"stopped at the time limit ({options.timeout:g} s) without an answer; go on with: {resume}{more}"
        )
    if reason == "max_run_tokens":
        cap = options.max_run_tokens
        more = f" --max-run-tokens {2 * cap}" if cap else ""
        return (
            f"stopped at the run's token limit ({cap:,} token{'s' * (cap != 1)}) without an answer; "
            f"go on with a larger one: {resume}{more}"
            if cap
            else f"stopped at the run's token limit without an answer; go on with: {resume}"
        )
    if reason == "repetition":
        last = result.steps[-1].message.tool_calls if result.steps else []
        what = f"called {last[0].name} with the same arguments" if last else "repeated the same call"
        return (
            f"stopped: the model {what} again and again and got the same result each time; it is "
            "stuck. Rephrase the task or give it what it is missing (a larger model may help)."
        )
    if reason == "malformed_output":
        switch = (
            ", or --backend completions (agentkit's parser repairs more)"
            if options.backend is BackendName.chat
            else ""
        )
        return (
            f"stopped: the model wrote tool calls that could not be read, {steps} steps running. "
            f"Try --think on or a larger model{switch}."
        )
    if reason == "context_full":
        return (
            "stopped: the conversation no longer fits the model's context window, even with old tool "
            "results and thinking left out. Serve a longer window (agentkit serve --context N, or "
            "--long-context) or make the tools return less."
        )
    if reason == "invalid_output":
        return (
            f"stopped: {result.error}. Check that --output-schema asks for what the task can give, or "
            "serve the model with vLLM (it constrains the answer to the schema)."
        )
    return f"stopped: {reason}"


def _resume_hint(result: Optional[RunResult], *, resume: bool = True, key: bool = False) -> str:
    if result is None or not result.transcript:
        return ""
    with_key = " --api-key KEY" if key else ""
    more = f" · resume: agentkit runs resume {result.run_id}{with_key}" if resume else ""
    return f" · transcript: {result.transcript}{more}"


AttachOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--attach",
        metavar="SERVER:URI",
        help="Read this MCP resource first and add it to the task (repeatable); "
        "agentkit mcp resources lists them.",
        show_default=False,
        rich_help_panel="MCP",
    ),
]
PromptOption = Annotated[
    Optional[str],
    typer.Option(
        "--prompt",
        metavar="SERVER/NAME",
        help="Start from this MCP prompt (TASK, if given, is added to it); agentkit mcp prompts lists them.",
        show_default=False,
        rich_help_panel="MCP",
    ),
]
PromptArgsOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--arg",
        "-a",
        metavar="NAME=VALUE",
        help="An argument of --prompt (repeatable).",
        show_default=False,
        rich_help_panel="MCP",
    ),
]


def _opening(
    attach: Optional[list[str]], prompt: Optional[str], prompt_args: Optional[list[str]]
) -> Optional[Opening]:
    """What --attach, --prompt and -a ask a run to start from, if anything."""
    if prompt_args and not prompt:
        raise _fail("-a/--arg gives an argument of --prompt SERVER/NAME; give the prompt too", 2)
    return Opening(attach or [], prompt, prompt_args or []) if attach or prompt else None


@app.command()
@agent_options
def run(
    task: Annotated[
        Optional[str],
        typer.Argument(
            metavar="TASK", help="What the agent should do; - reads it from stdin.", show_default=False
        ),
    ] = None,
    task_file: Annotated[
        Optional[Path],
        typer.Option("--task-file", metavar="FILE", help="Read the task from this file.", show_default=False),
    ] = None,
    attach: AttachOption = None,
    prompt: PromptOption = None,
    prompt_args: PromptArgsOption = None,
    *,
    options: RunOptions,
) -> None:
    """Run one task with a Qwen3 agent and print its answer.

    Exit codes: 0 answered · 2 bad input · 3 step limit · 4 token limit ·
    5 time limit · 6 repetition · 7 unreadable tool calls · 8 context full ·
    9 server failure · 10 answer not valid against --output-schema ·
    130 Ctrl-C · 143 SIGTERM.

    `agentkit runs resume ID` goes on with a stopped run. An MCP server that
    does not start is left out, or with --mcp-strict stops the run (exit 2).
    """
    opening = _opening(attach, prompt, prompt_args)
    options.task = _read_task(task, task_file) if prompt is None or task or task_file else ""
    with _served(options):
        _run(options, opening=opening)


def _read_task(task: Optional[str], task_file: Optional[Path]) -> str:
    """The task from the argument, stdin (`-`) or a file; checked to be usable text."""
    if task is not None and task_file is not None:
        raise _fail("give the task as an argument or with --task-file, not both", 2)
    if task_file is not None:
        try:
            text = task_file.read_bytes().decode("utf-8")
        except FileNotFoundError:
            raise _fail(f"--task-file {task_file}: no such file", 2) from None
        except OSError as exc:
            raise _fail(f"--task-file {task_file}: cannot read it ({exc.strerror or exc})", 2) from None
        except UnicodeDecodeError as exc:
            raise _fail(
                f"--task-file {task_file} is not UTF-8 text (byte {exc.start + 1} is "
                f"0x{exc.object[exc.start]:02x}); convert it first (iconv -t UTF-8)",
                2,
            ) from None
    elif task == "-":
        if sys.stdin.isatty():
            Console(stderr=True, highlight=False, emoji=False).print(
                "[dim]reading the task from stdin; end it with Ctrl-D[/]"
            )
        text = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    elif task is None:
        raise _fail(
            'give the task: agentkit run "what to do" (or - to read it from stdin, or --task-file)', 2
        )
    else:
        text = task
    from agentkit.agent import check_task

    try:
        check_task(text)
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    return text


@contextlib.contextmanager
def _served(options: RunOptions) -> Iterator[None]:
    """With --serve: a vLLM server at --base-url for the block, if none answers there yet
    (the options then name it); without, nothing."""
    if not options.serve or options.backend is BackendName.scripted:
        yield
        return
    from urllib.parse import urlsplit

    from agentkit.serving import ManagedServer, ServeConfig, server_answers

    if server_answers(options.base_url):
        yield
        return
    parts = urlsplit(options.base_url)
    config = ServeConfig(
        model=options.model,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or SERVE_PORT,
        python=options.vllm_python,
        extra_args=tuple(options.serve_arg),
        context=options.context_window,
        quantization=options.quantization,
        lora=_adapters(options.lora),
        tensor_parallel_size=options.tensor_parallel_size,
        data_parallel_size=options.data_parallel_size,
    )
    try:
        server = ManagedServer(config)
        _start_with_progress(server)
    except (AgentkitError, ValueError) as exc:
        raise _fail(str(exc), 2) from None
    # The server serves this one model (and its adapters); the backend asks it for the name.
    options.base_url, options.model = server.base_url, next(iter(config.lora), None)
    try:
        yield
    finally:
        server.stop()


def _adapters(items: list[str]) -> dict[str, str]:
    """--lora NAME=PATH values as {name: path}."""
    adapters: dict[str, str] = {}
    for item in items:
        name, _, path = item.partition("=")
        if not name or not path:
            raise _fail(f"--lora {item}: give it as NAME=PATH, e.g. --lora sql=./adapters/sql", 2)
        adapters[name] = path
    return adapters


def _start_with_progress(server: Any) -> None:
    err = Console(stderr=True, highlight=False, emoji=False)
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


_SIGNALS = {"SIGINT": ("Ctrl-C", 130), "SIGTERM": ("SIGTERM", 143)}


def _run(options: RunOptions, resume: Optional[str] = None, opening: Optional[Opening] = None) -> None:
    """Run (or resume) with these options, render the events, exit with the stop reason's code."""
    from agentkit.sandbox import SandboxWarning

    warnings.filterwarnings("ignore", category=SandboxWarning)  # the start line says it
    out = Console(highlight=False, emoji=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)
    render = _renderer(options, out, err)
    asks = cli_asks.TerminalAsks(err, render.pause, approve_all=options.yes)
    try:
        agent = build_agent(
            options,
            _TerminalApprover(err, render, approve_all=options.yes),
            on_sampling=asks.sampling,
            on_elicitation=asks.elicit,
        )
    except (AgentkitError, ValueError, TypeError) as exc:
        raise _fail(str(exc), 2) from None
    stopped: list[str] = []
    final: list[RunResult] = []

    show = _shown(options, render)

    async def main() -> None:
        _on_signals(stopped)
        try:
            task, history = (
                (options.task, None) if opening is None else await opening.start(agent, options.task, show)
            )
            events = agent.stream(task, history=history) if resume is None else agent.resume_stream(resume)
            async for event in events:
                show(event)
                if isinstance(event, (RunFinished, RunFailed)) and event.result is not None:
                    final.append(event.result)
        finally:
            await agent.aclose()

    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        render.pause()
        word, code = _SIGNALS.get(stopped[0] if stopped else "SIGINT", ("interrupted", 130))
        where = f" · transcript: {agent.last_transcript}" if agent.last_transcript else ""
        hint = f" · resume: agentkit runs resume {_run_id(agent)}" if agent.last_transcript else ""
        raise _fail(f"stopped by {word}{where}{hint}", code) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None
    except AgentkitError as exc:
        render.pause()
        strict = _strict_failure(exc, options)
        if strict is not None:  # resuming would fail the same way
            raise _fail(strict, 2) from None
        code = 9 if exc.result is not None else 2
        key = getattr(exc, "status", None) in (401, 403)
        raise _fail(f"{exc}{_resume_hint(exc.result, key=key)}", code) from None
    result = final[-1] if final else None
    if result is None:
        raise _fail("the run ended without a result", 9)
    if not result.ok:  # the failure line names the transcript and, unless the advice does, the resume
        advice = _stop_message(result, options)
        hint = _resume_hint(result, resume="agentkit runs resume" not in advice)
        raise _fail(advice + hint, STOP_REASONS[result.stop_reason][0])
    if result.transcript and not options.json_events:
        err.print(f"[dim]transcript: {result.transcript}[/]")


def _renderer(options: RunOptions, out: Console, err: Console) -> _Renderer:
    return _Renderer(
        out,
        err,
        not options.hide_thinking,
        options.output_schema is not None,
        verbose=options.verbose,
        mcp_strict=options.mcp_strict,
    )


def _shown(options: RunOptions, render: _Renderer) -> Callable[[Event], None]:
    """What shows an event: the renderer, or with --json-events a JSON line on stdout."""

    def show(event: Event) -> None:
        if options.json_events:
            print(json.dumps(event_to_dict(event), ensure_ascii=False, default=str), flush=True)
        else:
            render(event)

    return show


def _strict_failure(exc: AgentkitError, options: RunOptions) -> Optional[str]:
    """The message of an MCP server that did not start under --mcp-strict (the only way such
    an error leaves a run: a server failing later is a tool error); None for other errors."""
    from agentkit.mcp.session import McpServerError

    if not options.mcp_strict or not isinstance(exc, McpServerError):
        return None
    return (
        f"{exc}\n--mcp-strict stops when an MCP server does not start: fix the server, or leave "
        "--mcp-strict out to go on without it"
    )


def _run_id(agent: Any) -> str:
    path: Path = agent.last_transcript
    return path.stem.rsplit("-", 1)[-1]


@app.command()
@agent_options
def chat(
    resume: Annotated[
        Optional[str],
        typer.Option(
            "--resume",
            metavar="ID",
            help="Go on with this chat (or run): its whole conversation; a turn cut off is finished "
            "first. Options given here replace the ones it was started with.",
            show_default=False,
        ),
    ] = None,
    attach: AttachOption = None,
    prompt: PromptOption = None,
    prompt_args: PromptArgsOption = None,
    *,
    options: RunOptions,
) -> None:
    """Talk with a Qwen3 agent, turn after turn, with its tools.

    End (or start) a message with /think or /no_think to switch thinking
    from that message on, as the model card shows.
    /help lists the commands: /tools /thinking /reset /save /exit.
    Ctrl-C stops the answer in progress; Ctrl-D leaves.

    The conversation is a run: `agentkit runs list` shows it,
    `agentkit chat --resume ID` goes on with it.
    """
    opening = _opening(attach, prompt, prompt_args)
    if opening is not None and resume is not None:
        raise _fail("--attach and --prompt open a new chat; leave them out with --resume", 2)
    if resume is not None:
        options = _resumed_options(resume, options)
    with _served(options):
        _chat(options, resume, opening)


def _resumed_options(run_id: str, given: RunOptions) -> RunOptions:
    """The options a chat (or run) was started with, under those given that differ from
    the defaults."""
    import dataclasses

    from agentkit.store import find_run, load_run

    try:
        saved = load_run(find_run(run_id, given.runs_dir))
    except AgentkitError as exc:
        raise _fail(str(exc), 2) from None
    cli = saved.config.get("cli")
    if not isinstance(cli, dict):
        given.runs_dir = given.runs_dir or saved.path.parent
        return given  # started from Python: the options given here it is
    default = RunOptions()
    changed = {
        f.name: getattr(given, f.name)
        for f in dataclasses.fields(RunOptions)
        if getattr(given, f.name) != getattr(default, f.name)
    }
    return RunOptions.restore(cli, **{**changed, "runs_dir": given.runs_dir or saved.path.parent})


def _chat(options: RunOptions, resume: Optional[str], opening: Optional[Opening] = None) -> None:
    """The chat session: build the agent, hand it to the terminal, exit 143 on SIGTERM."""
    from agentkit.chat import ChatSession
    from agentkit.cli_chat import ChatTerminal
    from agentkit.sandbox import SandboxWarning
    from agentkit.thinking import Always, Auto, Never

    warnings.filterwarnings("ignore", category=SandboxWarning)  # the start line says it
    out = Console(highlight=False, emoji=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)
    render = _renderer(options, out, err)
    show = _shown(options, render)
    policies = {"auto": Auto(options.budget), "on": Always(options.budget), "off": Never()}
    terminal = ChatTerminal(
        out, err, show=show, pause=render.pause, policies=policies, interactive=sys.stdin.isatty()
    )
    approver = _TerminalApprover(err, render, approve_all=options.yes, ask=terminal.ask)
    if opening is not None and options.workspace is None:  # where attached files go, and the chat works
        options.workspace = Path(tempfile.mkdtemp(prefix="agentkit-workspace-"))
    asks = cli_asks.TerminalAsks(err, render.pause, approve_all=options.yes, read=terminal.ask_text)
    try:
        agent = build_agent(options, approver, on_sampling=asks.sampling, on_elicitation=asks.elicit)
        session = ChatSession.resume(agent, resume) if resume else ChatSession(agent)
        if isinstance(agent.thinking, str):  # as /thinking set it in the chat: that policy, with --budget
            agent.thinking = policies[agent.thinking]
    except (AgentkitError, ValueError, TypeError) as exc:
        raise _fail(str(exc), 2) from None

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows' loop
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await terminal.run(session, opening.start if opening is not None else None)

    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        render.pause()
        where = f" · go on with: agentkit chat --resume {session.run_id}" if session.transcript else ""
        raise _fail(f"stopped by SIGTERM{where}", 143) from None
    except AgentkitError as exc:
        raise _fail(_strict_failure(exc, options) or str(exc), 2) from None


@app.command()
@agent_options
def batch(
    tasks_file: Annotated[
        Path,
        typer.Argument(
            metavar="TASKS",
            help='Tasks file: a task a line, as text or JSON ({"id", "task", "system", "thinking", '
            '"max_steps", "max_tokens", "max_run_tokens", "timeout", "sampling", "meta", "output_file"}).',
            show_default=False,
        ),
    ],
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Results file (JSON lines); tasks already in it are skipped.",
            show_default="TASKS with .results.jsonl",
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", metavar="N", min=1, help="Runs at once.")
    ] = DEFAULT_BATCH_CONCURRENCY,
    base_url: Annotated[
        Optional[list[str]],
        typer.Option(
            "--base-url",
            metavar="URL",
            help="A model server's API root; repeat it for several servers of the model.",
            envvar="AGENTKIT_BASE_URL",
            show_default=DEFAULT_BASE_URL,
            rich_help_panel=PANEL_MODEL,
        ),
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Run again the tasks whose result is a failure.")
    ] = False,
    *,
    options: RunOptions,
) -> None:
    """Run every task of a file, N at a time, and write one result line per task.

    Results are written as tasks end: the same command again goes on from there.
    Several --base-url spread the runs; MCP servers start once for the batch.
    Tool calls that would ask run only with --yes.

    Exit codes: 0 every task answered · 1 some failed or stopped without an answer
    2 bad input · 130 Ctrl-C · 143 SIGTERM
    """
    from agentkit.batch import read_tasks, task_list

    urls = base_url or [DEFAULT_BASE_URL]
    options.base_url, options.base_urls = urls[0], (urls if len(urls) > 1 else [])
    if options.serve and len(urls) > 1:
        raise _fail(
            "--serve starts one server; with several --base-url, start each (agentkit serve --port N)", 2
        )
    try:
        tasks = task_list(read_tasks(tasks_file))
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    results = output or tasks_file.with_name(tasks_file.name.split(".")[0] + ".results.jsonl")
    if results.resolve() == tasks_file.resolve():
        raise _fail(f"-o {results} is the tasks file itself; name another results file", 2)
    with _served(options):
        _batch(options, tasks, results, concurrency, retry_failed)


def _batch(
    options: RunOptions, tasks: list[Any], results: Path, concurrency: int, retry_failed: bool
) -> None:
    """Run the batch with a progress display on stderr; exit 0 when every task answered."""
    from agentkit.batch import BatchProgress
    from agentkit.sandbox import SandboxWarning

    warnings.filterwarnings("ignore", category=SandboxWarning)
    err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)

    async def approve_all(call: Any, tool: Any) -> bool:
        return True

    asks = cli_asks.TerminalAsks(err, approve_all=options.yes, interactive=False)
    try:
        agent = build_agent(
            options,
            approve_all if options.yes else None,
            on_sampling=asks.sampling,
            on_elicitation=asks.elicit,
        )
    except (AgentkitError, ValueError, TypeError) as exc:
        raise _fail(str(exc), 2) from None
    progress = BatchProgress()
    show = _BatchDisplay(err, progress, results)
    stopped: list[str] = []

    async def main() -> None:
        _on_signals(stopped)
        try:
            if agent.mcp is not None:  # started once for every task, shown as a run shows them
                servers = _ServersLine(err, options.mcp_strict)
                try:
                    await agent.start_servers(servers.hear)
                finally:
                    servers.stop()
            with show:
                async for result in agent.batch(
                    tasks,
                    concurrency=concurrency,
                    results=results,
                    retry_failed=retry_failed,
                    progress=progress,
                ):
                    if options.json_events:
                        print(json.dumps(result.to_dict(), ensure_ascii=False, default=str), flush=True)
                    show.finished(result)
        finally:
            await agent.aclose()

    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        word, code = _SIGNALS.get(stopped[0] if stopped else "SIGINT", ("interrupted", 130))
        raise _fail(
            f"stopped by {word}: {progress.done} of {progress.total} tasks done, in {results}; "
            "the same command goes on from there",
            code,
        ) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None
    except AgentkitError as exc:
        raise _fail(str(exc), 2) from None
    from agentkit.batch import ResultsFile

    stored = ResultsFile(results)  # every task's latest result, from this run or before
    stored.close()
    latest = [stored.results[t.id] for t in tasks if t.id in stored.results]
    failed = [r for r in latest if r.get("error") is not None]
    unanswered = [r for r in latest if r.get("error") is None and r.get("stop_reason") != "answer"]
    show.summary(len(latest), failed, len(unanswered))
    if failed or unanswered:
        raise typer.Exit(1)


def _on_signals(stopped: list[str]) -> None:
    """Ctrl-C and SIGTERM cancel the running task (the name goes in `stopped`)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for name in _SIGNALS:

        def stop(name: str = name) -> None:
            stopped.append(name)
            task.cancel(name)

        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows' loop
            loop.add_signal_handler(getattr(signal, name), stop)


class _BatchDisplay:
    """A batch's progress on stderr: a live bar in a terminal (done, failed, running,
    steps/s, tokens/s, ETA); elsewhere a plain line per finished task."""

    REFRESH = 0.25
    """Seconds between redraws of the bar."""

    def __init__(self, err: Console, progress: Any, results: Path) -> None:
        self.err = err
        self.progress = progress
        self.results = results
        self.live = err.is_terminal
        self.bar: Any = None
        self.ticker: asyncio.Task[None] | None = None
        self.shown = 0

    def __enter__(self) -> _BatchDisplay:
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(
                TextColumn("[bold]batch[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"),
                console=self.err,
                auto_refresh=False,
                transient=False,
            )
            self.bar.start()
            self.bar_task = self.bar.add_task("batch", total=None, stats="starting…")
            self.ticker = asyncio.ensure_future(self._tick())
        return self

    async def _tick(self) -> None:
        while True:
            self._draw()
            await asyncio.sleep(self.REFRESH)

    def _draw(self) -> None:
        p = self.progress
        eta = p.eta
        stats = (
            f"[red]{p.failed} failed[/] · {p.running} running · {p.steps_per_second:.1f} steps/s · "
            f"{p.tokens_per_second:,.0f} tok/s · ETA {_duration(eta) if eta is not None else '-'}"
        )
        self.bar.update(self.bar_task, completed=p.done, total=p.total or None, stats=stats)
        self.bar.refresh()

    def finished(self, result: Any) -> None:
        self.shown += 1
        if not self.live:
            what = result.stop_reason if not result.failed else f"failed: {_clip(result.error or '', 200)}"
            self.err.print(
                f"[{self.shown}/{self.progress.total}] {escape(result.id)} {escape(what)} · "
                f"{result.steps} steps · {result.duration:.1f}s"
            )

    def __exit__(self, *exc: object) -> None:
        if self.ticker is not None:
            self.ticker.cancel()
        if self.bar is not None:
            self._draw()
            self.bar.stop()

    def summary(self, tasks: int, failed: list[dict[str, Any]], unanswered: int) -> None:
        """Where every task of the file stands (run now or before), and the failures."""
        p = self.progress
        answered = tasks - len(failed) - unanswered
        parts = [f"{tasks} task{'s' * (tasks != 1)}: {answered} answered"]
        if unanswered:
            parts.append(f"{unanswered} stopped without an answer")
        if failed:
            parts.append(f"[red]{len(failed)} failed[/]")
        ran = f"ran {p.done} in {_duration(p.elapsed)} ({p.steps} steps)"
        before = f", {p.skipped} done before" if p.skipped else ""
        before += (
            f", {p.resumed} taken up where {'it' if p.resumed == 1 else 'they'} stopped" if p.resumed else ""
        )
        self.err.print(", ".join(parts) + f" · {ran}{before} · results: {escape(str(self.results))}")
        for record in failed[:10]:
            self.err.print(f"  [red]✗[/] {escape(record['id'])}: {escape(_clip(str(record['error']), 300))}")
        if len(failed) > 10:
            self.err.print(f"  … and {len(failed) - 10} more (their errors are in the results file)")
        if failed:
            self.err.print("[dim]the same command with --retry-failed runs the failed tasks again[/]")


def _duration(took: float) -> str:
    seconds = round(took)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


runs_app = typer.Typer(
    help="List, read, resume and view (in the browser) runs from their transcripts.", no_args_is_help=True
)
app.add_typer(runs_app, name="runs")

RunsDirOption = Annotated[
    Optional[Path],
    typer.Option(
        help="The runs directory.",
        envvar=RUNS_DIR_ENV,
        show_default="the user's data directory",
    ),
]


@runs_app.command("list")
def runs_list(
    runs_dir: RunsDirOption = None,
    limit: Annotated[int, typer.Option(min=1, help="Show this many of the latest runs.")] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")] = False,
) -> None:
    """The latest runs: id, start, status, steps, tokens, task."""
    import time as _time

    from agentkit.store import default_runs_dir, list_runs, unreadable_files

    folder = runs_dir or default_runs_dir()
    runs = list_runs(folder)[-limit:] if folder.is_dir() else []
    bad = unreadable_files(folder) if folder.is_dir() else []
    if bad:
        names = ", ".join(p.name for p in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        Console(stderr=True, highlight=False, emoji=False).print(
            f"[yellow]{len(bad)} file(s) in {folder.resolve()} are not transcripts agentkit can read "
            f"(their first line is not JSON; cut short or not a transcript), left out: {escape(names)}[/]"
        )
    if json_out:
        for r in runs:
            row = {"id": r.run_id, "started": r.started, "status": r.status, "steps": r.steps,
                   "tokens": r.tokens, "task": r.task, "path": str(r.path)}  # fmt: skip
            print(json.dumps(row, ensure_ascii=False))
        return
    if not runs:
        Console(stderr=True, highlight=False, emoji=False).print(f"[dim]no runs in {folder}[/]")
        return
    from rich.table import Table

    table = Table(box=None, highlight=False)
    table.add_column("id", no_wrap=True, min_width=12)  # whole on a narrow terminal: it is what you copy
    table.add_column("started", no_wrap=True, min_width=16)
    for name in ("status", "steps", "tokens", "task"):
        table.add_column(name)
    colors = {"answer": "green", "running": "cyan", "killed": "red", "error": "red", "interrupted": "yellow"}
    for r in runs:
        when = _time.strftime("%Y-%m-%d %H:%M", _time.localtime(r.started))
        status = f"[{colors.get(r.status, 'yellow')}]{r.status}[/]"
        table.add_row(
            r.run_id, when, status, str(r.steps), f"{r.tokens:,}", escape(_clip(" ".join(r.task.split()), 60))
        )
    Console(highlight=False, emoji=False).print(table)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The run's id (or a unique start of it).")],
    runs_dir: RunsDirOption = None,
    thinking: Annotated[
        bool, typer.Option("--thinking", help="Show the thinking in full (folded by default).")
    ] = False,
    full: Annotated[bool, typer.Option("--full", help="Show tool arguments and results in full.")] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the transcript's records as they are.")
    ] = False,
) -> None:
    """One run, readable: each step's decision, thinking, text, tool calls and results, timings."""
    from agentkit.store import find_run, load_run

    try:
        saved = load_run(find_run(run_id, runs_dir))
    except AgentkitError as exc:
        raise _fail(str(exc), 2) from None
    if json_out:
        for record in saved.records:
            print(json.dumps(record, ensure_ascii=False))
        return
    _show(saved, Console(highlight=False, emoji=False, soft_wrap=True), thinking=thinking, full=full)


@runs_app.command("view")
def runs_view(
    run_id: Annotated[
        Optional[str],
        typer.Argument(
            metavar="RUN_ID", help="Open at this run (its id or a unique start of it).", show_default=False
        ),
    ] = None,
    runs_dir: RunsDirOption = None,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0: a free one).")] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the address; open no browser.")
    ] = False,
) -> None:
    """The runs in your browser: a list to filter and search, each run as a timeline of its
    steps (live while it runs), batches as tables of their runs.

    The page is served on 127.0.0.1 only, at an address with a secret token, until Ctrl-C.
    """
    from agentkit.store import default_runs_dir, find_run
    from agentkit.viewer import RunViewer

    folder = runs_dir or default_runs_dir()
    try:
        if run_id is not None:
            run_id = find_run(run_id, folder).stem.rsplit("-", 1)[-1]
        viewer = RunViewer(folder, port=port)
    except AgentkitError as exc:
        raise _fail(str(exc), 2) from None
    except OSError as exc:
        raise _fail(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; pick another --port", 2
        ) from None
    url = viewer.url(run_id)
    err = Console(stderr=True, highlight=False, emoji=False)
    err.print(f"[dim]the runs of {escape(str(folder))}, until Ctrl-C, at:[/]")
    print(url, flush=True)
    if not no_browser:
        import threading
        import webbrowser

        def browse() -> None:  # a terminal's browser (no display) holds its caller until it quits
            if not webbrowser.open(url):
                err.print("[dim]no browser could be opened: open the address above[/]")

        threading.Thread(target=browse, name="agentkit-browser", daemon=True).start()
    with viewer:
        try:
            viewer.serve_forever()
        except KeyboardInterrupt:
            err.print("[dim]viewer stopped[/]")


def _show_call(
    out: Console,
    call: dict[str, Any],
    done: dict[str, Any] | None,
    limit: int,
    approval: dict[str, Any] | None,
) -> None:
    """One tool call of a shown run, with its approval if one was asked, and its result (or
    that it never finished)."""
    if call.get("kind") == "call":
        args = json.dumps(call.get("arguments"), ensure_ascii=False)
    else:
        args = call.get("raw") or ""
    out.print(f"[yellow]→[/] [bold]{escape(call.get('name') or '?')}[/] {escape(_clip(args, limit))}")
    if approval is not None:
        out.print(_approval_line(approval))
    if done is None:
        out.print("[red]✗[/] [dim]never finished (the run stopped while it ran)[/]")
        return
    result = done.get("result") or {}
    mark = "[red]✗[/]" if result.get("is_error") else "[green]←[/]"
    text = (result.get("full_content") or result.get("content") or "").replace("\n", " ⏎ ")
    took = f"[dim]{done.get('duration', 0):.2f}s[/]"
    out.print(f"{mark} {escape(call.get('name') or '?')} {took} {escape(_clip(text, limit))}")


def _approval_line(record: dict[str, Any]) -> str:
    """How a `tool_approval` record reads in `runs show`."""
    verdict = "[green]allowed[/]" if record.get("allowed") else "[red]refused[/]"
    by = "by the approver" if record.get("decided_by") == "approver" else "by policy"
    policy = escape(str(record.get("policy") or ""))
    waited = f" after {record.get('waited') or 0:.2f}s" if record.get("decided_by") == "approver" else ""
    return f"[magenta]⚖[/] approval ({policy}): {verdict} {by}{waited}"


def _show(saved: Any, out: Console, *, thinking: bool, full: bool) -> None:
    """A transcript for a person: per step, its decision, thinking (folded), text, each call
    with its result, retries and compactions, and timings."""
    import time as _time

    head = saved.records[0]
    config = head.get("config") or {}
    when = _time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(head.get("started") or 0))
    out.print(f"[bold]run {saved.run_id}[/] · {saved.status} · started {when}")
    where = " · ".join(str(config.get(k) or "") for k in ("backend", "model", "base_url") if config.get(k))
    out.print(f"[dim]{escape(where)}[/]")
    out.print(f"[bold]task:[/] {escape(saved.task)}")
    view = _TranscriptView(saved.records, out, thinking=thinking, limit=10**9 if full else 300)
    for record in saved.records[1:]:
        view.show(record)
    if config.get("chat"):
        out.print(f"[dim]go on with: agentkit chat --resume {saved.run_id}[/]")
    elif saved.status not in ("answer", "running"):
        out.print(f"[dim]go on with: agentkit runs resume {saved.run_id}[/]")


class _TranscriptView:
    """Prints a transcript's records for `runs show`, one handler per kind of record; kinds
    it has no handler for are not shown."""

    def __init__(self, records: list[dict[str, Any]], out: Console, *, thinking: bool, limit: int) -> None:
        self.out, self.thinking, self.limit = out, thinking, limit
        self.results: dict[str, dict[str, Any]] = {}
        self.in_turns: set[str] = set()  # calls a finished turn lists (shown with it)
        self.approvals: dict[str, dict[str, Any]] = {}
        for record in records:
            if record.get("type") == "tool_call_finished":
                self.results[str((record.get("call") or {}).get("id"))] = record
            elif record.get("type") == "tool_approval":
                self.approvals[str(record.get("call_id"))] = record
            elif record.get("type") == "turn_finished":
                self.in_turns.update(str(call.get("id")) for call in record.get("calls") or ())

    SHOWN = (
        "run_started", "step_started", "turn_finished", "tool_call_started", "step_finished",
        "model_retry", "compacted", "mcp_sampling", "mcp_elicitation", "server_status",
        "run_finished", "run_failed", "run_interrupted", "run_resumed", "user_turn",
    )  # fmt: skip

    def show(self, record: dict[str, Any]) -> None:
        kind = record.get("type")
        if kind in self.SHOWN:
            getattr(self, f"_{kind}")(record)

    def _mcp_sampling(self, record: dict[str, Any]) -> None:
        self.out.print(cli_asks.describe_record(record))

    _mcp_elicitation = _mcp_sampling

    def _run_started(self, record: dict[str, Any]) -> None:
        if record.get("sandbox"):
            self.out.print(f"[dim]sandbox: {escape(record['sandbox'])}[/]")

    def _step_started(self, record: dict[str, Any]) -> None:
        d = record.get("decision") or {}
        mode = "thinking" if d.get("think") else "no thinking"
        reason = escape(d.get("reason") or "")
        self.out.print(f"\n[bold cyan]● step {record.get('step')}[/] · {mode} [dim]({reason})[/]")

    def _turn_finished(self, record: dict[str, Any]) -> None:
        """The model's turn, then its calls with their results."""
        message = record.get("message") or {}
        reasoning = (message.get("reasoning") or "").strip()
        if reasoning:
            first = reasoning.splitlines()[0]
            if not self.thinking and first != reasoning:
                reasoning = f"{_clip(first, 120)} … ({len(reasoning):,} characters; --thinking shows all)"
            self.out.print(Text(reasoning, style="dim italic"))
        if message.get("content"):
            self.out.print(Text(message["content"]))
        for call in record.get("calls") or ():
            found = str(call.get("id"))
            _show_call(self.out, call, self.results.get(found), self.limit, self.approvals.get(found))

    def _tool_call_started(self, record: dict[str, Any]) -> None:
        """A call started while the model wrote a turn that never ended (others show with
        their turn)."""
        call = record.get("call") or {}
        if str(call.get("id")) not in self.in_turns:
            found = str(call.get("id"))
            _show_call(
                self.out,
                {"kind": "call", **call},
                self.results.get(found),
                self.limit,
                self.approvals.get(found),
            )

    def _step_finished(self, record: dict[str, Any]) -> None:
        usage = record.get("usage") or {}
        tokens = f"{usage.get('prompt_tokens', 0)}+{usage.get('completion_tokens', 0)} tokens"
        took = f"{record.get('duration', 0):.2f}s"
        self.out.print(f"[dim]  {took} · {tokens} · {record.get('finish_reason')}[/]")

    def _model_retry(self, record: dict[str, Any]) -> None:
        self.out.print(f"[dim]↻ attempt {record.get('attempt')}: {escape(record.get('reason') or '')}[/]")

    def _compacted(self, record: dict[str, Any]) -> None:
        before, after = record.get("tokens_before") or 0, record.get("tokens_after") or 0
        self.out.print(f"[dim]⇣ context {before:,} → {after:,} tokens[/]")

    def _server_status(self, record: dict[str, Any]) -> None:
        state = "ready" if record.get("ok") else f"failed: {record.get('error')}"
        self.out.print(f"[dim]MCP server {escape(record.get('name') or '')}: {escape(state)}[/]")

    def _run_finished(self, record: dict[str, Any]) -> None:
        self.out.print(
            f"\n[bold]{escape(stop_reason_of(record.get('stop_reason') or ''))}[/] after "
            f"{record.get('steps')} step(s)"
        )

    def _run_failed(self, record: dict[str, Any]) -> None:
        self.out.print(f"\n[red]failed:[/] {escape(record.get('error') or '')}")

    def _run_interrupted(self, record: dict[str, Any]) -> None:
        self.out.print(f"\n[yellow]interrupted[/] ({escape(record.get('reason') or '')})")

    def _run_resumed(self, record: dict[str, Any]) -> None:
        self.out.print("[dim]— resumed —[/]")

    def _user_turn(self, record: dict[str, Any]) -> None:
        """A chat's next message."""
        self.out.print(f"\n[bold]task:[/] {escape((record.get('message') or {}).get('content') or '')}")


def _either(on: bool, off: bool, flag: str) -> Optional[bool]:
    """A setting a resumed run may change: on, off (`--no-...`), or as it was (None)."""
    if on and off:
        raise _fail(f"give {flag} or --no-{flag[2:]}, not both", 2)
    return True if on else False if off else None


@runs_app.command("resume")
@shared_options(
    "api_key", "max_steps", "max_run_tokens", "timeout", "tools", "connect_timeout", "idle_timeout",
    "retries", "retry_time", "context_window", "sandbox", "sandbox_network", "yes", "json_events",
    "hide_thinking",
    max_steps="A new step limit for the whole run.",
    max_run_tokens="A new token limit for the whole run.",
    timeout="Time this part of the run may take.",
    tools="Tool files to use instead of the run's (repeatable).",
    context_window="Context window in tokens.",
)  # fmt: skip
def runs_resume(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The run's id (or a unique start of it).")],
    runs_dir: RunsDirOption = None,
    base_url: Annotated[
        Optional[str], typer.Option(metavar="URL", help="Another server to go on with.", show_default=False)
    ] = None,
    api_key: Optional[str] = None,
    max_steps: Optional[int] = None,
    max_run_tokens: Optional[int] = None,
    timeout: Optional[float] = None,
    model: Annotated[
        Optional[str], typer.Option(metavar="NAME", help="Another served model name.", show_default=False)
    ] = None,
    tools: Optional[list[Path]] = None,
    connect_timeout: Optional[float] = None,
    idle_timeout: Optional[float] = None,
    retries: Optional[int] = None,
    retry_time: Optional[float] = None,
    context_window: Optional[int] = None,
    sandbox: Optional[SandboxName] = None,
    sandbox_network: bool = False,
    no_sandbox_network: Annotated[
        bool,
        typer.Option("--no-sandbox-network", help="Take the host's network away from code in the sandbox."),
    ] = False,
    yes: bool = False,
    json_events: bool = False,
    hide_thinking: bool = False,
) -> None:
    """Go on with a stopped run from its last finished step.

    A run killed, interrupted, failed or stopped at a limit goes on with the options it
    was started with (those given here replace them). Finished tool calls are not run again.
    """
    from agentkit.store import find_run, load_run

    try:
        saved = load_run(find_run(run_id, runs_dir))
    except AgentkitError as exc:
        raise _fail(str(exc), 2) from None
    if saved.status == "answer" and saved.config.get("chat"):
        raise _fail(f"run {saved.run_id} is a chat; go on with it: agentkit chat --resume {saved.run_id}", 2)
    if saved.status == "answer":
        raise _fail(
            f"run {saved.run_id} already answered; `agentkit runs show {saved.run_id}` shows it, and "
            "`agentkit run` starts a new task",
            2,
        )
    cli = saved.config.get("cli")
    if not isinstance(cli, dict):
        raise _fail(
            f"run {saved.run_id} was started from Python, not the command line; resume it there with "
            "agent.resume(run_id) on an Agent configured like the first",
            2,
        )
    options = RunOptions.restore(
        cli, task=saved.task, base_url=base_url, api_key=api_key, max_steps=max_steps,
        max_run_tokens=max_run_tokens, timeout=timeout,
        model=model, tools=tools or None, connect_timeout=connect_timeout, idle_timeout=idle_timeout,
        retries=retries, retry_time=retry_time, context_window=context_window, sandbox=sandbox,
        sandbox_network=_either(sandbox_network, no_sandbox_network, "--sandbox-network"), yes=yes or None,
        json_events=json_events or None, hide_thinking=hide_thinking or None,
        runs_dir=runs_dir or saved.path.parent,
    )  # fmt: skip
    _run(options, resume=saved.run_id)


@app.command()
@shared_options(
    "quantization", "lora", "tensor_parallel_size", "data_parallel_size", "vllm_python",
    lora="A LoRA adapter to serve, asked for as --model NAME (repeatable).",
    data_parallel_size="Copies of the model (each on its own GPUs) vLLM spreads requests over.",
)  # fmt: skip
def serve(
    model: Annotated[
        Optional[str],
        typer.Option(
            metavar="NAME", help="Hugging Face id or local directory (default: Qwen3-4B; Qwen3-0.6B on CPU)."
        ),
    ] = None,
    port: Annotated[int, typer.Option(metavar="N", help="Port to listen on.")] = SERVE_PORT,
    host: Annotated[str, typer.Option(metavar="HOST", help="Interface to listen on.")] = "127.0.0.1",
    gpu_memory_utilization: Annotated[
        Optional[float],
        typer.Option(metavar="SHARE", min=0.01, max=1, help="Share of GPU memory vLLM may take."),
    ] = None,
    max_model_len: Annotated[
        Optional[int],
        typer.Option(
            metavar="TOKENS",
            min=1,
            help="Context window within the model's native one (default 32,768; 8,192 on CPU); "
            "longer: --context.",
            show_default=False,
        ),
    ] = None,
    long_context: Annotated[
        bool,
        typer.Option(
            "--long-context",
            help="Serve the model's longest window: 131,072 with YaRN (2507 releases: 262,144).",
        ),
    ] = False,
    context: Annotated[
        Optional[int],
        typer.Option(
            metavar="TOKENS",
            min=1,
            help="Context window in tokens; past the native window (Qwen3: 32,768) YaRN with the "
            "factor it needs (2 for 65,536). Give one of --context, --max-model-len, --long-context.",
            show_default=False,
        ),
    ] = None,
    quantization: Optional[str] = None,
    lora: Optional[list[str]] = None,
    tensor_parallel_size: Optional[int] = None,
    data_parallel_size: Optional[int] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the vLLM command line and exit.")] = False,
    vllm_python: Optional[str] = None,
    log: Annotated[Optional[Path], typer.Option(metavar="FILE", help="Where the server's log goes.")] = None,
    extra: Annotated[
        Optional[list[str]], typer.Argument(metavar="VLLM_ARGS", help="More vLLM arguments, after `--`.")
    ] = None,
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
        context=context,
        quantization=quantization,
        lora=_adapters(lora or []),
        tensor_parallel_size=tensor_parallel_size,
        data_parallel_size=data_parallel_size,
        python=vllm_python,
        log_path=log,
    )
    try:
        install = find_vllm(vllm_python)
    except AgentkitError as exc:
        if not dry_run:
            raise _fail(str(exc), 2) from None
        install = VllmInstall(vllm_python or sys.executable, "gpu", "")  # show the GPU form
    try:
        server = ManagedServer(config, install)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
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
    Console(stderr=True, highlight=False, emoji=False).print(
        f"[dim]serving {escape(server.served_name)} · Ctrl-C stops it · "
        f'try: agentkit run "hello" --base-url {server.base_url}[/]'
    )
    try:
        code = server.process.wait() if server.process is not None else 0
    except KeyboardInterrupt:
        server.stop()
        Console(stderr=True, highlight=False, emoji=False).print("[dim]stopped[/]")
        return
    raise _fail(
        f"vLLM exited with code {code}. The end of its log ({server.log_path}):\n{server.log_tail()}", 1
    )


mcp_app = typer.Typer(
    help="Inspect and try MCP servers without a model, or serve an agent over MCP.", no_args_is_help=True
)
app.add_typer(mcp_app, name="mcp")

McpConfigOption = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--mcp-config",
        metavar="FILE",
        help="An MCP config file (repeatable).",
        show_default="$AGENTKIT_MCP_CONFIG, else mcp.json in the user's config folder",
    ),
]


def _toolset(paths: Optional[list[Path]], only: Optional[str] = None, asks: Any = None) -> Any:
    from agentkit.mcp.config import (
        McpConfig,
        McpConfigWarning,
        default_mcp_config_path,
        load_mcp_configs,
    )
    from agentkit.mcp.toolset import McpToolset

    if not paths:
        default = default_mcp_config_path()
        if default is None:
            raise _fail(no_mcp_config(), 2)
        paths = [default]
    try:
        with warnings.catch_warnings(record=True) as noted:
            warnings.simplefilter("always", McpConfigWarning)
            config = load_mcp_configs(paths)
        for note in noted:
            typer.echo(f"warning: {note.message}", err=True)
        if only is not None:
            if only not in config.servers:
                from agentkit.mcp.config import closest

                close = closest(only, config.servers)
                raise ConfigError(
                    f"no MCP server named {only!r} in {', '.join(map(str, paths))}"
                    + (f"; did you mean {close!r}?" if close else "")
                    + f"; the servers are: {', '.join(config.servers) or 'none'}"
                )
            config = McpConfig(servers={only: config.servers[only].model_copy(update={"disabled": False})})
        return McpToolset(config, asks=asks)
    except AgentkitError as exc:
        raise _fail(str(exc), 2) from None


@mcp_app.command("list")
def mcp_list(
    mcp_config: McpConfigOption = None,
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
        Console(highlight=False, emoji=False).print(table)
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


def _listing(
    mcp_config: Optional[list[Path]],
    server: Optional[str],
    json_out: bool,
    rows: Callable[[Any], list[dict[str, Any]]],
    lines: Callable[[dict[str, Any]], list[str]],
    none: str,
) -> None:
    """Start the config's servers (or one), print what `rows` finds they offer (as JSON, or
    each row's `lines`), stop them; exit 1 if a server did not start."""
    toolset = _toolset(mcp_config, only=server)

    async def main() -> list[dict[str, Any]]:
        try:
            await toolset.start()
            return rows(toolset)
        finally:
            await toolset.close()

    try:
        found = asyncio.run(main())
    except AgentkitError as exc:
        raise _fail(str(exc), 2) from None
    err = Console(stderr=True, highlight=False, emoji=False)
    for report in toolset.reports:
        if not report.ok:
            err.print(f"[red]✗[/] {escape(report.error or '')}")
    if json_out:
        print(json.dumps(found, ensure_ascii=False, indent=1))
    else:
        out = Console(highlight=False, emoji=False, soft_wrap=True)  # whole names and URIs, to copy
        for row in found:
            for line in lines(row):
                out.print(line)
        if not found:
            out.print(f"[dim]{none}[/]")
    if not all(r.ok for r in toolset.reports):
        raise typer.Exit(1)


@mcp_app.command("prompts")
def mcp_prompts(
    server: Annotated[Optional[str], typer.Argument(help="Only this server.", show_default=False)] = None,
    mcp_config: McpConfigOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the prompts of every server (or one) with their arguments; start a run from one
    with: agentkit run --prompt SERVER/NAME -a NAME=VALUE."""
    from agentkit.cli_mcp import prompt_lines, prompt_rows

    _listing(mcp_config, server, json_out, prompt_rows, prompt_lines, "no prompts")


@mcp_app.command("resources")
def mcp_resources(
    server: Annotated[Optional[str], typer.Argument(help="Only this server.", show_default=False)] = None,
    mcp_config: McpConfigOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the resources and resource templates of every server (or one); attach one to a
    task with: agentkit run TASK --attach SERVER:URI."""
    from agentkit.cli_mcp import resource_lines, resource_rows

    _listing(mcp_config, server, json_out, resource_rows, resource_lines, "no resources")


def _server_config(paths: Optional[list[Path]], name: str) -> Any:
    """One server of the config (even a disabled one), or a failure naming the servers."""
    return _toolset(paths, only=name).config.servers[name]


def _remote_server_config(paths: Optional[list[Path]], name: str) -> Any:
    """A remote server of the config, for `mcp login` and `mcp logout`; a local one is bad
    usage (exit 2)."""
    config = _server_config(paths, name)
    if not config.url:
        raise _fail(
            f"MCP server {name!r} is a local server (it runs {config.describe()}): OAuth is for remote "
            "servers ('url'), and agentkit keeps no tokens for a local one; give it its secrets in 'env'",
            2,
        )
    return config


@mcp_app.command("login")
def mcp_login(
    server: Annotated[str, typer.Argument(help="The server's name in the config.")],
    mcp_config: McpConfigOption = None,
    timeout: Annotated[
        Optional[float],
        typer.Option(
            help="Seconds to wait for you in the browser.",
            show_default=f"{OAUTH_LOGIN_TIMEOUT:g}, or the server's login_timeout",
        ),
    ] = None,
) -> None:
    """Authorize agentkit with a remote server that uses OAuth, in the browser, ahead of a run.

    The tokens are kept in agentkit's user config folder (oauth/), readable by you only, and
    refreshed by later runs when they expire.
    """
    from agentkit.mcp.oauth import login, token_path

    config = _remote_server_config(mcp_config, server)
    try:
        asked = asyncio.run(login(server, config, timeout=timeout))
    except AgentkitError as exc:
        raise _fail(str(exc), 1) from None
    console = Console(highlight=False, emoji=False, soft_wrap=True)
    if asked:
        console.print(
            f"[green]authorized[/] {escape(server)}: tokens kept in {escape(str(token_path(config.url)))}"
        )
    else:
        console.print(f"{escape(server)} let agentkit in without authorization: nothing to keep")


@mcp_app.command("logout")
def mcp_logout(
    server: Annotated[str, typer.Argument(help="The server's name in the config.")],
    mcp_config: McpConfigOption = None,
) -> None:
    """Forget the OAuth tokens and client registration kept for a remote server."""
    from agentkit.mcp.oauth import logout, token_path

    config = _remote_server_config(mcp_config, server)
    console = Console(highlight=False, emoji=False, soft_wrap=True)
    if logout(config):
        console.print(f"forgot the tokens of {escape(server)} ({escape(str(token_path(config.url)))})")
    else:
        console.print(f"no tokens kept for {escape(server)}: nothing to forget")


@mcp_app.command("call")
def mcp_call(
    server: Annotated[str, typer.Argument(help="The server's name in the config.")],
    tool: Annotated[str, typer.Argument(help="The tool's name on that server.")],
    arguments: Annotated[str, typer.Argument(help="The arguments, a JSON object.")] = "{}",
    mcp_config: McpConfigOption = None,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help="Approve the call if the tool asks for approval, and the server's sampling requests; "
            "its forms get their defaults.",
        ),
    ] = False,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the raw MCP result (content, structuredContent, isError) as JSON."
        ),
    ] = False,
    out: Annotated[
        Optional[Path],
        typer.Option(
            "--out", metavar="DIR", help="Save images, audio and binary resources here.", show_default=False
        ),
    ] = None,
    base_url: cli_asks.BaseUrlOption = None,
    model: cli_asks.ModelOption = None,
    api_key: cli_asks.ApiKeyOption = None,
    script: cli_asks.ScriptOption = None,
) -> None:
    """Call one tool of one server, as the agent would, and print the result.

    A tool that needs approval (destructive, or named in the config's `require_approval`)
    asks at the terminal; `--yes` approves it. Images, audio and binary resources in the
    result are saved as files in the current folder (or `--out DIR`) and the text names
    them; with `--json` the result is printed as the server sent it (base64 data included)
    and files are saved only with `--out`.

    A server that asks for a model answer (sampling) gets one from the model at `--base-url`
    once approved at the terminal (or by `--yes`); a form it asks for is filled in at the
    terminal (with `--yes`, or with no terminal, its defaults are sent when every required
    field has one, else it is declined).

    Exit codes: 0 the tool answered · 1 the tool answered with an error, or its server failed
    during the call · 2 bad input: arguments, config, server or tool name, or a server that
    did not start · 3 the call was not approved.
    """
    from agentkit.mcp.session import McpServerError
    from agentkit.mcp.tools import prefixed_name
    from agentkit.messages import ToolCall

    parsed = _json_object(arguments)
    err = Console(stderr=True, highlight=False, emoji=False)
    try:
        asks = cli_asks.mcp_call_asks(
            server, err, yes=yes, base_url=base_url, model=model, api_key=api_key, script=script
        )
    except AgentkitError as exc:
        raise _fail(str(exc), 2) from None
    refusals: list[str] = []  # the asks not answered, each already shown with its reason
    shown = asks.on_event

    def noting(event: Any) -> None:
        if getattr(event, "error", None):
            refusals.append(event.error)
        if shown is not None:
            shown(event)

    asks.on_event = noting
    toolset = _toolset(mcp_config, only=server, asks=asks)
    approver = _TerminalApprover(err, _Renderer(Console(), err, False), approve_all=yes)

    async def progress(done: float, total: Optional[float], message: Optional[str]) -> None:
        err.print(f"[dim]… {done:g}{f'/{total:g}' if total else ''} {escape(message or '')}[/]")

    async def main() -> Any:
        try:
            found = await _started_tool(toolset, server, tool, parsed, mcp_config or [])
            if found.approval != "auto" and not await approver(
                ToolCall(prefixed_name(server, tool), parsed), found
            ):
                raise _fail(f"{tool} was not approved, so it did not run", 3)
            try:
                return await found.server.call_tool(tool, parsed, progress=progress)
            except McpServerError as exc:
                message = str(exc)
                for refusal in refusals:
                    message = message.replace(refusal, "its request was not answered (the reason is above)")
                raise _fail(message, 1) from None
        finally:
            await toolset.close()
            if asks.backend is not None:
                await asks.backend.aclose()

    try:
        result = asyncio.run(main())
    except AgentkitError as exc:
        raise _fail(str(exc), 2) from None
    _print_call_result(result, tool, err, json_out=json_out, out=out)
    if result.is_error:
        raise typer.Exit(1)


def _json_object(arguments: str) -> dict[str, Any]:
    """`mcp call`'s arguments, which must be a JSON object."""
    try:
        parsed = json.loads(arguments)
    except ValueError as exc:
        raise _fail(
            f'the arguments are not valid JSON ({exc}); give a JSON object, e.g. \'{{"city": "Paris"}}\'', 2
        ) from None
    if not isinstance(parsed, dict):
        raise _fail(
            f'the arguments must be a JSON object, not {type(parsed).__name__}; e.g. \'{{"city": "Paris"}}\'',
            2,
        )
    return parsed


async def _started_tool(
    toolset: Any, server: str, tool: str, arguments: dict[str, Any], configs: list[Path]
) -> Any:
    """Start `mcp call`'s one server and find its tool, refusing (exit 2) a server that did not
    start, a tool it lacks, or arguments that do not fit the tool's input schema."""
    from agentkit.mcp.tools import McpTool

    await toolset.start()
    if toolset.reports and not toolset.reports[0].ok:
        raise _fail(toolset.reports[0].error or f"MCP server {server!r} did not start", 2)
    tools = {t.remote_name: t for t in toolset.tools() if isinstance(t, McpTool)}
    found = tools.get(tool)
    if found is None:
        raise _fail(_no_such_tool(server, tool, list(tools)), 2)
    problem = _argument_problem(found.parameters, arguments)
    if problem:
        raise _fail(_arguments_message(server, tool, found.parameters, problem, configs), 2)
    return found


def _print_call_result(result: Any, tool: str, err: Console, *, json_out: bool, out: Optional[Path]) -> None:
    """`mcp call`'s result: as text (its files saved, and named in it), or as the server sent
    it with `--json` (files saved only with `--out`)."""
    from agentkit.mcp.tools import result_text, save_files

    files = []
    if out is not None or not json_out:
        here = Path.cwd()
        files = save_files(result, (out or here).resolve(), tool, shown_from=here)
    if not json_out:
        print(result_text(result, files))
        return
    raw = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    print(json.dumps(raw, ensure_ascii=False, indent=1))
    for saved in files:
        if saved is not None:
            err.print(
                f"[dim]saved {escape(saved.shown)} ({saved.mime_type})[/]"
                if saved.error is None
                else f"[yellow]⚠[/] {escape(saved.shown)}: {escape(saved.error)}"
            )


@mcp_app.command("serve")
@agent_options
def mcp_serve(
    http: Annotated[
        Optional[int],
        typer.Option(
            "--http",
            metavar="PORT",
            min=0,
            help="Serve streamable HTTP at http://HOST:PORT/mcp (0: any free port) instead of stdio.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str,
        typer.Option(
            metavar="HOST",
            help="Interface for --http; other than loopback: anyone who reaches it runs the agent.",
        ),
    ] = "127.0.0.1",
    name: Annotated[
        str, typer.Option(metavar="NAME", help="The server's name, as clients show it.")
    ] = "agentkit",
    tool_name: Annotated[
        str, typer.Option(metavar="NAME", help="The name of the tool that runs a task.")
    ] = "run_agent",
    concurrency: Annotated[
        int, typer.Option(metavar="N", min=1, help="Runs at once; more calls wait for a slot.")
    ] = DEFAULT_SERVE_CONCURRENCY,
    *,
    options: RunOptions,
) -> None:
    """Serve the agent over MCP: one tool that takes a task and returns the answer.

    MCP clients (Claude Desktop, Cursor, VS Code, another agentkit) then delegate tasks
    to a local Qwen3 agent with the tools, MCP servers and built-ins the options give.
    Each step is reported as progress; cancelling the call stops the run. Over stdio
    (the default) stdout carries only the protocol; logs go to stderr.

    Tools that need approval are refused unless `--yes` (or `--allow TOOL`), or the
    client answers a form elicitation (protocols before 2026-07-28).
    """
    from agentkit.mcp.server import LOOPBACK_HOSTS, AgentServer, ClientApprover, log_to_stderr

    err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)
    if http is None and host != "127.0.0.1":
        raise _fail("--host goes with --http PORT (stdio has no address)", 2)
    if http is not None and host not in LOOPBACK_HOSTS:
        err.print(
            f"[yellow]⚠[/] serving on {escape(host)}: anyone who can reach it can run the agent and its "
            "tools, with no authentication; prefer 127.0.0.1 (the default) or an SSH tunnel"
        )
    log_to_stderr(options.verbose)
    with _served(options):
        try:
            agent = build_agent(options, ClientApprover(approve_all=options.yes))
            server = AgentServer(
                agent,
                name=name,
                tool_name=tool_name,
                concurrency=concurrency,
                budget=options.budget,
                verbose=options.verbose,
            )
        except (AgentkitError, ValueError, TypeError) as exc:
            raise _fail(str(exc), 2) from None

        def ready(url: str) -> None:
            err.print(f"[green]●[/] serving MCP at {url} [dim](tool {escape(tool_name)}; Ctrl-C stops it)[/]")

        async def main() -> None:
            if http is None:
                _on_signals([])
                if sys.stdin.isatty():
                    err.print(
                        "[dim]serving MCP on stdin and stdout: an MCP client starts this command (see the "
                        "README); Ctrl-C stops it[/]"
                    )
                try:
                    await server.serve_stdio()
                except asyncio.CancelledError:  # the agent's servers are stopped; the SDK's stdin
                    sys.stderr.flush()  # reader thread would hold the exit until stdin closes
                    os._exit(0)
            else:
                loop = asyncio.get_running_loop()
                for name in _SIGNALS:  # uvicorn stops taking requests, then the calls end
                    with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows' loop
                        loop.add_signal_handler(getattr(signal, name), server.stop_http)
                await server.serve_http(host, http, on_ready=ready, verbose=options.verbose)

        try:
            asyncio.run(main())
        except (asyncio.CancelledError, KeyboardInterrupt):
            return
        except AgentkitError as exc:
            raise _fail(str(exc), 2) from None


def _no_such_tool(server: str, tool: str, names: list[str]) -> str:
    from agentkit.mcp.config import closest

    close = closest(tool, names)
    hint = f" Did you mean {close!r}?" if close else ""
    return f"MCP server {server!r} has no tool {tool!r}.{hint} Its tools: {', '.join(names) or 'none'}"


def _argument_problem(schema: dict[str, Any], arguments: dict[str, Any]) -> list[str]:
    """What is wrong with `arguments` against a tool's input schema, one line per problem."""
    from agentkit.tools.arguments import schema_problems, schema_validator

    validator = schema_validator(schema)
    if validator is False:  # a broken schema: the server judges its arguments itself
        return []
    return schema_problems(validator, arguments)


def _arguments_message(
    server: str, tool: str, schema: dict[str, Any], problems: list[str], configs: list[Path]
) -> str:
    from agentkit.tools.arguments import schema_signature

    example = json.dumps(_example_arguments(schema), ensure_ascii=False)
    config = " ".join(f"--mcp-config {p}" for p in configs)
    lines = [f"the arguments do not fit the input schema of {tool}:"]
    lines += [f"  - {problem}" for problem in problems]
    lines += [
        f"It takes {schema_signature(schema)}.",
        f"For example: agentkit mcp call {server} {tool} '{example}' {config}",
    ]
    return "\n".join(lines)


def _example_arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments that show a tool's shape: its required properties (all, if none is required),
    each with its default, first example or enum value, or a value of its type."""
    props = schema.get("properties") or {}
    required = [name for name in schema.get("required") or [] if name in props]
    return {name: _example_value(props[name]) for name in required or list(props)}


def _example_value(prop: Any) -> Any:
    if not isinstance(prop, dict):
        return "..."
    for key in ("default", "const"):
        if key in prop:
            return prop[key]
    for key in ("examples", "enum"):
        if prop.get(key):
            return prop[key][0]
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None and isinstance(prop.get("anyOf"), list) and prop["anyOf"]:
        return _example_value(next((p for p in prop["anyOf"] if p.get("type") != "null"), prop["anyOf"][0]))
    if kind == "object":
        return _example_arguments(prop)
    if kind == "array":
        items = prop.get("items")
        return [_example_value(items)] if isinstance(items, dict) and items else []
    return {"string": "text", "integer": 1, "number": 1.5, "boolean": True, "null": None}.get(
        str(kind), "..."
    )


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", "-V", help="Print the version and exit.")] = False,
) -> None:
    if version:
        from agentkit import __version__

        print(f"agentkit {__version__}")
        raise typer.Exit()


def main() -> None:
    """Entry point of the `agentkit` console script."""
    from agentkit.mcp.config import McpConfigWarning

    shown = warnings.showwarning

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, McpConfigWarning):  # found once servers run: as the config's own
            typer.echo(f"warning: {message}", err=True)
        else:
            shown(message, category, *args, **kwargs)

    warnings.showwarning = show
    app()


if __name__ == "__main__":
    main()
