"""The `agentkit` command line: typer for arguments, rich for rendering run events.

It holds no logic the Python API lacks: it builds an `Agent` and renders its events. The
answer goes to stdout; thinking, tool calls and status go to stderr, so
`agentkit run "..." > answer.txt` keeps just the answer.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
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
    StepFinished,
    StepStarted,
    TextDelta,
    ThinkingDelta,
    ToolCallFinished,
    ToolCallStarted,
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


_STOP_MESSAGES = {
    "max_steps": "stopped after {steps} steps without an answer; raise --max-steps or simplify the task",
    "max_tokens": "stopped at the token limit without an answer",
    "timeout": "stopped at the time limit without an answer",
}


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
    budget: Annotated[
        Optional[int], typer.Option(help="Thinking budget in tokens per step (completions backend).")
    ] = None,
    max_steps: Annotated[int, typer.Option(min=1, help="Model calls at most.")] = 20,
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
    json_events: Annotated[
        bool, typer.Option("--json", help="Print one JSON event per line instead.")
    ] = False,
    hide_thinking: Annotated[
        bool, typer.Option("--hide-thinking", help="Do not print the model's reasoning.")
    ] = False,
) -> None:
    """Run one task with a Qwen3 agent and print its answer."""
    from agentkit.agent import Agent
    from agentkit.thinking import Always, Auto, Never, ThinkingPolicy

    try:
        loaded = [t for path in tools or [] for t in load_tools(path)]
        if backend is BackendName.scripted:
            from agentkit.backends.scripted import ScriptedBackend, load_script

            if script is None:
                raise ConfigError("--backend scripted needs --script FILE (a JSON list of turns)")
            chosen: Any = ScriptedBackend(load_script(script))
        else:
            if script is not None:
                raise ConfigError("--script only goes with --backend scripted")
            chosen = backend.value
        policies: dict[Think, ThinkingPolicy] = {
            Think.on: Always(budget),
            Think.off: Never(),
            Think.auto: Auto(budget),
        }
        agent = Agent(
            model=model,
            base_url=base_url,
            backend=chosen,
            tools=loaded,
            system_prompt=system,
            thinking=policies[think],
            max_steps=max_steps,
            api_key=api_key,
        )
    except (AgentkitError, ValueError, TypeError) as exc:
        raise _fail(str(exc), 2) from None

    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    render = _Renderer(out, err, show_thinking=not hide_thinking)

    async def main() -> Any:
        try:
            async for event in agent.stream(task):
                if json_events:
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
    if result is None or not result.ok:
        reason = result.stop_reason if result is not None else "no result"
        message = _STOP_MESSAGES.get(reason, reason).format(steps=len(result.steps) if result else 0)
        raise _fail(message, 1)


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
