"""The options every agent command takes (`run`, `chat`, `batch`), declared once.

A command decorated with `@agent_options` gets them all on its command line, grouped in
help panels, and receives them as one `RunOptions` (its own parameters come first and win
over a shared one of the same name). `build_agent` turns a `RunOptions` into an `Agent`.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import typing
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer

from agentkit.defaults import (
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_STEPS,
    DEFAULT_RETRY_ATTEMPTS,
    DEFAULT_RETRY_TIME,
    RUNS_DIR_ENV,
)
from agentkit.errors import ConfigError

__all__ = [
    "BackendName",
    "RunOptions",
    "SandboxName",
    "Think",
    "agent_options",
    "build_agent",
    "load_tools",
    "shared_options",
    "tidy_help",
]


class Think(str, Enum):
    on = "on"
    off = "off"
    auto = "auto"


class SandboxName(str, Enum):
    auto = "auto"
    required = "required"
    off = "off"


class BackendName(str, Enum):
    completions = "completions"
    chat = "chat"
    scripted = "scripted"


PANEL_MODEL = "Model"
PANEL_SERVE = "Serving (with --serve)"
PANEL_THINKING = "Thinking and sampling (default: the model card's preset per mode)"
PANEL_TOOLS = "Tools"
PANEL_MCP = "MCP"
PANEL_LIMITS = "Limits and faults"
PANEL_OUTPUT = "Output and runs"


def _in_panel(panel: str) -> Callable[..., Any]:
    """`typer.Option` for the options shown in one panel of the help."""
    return functools.partial(typer.Option, rich_help_panel=panel)


_model, _serve, _thinking, _tools, _mcp, _limits, _output = map(
    _in_panel, (PANEL_MODEL, PANEL_SERVE, PANEL_THINKING, PANEL_TOOLS, PANEL_MCP, PANEL_LIMITS, PANEL_OUTPUT)
)

SAMPLING_FLAGS = ("temperature", "top_p", "top_k", "min_p", "presence_penalty", "repetition_penalty", "seed")


def _declared(
    base_url: Annotated[
        str, _model(metavar="URL", help="The model server's API root.", envvar="AGENTKIT_BASE_URL")
    ] = DEFAULT_BASE_URL,
    model: Annotated[
        Optional[str],
        _model(
            metavar="NAME", help="Served model name (default: the server's first).", envvar="AGENTKIT_MODEL"
        ),
    ] = None,
    backend: Annotated[
        BackendName,
        _model(
            metavar="KIND",
            help="completions: agentkit renders and parses; chat: the server does; scripted: replay "
            "--script.",
        ),
    ] = BackendName.completions,
    script: Annotated[
        Optional[Path], _model(metavar="FILE", help="JSON list of model turns, for --backend scripted.")
    ] = None,
    system: Annotated[Optional[str], _model(metavar="TEXT", help="System prompt.")] = None,
    api_key: Annotated[
        Optional[str], _model(metavar="KEY", help="Bearer token for the server.", envvar="AGENTKIT_API_KEY")
    ] = None,
    extra_body: Annotated[
        Optional[str],
        _model(metavar="JSON", help="JSON object of more request fields (server-specific options)."),
    ] = None,
    serve: Annotated[
        bool, _serve("--serve", help="Start a vLLM server if none answers at --base-url; stop it at the end.")
    ] = False,
    quantization: Annotated[
        Optional[str],
        _serve(metavar="METHOD", help="vLLM quantization method (awq, gptq, bitsandbytes, fp8, …)."),
    ] = None,
    lora: Annotated[
        Optional[list[str]],
        _serve(
            "--lora",
            metavar="NAME=PATH",
            help="Serve this LoRA adapter and run with it (repeatable; the first is used).",
        ),
    ] = None,
    tensor_parallel_size: Annotated[
        Optional[int], _serve(metavar="N", min=1, help="GPUs one copy of the model is split over.")
    ] = None,
    data_parallel_size: Annotated[
        Optional[int], _serve(metavar="N", min=1, help="Copies of the model vLLM spreads requests over.")
    ] = None,
    serve_arg: Annotated[
        Optional[list[str]], _serve("--serve-arg", metavar="ARG", help="One more vLLM argument (repeatable).")
    ] = None,
    vllm_python: Annotated[
        Optional[str],
        _serve(metavar="PATH", help="Python interpreter that has vLLM.", envvar="AGENTKIT_VLLM_PYTHON"),
    ] = None,
    think: Annotated[
        Think, _thinking("--think", metavar="auto|on|off", help="Thinking policy per step.")
    ] = Think.auto,
    budget: Annotated[
        Optional[int], _thinking(metavar="TOKENS", min=1, help="Thinking budget per step.")
    ] = None,
    temperature: Annotated[
        Optional[float], _thinking(metavar="T", min=0, help="Sampling temperature.")
    ] = None,
    top_p: Annotated[
        Optional[float],
        _thinking(metavar="P", min=0, max=1, help="Nucleus sampling: the top share of probability."),
    ] = None,
    top_k: Annotated[
        Optional[int], _thinking(metavar="K", min=-1, help="Sample from the k likeliest tokens (-1: all).")
    ] = None,
    min_p: Annotated[
        Optional[float],
        _thinking(metavar="P", min=0, max=1, help="Drop tokens below this share of the likeliest."),
    ] = None,
    presence_penalty: Annotated[
        Optional[float],
        _thinking(
            metavar="X",
            min=-2,
            max=2,
            help="Penalty for tokens already used (the card: 0 to 2 against repeats).",
        ),
    ] = None,
    repetition_penalty: Annotated[
        Optional[float],
        _thinking(metavar="X", min=0, help="vLLM's multiplicative repetition penalty (1: none)."),
    ] = None,
    seed: Annotated[
        Optional[int], _thinking(metavar="N", help="Random seed, for repeatable samples.")
    ] = None,
    tools: Annotated[
        Optional[list[Path]],
        _tools("--tools", metavar="FILE", help="A Python file of @tool functions (repeatable)."),
    ] = None,
    builtins: Annotated[
        Optional[list[str]],
        _tools(
            "--builtin",
            metavar="GROUP",
            help="Built-in tools: files, python, shell, fetch, time, calculator (repeatable).",
        ),
    ] = None,
    workspace: Annotated[
        Optional[Path],
        _tools(
            metavar="DIR", help="Folder the file, Python and shell tools work in.", show_default="a fresh one"
        ),
    ] = None,
    yes: Annotated[
        bool,
        _tools(
            "--yes",
            "-y",
            help="Approve every tool call that would ask, and MCP servers' sampling requests; MCP forms "
            "get their defaults.",
        ),
    ] = False,
    allow: Annotated[
        Optional[list[str]],
        _tools("--allow", metavar="TOOL", help="Run this tool (name or glob) without asking (repeatable)."),
    ] = None,
    deny: Annotated[
        Optional[list[str]],
        _tools("--deny", metavar="TOOL", help="Never run this tool (name or glob) (repeatable)."),
    ] = None,
    allow_private_fetch: Annotated[
        bool, _tools("--allow-private-fetch", help="Let fetch_url reach this machine and private networks.")
    ] = False,
    sandbox: Annotated[
        SandboxName,
        _tools(
            metavar="MODE",
            help="Confine run_python and run_shell with bubblewrap: auto (when it works), required "
            "(no sandbox, no code), off.",
        ),
    ] = SandboxName.auto,
    sandbox_network: Annotated[
        bool, _tools("--sandbox-network", help="Give code in the sandbox the host's network.")
    ] = False,
    mcp_config: Annotated[
        Optional[list[Path]],
        _mcp(
            "--mcp-config",
            metavar="FILE",
            help='MCP servers to use: a {"mcpServers": ...} file (repeatable).',
        ),
    ] = None,
    mcp_strict: Annotated[bool, _mcp("--mcp-strict", help="Fail when an MCP server does not start.")] = False,
    max_steps: Annotated[int, _limits(metavar="N", min=1, help="Model calls at most.")] = DEFAULT_MAX_STEPS,
    max_tokens: Annotated[
        Optional[int], _limits(metavar="N", min=1, help="Tokens per model call at most.")
    ] = None,
    max_run_tokens: Annotated[
        Optional[int],
        _limits(metavar="N", min=1, help="Tokens the whole run may write.", show_default="no limit"),
    ] = None,
    timeout: Annotated[
        Optional[float],
        _limits(metavar="SECONDS", min=0.001, help="Time the whole run may take.", show_default="no limit"),
    ] = None,
    connect_timeout: Annotated[
        float, _limits(metavar="SECONDS", min=0.001, help="Time to connect to the server.")
    ] = DEFAULT_CONNECT_TIMEOUT,
    idle_timeout: Annotated[
        float,
        _limits(metavar="SECONDS", min=0.001, help="Silence from the server before a response is retried."),
    ] = DEFAULT_IDLE_TIMEOUT,
    retries: Annotated[
        int, _limits(metavar="N", min=1, help="Attempts per model call, the first included.")
    ] = DEFAULT_RETRY_ATTEMPTS,
    retry_time: Annotated[
        float, _limits(metavar="SECONDS", min=0, help="Time after a call's first failure to keep retrying.")
    ] = DEFAULT_RETRY_TIME,
    context_window: Annotated[
        Optional[int],
        _limits(
            metavar="TOKENS",
            min=256,
            help="Context window (with --serve: the length served, YaRN past 32,768).",
            show_default="the server's, else the model's",
        ),
    ] = None,
    json_events: Annotated[bool, _output("--json", help="Print one JSON event per line instead.")] = False,
    hide_thinking: Annotated[
        bool, _output("--hide-thinking", help="Do not print the model's reasoning.")
    ] = False,
    verbose: Annotated[bool, _output("--verbose", "-v", help="Also print what MCP servers log.")] = False,
    otel: Annotated[
        bool,
        _output(
            "--otel",
            help="Send OpenTelemetry traces where the OTEL_* environment variables point "
            "(pip install 'agentkit[otel]'; AGENTKIT_OTEL=1 does the same).",
        ),
    ] = False,
    output_schema: Annotated[
        Optional[Path],
        _output(
            metavar="FILE",
            help="Answer with JSON valid against this JSON schema; print the JSON.",
            show_default=False,
        ),
    ] = None,
    runs_dir: Annotated[
        Optional[Path],
        _output(
            metavar="DIR",
            help="Where run transcripts go.",
            envvar=RUNS_DIR_ENV,
            show_default="the user's data directory",
        ),
    ] = None,
) -> None:
    """Only its signature counts: the shared options as typer reads them."""


_SHARED = inspect.signature(_declared, eval_str=True).parameters

_Command = TypeVar("_Command", bound=Callable[..., Any])


def agent_options(command: _Command) -> _Command:
    """Give a typer command the shared agent options. It declares an `options` parameter
    and receives them there as a `RunOptions` (task empty: the command sets it)."""
    own = inspect.signature(command, eval_str=True)
    if "options" not in own.parameters:
        raise TypeError(f"{command.__name__} must take an `options` parameter to receive the agent options")
    mine = [p for name, p in own.parameters.items() if name != "options"]
    shared = [p for name, p in _SHARED.items() if name not in own.parameters]

    @functools.wraps(command)
    def wrapper(**given: Any) -> Any:
        values = {p.name: given.pop(p.name) for p in shared}
        return command(options=RunOptions.from_command_line(values), **given)

    params = [*mine, *shared]
    wrapper.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper  # type: ignore[return-value]


def shared_options(*names: str, **helps: str) -> Callable[[_Command], _Command]:
    """Declare some of a command's parameters as the shared agent options of the same name:
    their flag, value name, range, environment variable and help, outside the shared help
    panels and showing no default. The command keeps its own type and default (None: not
    given; `runs resume` then keeps the saved run's). `helps`: another help text for an
    option that means something else here."""

    def decorate(command: _Command) -> _Command:
        own = inspect.signature(command, eval_str=True)
        unknown = sorted(set(names) - set(own.parameters)) + sorted(set(helps) - set(names))
        if unknown:
            raise TypeError(f"{command.__name__} declares no parameter to share as {', '.join(unknown)}")
        params = [_shared_as(p, helps.get(p.name)) if p.name in names else p for p in own.parameters.values()]
        command.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate


def _shared_as(param: inspect.Parameter, help: str | None) -> inspect.Parameter:
    """`param`, declared as the shared option of its name."""
    info = copy.copy(typing.get_args(_SHARED[param.name].annotation)[1])
    info.rich_help_panel = None
    info.show_default = False
    if help is not None:
        info.help = help
    return param.replace(annotation=Annotated[param.annotation, info])


@dataclass
class RunOptions:
    """What an agent command was asked to do (the transcript keeps it, to resume with)."""

    task: str = ""
    base_url: str = DEFAULT_BASE_URL
    base_urls: list[str] = field(default_factory=list)
    """Several servers of one model (`batch --base-url` repeated): runs spread over them."""
    model: Optional[str] = None
    backend: BackendName = BackendName.completions
    think: Think = Think.auto
    budget: Optional[int] = None
    max_steps: int = DEFAULT_MAX_STEPS
    max_tokens: Optional[int] = None
    max_run_tokens: Optional[int] = None
    system: Optional[str] = None
    tools: list[Path] = field(default_factory=list)
    script: Optional[Path] = None
    api_key: Optional[str] = None
    extra_body: Optional[str] = None
    json_events: bool = False
    hide_thinking: bool = False
    verbose: bool = False
    otel: bool = False
    output_schema: Optional[Path] = None
    mcp_config: list[Path] = field(default_factory=list)
    mcp_strict: bool = False
    builtins: list[str] = field(default_factory=list)
    workspace: Optional[Path] = None
    yes: bool = False
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    runs_dir: Optional[Path] = None
    allow_private_fetch: bool = False
    timeout: Optional[float] = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    retries: int = DEFAULT_RETRY_ATTEMPTS
    retry_time: float = DEFAULT_RETRY_TIME
    context_window: Optional[int] = None
    sandbox: SandboxName = SandboxName.auto
    sandbox_network: bool = False
    sampling: Optional[dict[str, Any]] = None
    serve: bool = False
    quantization: Optional[str] = None
    lora: list[str] = field(default_factory=list)
    tensor_parallel_size: Optional[int] = None
    data_parallel_size: Optional[int] = None
    serve_arg: list[str] = field(default_factory=list)
    vllm_python: Optional[str] = None

    _KEPT = (
        "base_url", "base_urls", "model", "backend", "think", "budget", "max_steps", "max_tokens",
        "max_run_tokens", "system",
        "tools", "script", "extra_body", "mcp_config", "mcp_strict", "builtins", "workspace", "allow", "deny",
        "allow_private_fetch", "timeout", "connect_timeout", "idle_timeout", "retries", "retry_time",
        "context_window", "sandbox", "sandbox_network", "sampling", "output_schema",
    )  # fmt: skip
    """What a transcript keeps of these: not the task (it has it), not the API key, not how
    the output is shown, not how a server was started."""

    @classmethod
    def from_command_line(cls, values: dict[str, Any]) -> RunOptions:
        """The options from the shared parameters' values (lists given as None made empty)."""
        sampling = {name: values.pop(name) for name in SAMPLING_FLAGS if name in values}
        fields = {k: ([] if v is None and k in _LISTS else v) for k, v in values.items()}
        return cls(**fields, sampling={k: v for k, v in sampling.items() if v is not None})

    def saved(self) -> dict[str, Any]:
        """The options a resumed run starts from, as JSON (paths made absolute)."""
        out: dict[str, Any] = {}
        for name in self._KEPT:
            value = getattr(self, name)
            if isinstance(value, Path):
                value = str(value.expanduser().resolve())
            elif isinstance(value, list):
                value = [str(Path(v).expanduser().resolve()) if isinstance(v, Path) else v for v in value]
            elif isinstance(value, Enum):
                value = value.value
            out[name] = value
        return out

    @classmethod
    def restore(cls, saved: dict[str, Any], **given: Any) -> RunOptions:
        """The options of a saved run, with those given on the command line (not None) over them."""
        fields: dict[str, Any] = {name: saved[name] for name in cls._KEPT if name in saved}
        for name in ("tools", "mcp_config"):
            fields[name] = [Path(p) for p in fields.get(name) or ()]
        for name in ("script", "workspace", "output_schema"):
            fields[name] = Path(fields[name]) if fields.get(name) else None
        fields["backend"] = BackendName(fields.get("backend", "completions"))
        fields["think"] = Think(fields.get("think", "auto"))
        fields["sandbox"] = SandboxName(fields.get("sandbox", "auto"))
        fields.update({k: v for k, v in given.items() if v is not None})
        return cls(**fields)


_LISTS = {"tools", "mcp_config", "builtins", "allow", "deny", "lora", "serve_arg"}


def load_tools(path: Path) -> list[Any]:
    """The tools a Python file defines (`agentkit.tools.load_tools`), its errors naming `--tools`."""
    from agentkit.tools.loading import load_tools as load

    try:
        return load(path)
    except ConfigError as exc:
        raise ConfigError(f"--tools {exc}") from exc


def load_output_schema(path: Path) -> dict[str, Any]:
    """The JSON schema in a file, checked to be one."""
    from agentkit.output import output_spec

    try:
        schema = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--output-schema {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--output-schema {path}: cannot read it as UTF-8 text ({exc})") from None
    except ValueError as exc:
        raise ConfigError(f"--output-schema {path}: not valid JSON ({exc})") from None
    if not isinstance(schema, dict):
        raise ConfigError(
            f"--output-schema {path}: a JSON schema is an object, e.g. "
            '{"type": "object", "properties": {...}}, got ' + type(schema).__name__
        )
    try:
        output_spec(schema)
    except ValueError as exc:
        raise ConfigError(f"--output-schema {path}: {exc}") from None
    return schema


def build_agent(options: RunOptions, approver: Any = None, **more: Any) -> Any:
    """The `Agent` these options ask for (`more`: further `Agent` arguments)."""
    from agentkit.agent import Agent
    from agentkit.backends.retry import RetryPolicy
    from agentkit.limits import Limits, Timeouts
    from agentkit.thinking import Always, Auto, Never, Sampling, ThinkingModeWarning, ThinkingPolicy

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
    from agentkit.mcp.config import McpConfigWarning

    with warnings.catch_warnings(record=True) as noted:  # a model's one thinking mode: a note
        warnings.simplefilter("always", ThinkingModeWarning)
        warnings.simplefilter("always", McpConfigWarning)
        agent = Agent(
            model=options.model,
            base_url=options.base_urls or options.base_url,
            backend=chosen,
            tools=loaded,
            system_prompt=options.system,
            thinking=policies[options.think],
            max_tokens=options.max_tokens,
            limits=Limits(
                max_steps=options.max_steps, max_run_tokens=options.max_run_tokens, timeout=options.timeout
            ),
            timeouts=Timeouts(connect=options.connect_timeout, idle=options.idle_timeout),
            sampling=Sampling(**(options.sampling or {})),
            api_key=options.api_key,
            extra_body=extra,
            retry=RetryPolicy(attempts=options.retries, total_time=options.retry_time),
            context=options.context_window,
            mcp=options.mcp_config or None,
            mcp_strict=options.mcp_strict,
            builtins=options.builtins,
            workspace=options.workspace,
            approval={**dict.fromkeys(options.allow, "auto"), **dict.fromkeys(options.deny, "deny")},
            approve=approver,
            transcripts=options.runs_dir or True,
            allow_private_fetch=options.allow_private_fetch,
            sandbox=options.sandbox.value,
            sandbox_network=options.sandbox_network,
            metadata={"cli": options.saved()},
            output_type=load_output_schema(options.output_schema) if options.output_schema else None,
            telemetry=True if options.otel else None,  # None: as AGENTKIT_OTEL says
            **more,
        )
    for note in noted:
        if issubclass(note.category, ThinkingModeWarning):
            typer.echo(f"note: {note.message}", err=True)
        elif issubclass(note.category, McpConfigWarning):
            typer.echo(f"warning: {note.message}", err=True)
        else:
            warnings.warn_explicit(note.message, note.category, note.filename, note.lineno)
    return agent


_PLACEHOLDERS = {"str": "TEXT", "path": "PATH", "int": "N", "float": "NUMBER"}


def tidy_help() -> None:
    """Make typer's help read at 80 columns: flags show no `<bool>`, values a name
    (`TEXT`, `N`, `auto|on|off`) instead of `<list[str]>` or `<int range> [x>=1]` (a
    value out of range is refused with the range named), arguments just their name.

    Typer has no setting for this, so its two display methods are replaced, once."""
    from typer.core import TyperArgument, TyperOption

    if getattr(TyperOption, "_agentkit_tidy", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        if self.metavar is not None:
            return str(self.metavar)
        label = str(self.display_type(ctx)).strip("<>").removeprefix("list[").removesuffix("]")
        label = label.removesuffix(" range")
        return _PLACEHOLDERS.get(label.lower(), label)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
    TyperOption._get_number_range_help_str = lambda self: None  # type: ignore[method-assign]
    TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]  # named already
    TyperOption._agentkit_tidy = True  # type: ignore[attr-defined]
