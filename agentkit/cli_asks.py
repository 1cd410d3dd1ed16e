"""What MCP servers ask, put to the person at the terminal: may a server's sampling request
use the model, and what goes in a server's form (or may its page be opened).

With `--yes`, or with no terminal to ask, no question is asked: sampling is approved only
with `--yes` (without, servers are told to pass it), and a form is accepted only when each of
its required fields has a default (with the defaults); a URL request is declined.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from agentkit.defaults import DEFAULT_MCP_FORM_TRIES
from agentkit.events import Event, McpElicitation, McpSampling
from agentkit.mcp.asks import (
    ElicitationAnswer,
    ElicitationRequest,
    FormField,
    McpAsks,
    SamplingApprover,
    SamplingRequest,
)
from agentkit.messages import Usage

__all__ = [
    "ApiKeyOption",
    "BaseUrlOption",
    "ModelOption",
    "ScriptOption",
    "TerminalAsks",
    "describe_ask",
    "describe_record",
    "mcp_call_asks",
    "read_choice",
]

Reader = Callable[[str], Awaitable[Optional[str]]]
"""Reads one answer at the terminal, as typed (None: the input ended, Ctrl-D)."""


class TerminalAsks:
    """Puts MCP servers' sampling and elicitation requests to the person at the terminal.

    Args:
        err: Where questions go (stderr).
        pause: Ends any line the run's output left open, before a question.
        approve_all: `--yes`: sampling is approved and forms take their defaults, unasked.
        interactive: Whether there is a person to ask (default: stdin is a terminal).
        read: Reads an answer (default: a line of stdin, in a daemon thread).
        tries: Answers not understood (a form field's, or a yes/no question's) before the
            form is cancelled or the question taken as no.
    """

    def __init__(
        self,
        err: Console,
        pause: Callable[[], None] = lambda: None,
        *,
        approve_all: bool = False,
        interactive: bool | None = None,
        read: Reader | None = None,
        tries: int = DEFAULT_MCP_FORM_TRIES,
    ) -> None:
        self.err = err
        self.pause = pause
        self.approve_all = approve_all
        self.interactive = sys.stdin.isatty() if interactive is None else interactive
        self.read = read or read_line
        self.tries = tries
        self.always: set[str] = set()  # servers allowed to sample without asking again
        self.lock = asyncio.Lock()

    @property
    def sampling(self) -> SamplingApprover | None:
        """The approver to give the agent (`on_sampling`): None when no one can approve, with
        no terminal and no `--yes`, so that servers are told how to get approval."""
        return self.approve_sampling if self.approve_all or self.interactive else None

    async def approve_sampling(self, request: SamplingRequest) -> bool:
        """Whether the server may use the model for this request (asked at the terminal)."""
        if self.approve_all or request.server in self.always:
            return True
        async with self.lock:
            self.pause()
            thinking = "thinking" if request.think else "no thinking"
            self.err.print(
                f"[bold yellow]?[/] MCP server [bold]{escape(request.server)}[/] asks the model "
                f"[dim](at most {request.max_tokens} tokens, {thinking})[/]: {escape(request.summary)}"
            )
            question = "Allow it? [y]es / [n]o / [a]lways for this server: "
            answer = await read_choice(
                self.read, self.err, question, ("yes", "no", "always"), refusal="no", tries=self.tries
            )
        if answer == "always":
            self.always.add(request.server)
        return answer in ("yes", "always")

    async def elicit(self, request: ElicitationRequest) -> ElicitationAnswer:
        """The person's answer to a server's form or URL request."""
        if self.approve_all or not self.interactive:
            defaults = request.defaults()
            return ElicitationAnswer("decline") if defaults is None else ElicitationAnswer("accept", defaults)
        async with self.lock:
            self.pause()
            server = f"[bold]{escape(request.server)}[/]"
            self.err.print(f"[bold yellow]?[/] MCP server {server} asks: {escape(request.message)}")
            if request.mode == "url":
                self.err.print(f"  [cyan]{escape(request.url or '')}[/]")
                question = "Open it in your browser? [y]es / [n]o / [c]ancel: "
            else:
                question = "Fill in the form? [y]es / [n]o / [c]ancel: "
            answer = await read_choice(
                self.read, self.err, question, ("yes", "no", "cancel"), refusal="cancel", tries=self.tries
            )
            if answer == "no":
                return ElicitationAnswer("decline")
            if answer != "yes":
                return ElicitationAnswer("cancel")
            if request.mode == "url":
                return ElicitationAnswer("accept")
            content: dict[str, Any] = {}
            for item in request.fields:
                value = await self._field(item)
                if value is _CANCELLED:
                    return ElicitationAnswer("cancel")
                if value is not None:
                    content[item.name] = value
            return ElicitationAnswer("accept", content)

    async def _field(self, item: FormField) -> Any:
        """One field's value, asked again after an answer that does not fit (None: left out;
        `_CANCELLED`: the input ended, or too many answers did not fit)."""
        if item.description:
            self.err.print(f"  [dim]{escape(item.description)}[/]")
        if item.options:
            listed = ", ".join(f"{n}) {title}" for n, title in enumerate(item.option_titles, 1))
            self.err.print(f"  [dim]{escape(listed)}{' · several: 1,3' if item.kind == 'choices' else ''}[/]")
        prompt = f"  {item.title}{_hint(item)}: "
        for _ in range(self.tries):
            text = await self.read(prompt)
            if text is None:
                return _CANCELLED
            try:
                return item.read(text)
            except ValueError as exc:
                self.err.print(f"  [red]✗[/] {escape(str(exc))}")
        self.err.print(f"  [yellow]⚠[/] no answer fitted {escape(item.title)}; the form is cancelled")
        return _CANCELLED


_CANCELLED = object()


async def read_choice(
    read: Reader | Callable[[str], Awaitable[str]],
    err: Console,
    question: str,
    choices: tuple[str, ...],
    *,
    refusal: str,
    tries: int = DEFAULT_MCP_FORM_TRIES,
) -> str:
    """The person's choice among `choices` (words with different first letters).

    An answer is a choice or its start ("y", "ye", "yes", any case). One that is not is asked
    again, saying which answers are accepted; an empty answer, the end of input, or `tries`
    answers not understood are `refusal` (no, cancel): what is not understood never allows.
    """
    accepted = ", ".join(f"{choice[0]} ({choice})" for choice in choices)
    for _ in range(tries):
        text = await read(question)
        answer = (text or "").strip().lower()
        if not answer:
            return refusal
        chosen = next((choice for choice in choices if choice.startswith(answer)), None)
        if chosen is not None:
            return chosen
        err.print(f"  [red]✗[/] {escape(repr(text))} is not an answer here; type one of {accepted}")
    err.print(f"  [yellow]⚠[/] no answer was understood, so it is {refusal}")
    return refusal


def _hint(item: FormField) -> str:
    """What goes after a field's title in its prompt: its kind, required mark, default."""
    kind = {"boolean": "y/n", "integer": "whole number", "number": "number"}.get(item.kind)
    parts = [kind] if kind else []
    if item.format:
        parts.append(item.format)
    if item.minimum is not None or item.maximum is not None:
        low = f"{item.minimum:g}" if item.minimum is not None else ""
        high = f"{item.maximum:g}" if item.maximum is not None else ""
        parts.append(f"{low}..{high}")
    shown = f" ({', '.join(parts)})" if parts else ""
    if item.required:
        shown += " *"
    if item.has_default:
        default = item.default
        if isinstance(default, bool):
            default = "yes" if default else "no"
        elif isinstance(default, list):
            default = ",".join(map(str, default))
        shown += f" [{default}]"
    return shown


async def read_line(prompt: str) -> str | None:
    """A line from the terminal, as typed, read in a daemon thread (a run stopped meanwhile
    does not wait for it); None when the input ended."""
    from agentkit._threads import in_daemon_thread

    return await in_daemon_thread(_read_line, prompt)


def _read_line(prompt: str) -> str | None:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    return line.rstrip("\r\n") if line else None


def describe_ask(event: McpSampling | McpElicitation) -> str:
    """One line of rich markup for what a server asked and how it was answered."""
    if isinstance(event, McpSampling):
        what = f"MCP server {escape(event.server)} asked the model: {escape(event.request)}"
        if event.error:
            return f"[yellow]◆[/] {what} [dim]· not answered: {escape(event.error)}[/]"
        usage = event.usage
        tokens = (
            f"{usage.prompt_tokens}+{usage.completion_tokens} tokens" if usage is not None else "no usage"
        )
        return f"[magenta]◆[/] {what} [dim]· {tokens} · {event.stop_reason}[/]"
    what = f"MCP server {escape(event.server)} asked: {escape(event.message)}"
    outcome = {"accept": "accepted", "decline": "declined", "cancel": "cancelled"}.get(
        event.action, event.action
    )
    if event.mode == "url":
        outcome += f" ({escape(event.url or '')})"
    elif event.action == "accept" and event.content:
        outcome += f" ({escape(', '.join(f'{k}={v}' for k, v in event.content.items()))})"
    note = f" · {escape(event.error)}" if event.error else ""
    return f"[magenta]◆[/] {what} [dim]· {outcome}{note}[/]"


def describe_record(record: Mapping[str, Any]) -> str:
    """`describe_ask` of a transcript's `mcp_sampling` or `mcp_elicitation` line (for
    `agentkit runs show`)."""
    import dataclasses

    kind = McpSampling if record.get("type") == "mcp_sampling" else McpElicitation
    known = {f.name for f in dataclasses.fields(kind)}
    body = {key: value for key, value in record.items() if key in known}
    if kind is McpSampling and isinstance(body.get("usage"), dict):
        body["usage"] = Usage(**body["usage"])
    if kind is McpElicitation:
        body["fields"] = tuple(body.get("fields") or ())
    return describe_ask(kind(**body))


# -- `agentkit mcp call`: a model for sampling, from options of its own ----------------------

BaseUrlOption = Annotated[
    Optional[str],
    typer.Option(
        "--base-url",
        metavar="URL",
        help="A model server's API root, to serve the server's sampling requests (none: they are refused).",
        envvar="AGENTKIT_BASE_URL",
        show_default=False,
    ),
]
ModelOption = Annotated[
    Optional[str],
    typer.Option("--model", metavar="NAME", help="Served model name, for sampling.", envvar="AGENTKIT_MODEL"),
]
ApiKeyOption = Annotated[
    Optional[str],
    typer.Option(
        "--api-key", metavar="KEY", help="Bearer token for the model server.", envvar="AGENTKIT_API_KEY"
    ),
]
ScriptOption = Annotated[
    Optional[Path],
    typer.Option(
        "--script",
        metavar="FILE",
        help="Sample from this JSON list of scripted turns instead of a model server.",
    ),
]


def mcp_call_asks(
    server: str,
    err: Console,
    *,
    yes: bool,
    base_url: str | None,
    model: str | None,
    api_key: str | None,
    script: Path | None,
) -> McpAsks:
    """How `agentkit mcp call` answers its server: sampling by the model at `base_url` (or
    the scripted turns of `script`), elicitation at the terminal.

    Raises:
        ConfigError: The script cannot be read.
    """
    from agentkit.profiles import profile_for

    backend: Any = None
    if script is not None:
        from agentkit.backends.scripted import ScriptedBackend, load_script

        backend = ScriptedBackend(load_script(script))
    elif base_url:
        from agentkit.backends import make_backend

        backend = make_backend("completions", base_url=base_url, model=model, api_key=api_key)
    profile = profile_for(model)
    terminal = TerminalAsks(err, approve_all=yes)
    return McpAsks(
        backend,
        model=model,
        presets=profile.sampling,
        on_sampling=terminal.sampling,
        on_elicitation=terminal.elicit,
        no_model=(
            f"agentkit mcp call has no model to sample with (MCP server {server!r} asked for one): give "
            "--base-url URL (and --model NAME), or set AGENTKIT_BASE_URL, or --script FILE (a JSON list "
            "of the model's answers), and --yes to approve it"
        ),
        on_event=lambda event: _show(err, event),
    )


def _show(err: Console, event: Event) -> None:
    if isinstance(event, (McpSampling, McpElicitation)):
        err.print(describe_ask(event))
