"""The `Tool` protocol every kind of tool implements, and `@tool` for typed functions."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, overload, runtime_checkable

import pydantic
import pydantic_core

from agentkit._threads import in_daemon_thread
from agentkit.errors import ToolError
from agentkit.events import ToolApproval
from agentkit.tools.arguments import invalid_arguments, pydantic_problems
from agentkit.tools.schema import DocstringStyle, FunctionSchema, function_schema
from agentkit.tools.scope import RunScope

__all__ = ["Approval", "FunctionTool", "Tool", "ToolContext", "ToolError", "ToolResult", "tool", "tool_spec"]

Approval = Literal["auto", "ask", "deny"]
"""Whether a call runs at once ("auto"), after someone approves it ("ask"), or never ("deny")."""


@dataclass
class ToolContext:
    """What a tool may know about the call it serves.

    A function tool receives it through a parameter annotated `ToolContext`; that parameter is
    not shown to the model.

    Attributes:
        call_id: The id of the tool call.
        tool_name: The name the model called.
        step: The step of the run that made the call (1-based).
        deps: Whatever the application passed as `Agent(deps=...)`.
        scope: What the calls of this run share: its workspace and long-lived resources.
        on_progress: Where `progress` reports go (the run's event stream).
        on_approval: Where the toolbox reports a decided approval (a `ToolApproval` event).
    """

    call_id: str = ""
    tool_name: str = ""
    step: int = 0
    deps: Any = None
    scope: RunScope = field(default_factory=RunScope, repr=False)
    on_progress: Callable[[ToolContext, float, float | None, str | None], None] | None = field(
        default=None, repr=False
    )
    on_approval: Callable[[ToolApproval], None] | None = field(default=None, repr=False)

    def progress(self, done: float, total: float | None = None, message: str | None = None) -> None:
        """Report how far a long call has got; it becomes a `ToolProgress` event."""
        if self.on_progress is not None:
            self.on_progress(self, done, total, message)


@dataclass
class ToolResult:
    """A tool's answer to the model.

    Attributes:
        content: The text the model reads.
        is_error: Marks the answer as a failure the model should react to.
        data: The structured value behind the text, when there is one (kept in transcripts).
    """

    content: str
    is_error: bool = False
    data: Any = field(default=None, repr=False)


@runtime_checkable
class Tool(Protocol):
    """Anything the model can call: a Python function, a built-in, an MCP server's tool.

    Attributes:
        name: Unique within an agent; what the model writes in `<tool_call>`.
        description: What the tool does and when to use it, for the model.
        parameters: JSON schema of the arguments object; agentkit validates every call
            against it before `call` runs.
        timeout: Seconds a call may take, or None for the toolbox's default.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    timeout: float | None

    def spec(self) -> dict[str, Any]:
        """The OpenAI function spec shown to the model."""
        ...

    async def call(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        """Run with arguments that passed validation; raise or return an error result."""
        ...


def tool_spec(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI function spec, in the key order Qwen3's template shows to the model."""
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


def to_result(value: Any) -> ToolResult:
    """A tool's return value as the text the model reads: strings as they are, else JSON."""
    if isinstance(value, ToolResult):
        return value
    if isinstance(value, str):
        return ToolResult(value)
    if value is None:
        return ToolResult("(the tool returned nothing)")
    return ToolResult(pydantic_core.to_json(value, fallback=str).decode(), data=value)


class FunctionTool:
    """A typed Python function (sync or async) as a tool.

    Sync functions run in a worker thread so that the calls of one turn run concurrently.
    The function stays callable as before.
    """

    runs_code: bool = False
    """The tool runs code the model writes in processes that the run's sandbox confines
    (`run_python`, `run_shell`); a run names the sandbox's mode when it has such a tool."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        approval: Approval = "auto",
        docstring_style: DocstringStyle = "auto",
    ) -> None:
        self.fn = fn
        self.approval = approval
        self.schema: FunctionSchema = function_schema(
            fn,
            name=name,
            description=description,
            context_type=ToolContext,
            docstring_style=docstring_style,
        )
        self.name = self.schema.name
        self.description = self.schema.description
        self.parameters = self.schema.parameters
        self.timeout = timeout
        self._is_async = inspect.iscoroutinefunction(fn)
        self._spec = tool_spec(self.name, self.description, self.parameters)
        self.__doc__ = fn.__doc__

    def spec(self) -> dict[str, Any]:
        return self._spec

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"FunctionTool({self.name!r})"

    async def call(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        try:  # the toolbox checked them against the schema: this converts them to the hints' types
            parsed = self.schema.model.model_validate(arguments)
        except pydantic.ValidationError as exc:  # a rule the schema cannot state, or a direct call
            raise ToolError(invalid_arguments(self.name, pydantic_problems(exc), self.parameters)) from None
        kwargs = {name: getattr(parsed, name) for name in type(parsed).model_fields}
        if self.schema.context_param:
            kwargs[self.schema.context_param] = context
        if self._is_async:
            value = await self.fn(**kwargs)
        else:
            value = await in_daemon_thread(self.fn, **kwargs)
        return to_result(value)


@overload
def tool(fn: Callable[..., Any], /) -> FunctionTool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    approval: Approval = "auto",
    docstring_style: DocstringStyle = "auto",
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    approval: Approval = "auto",
    docstring_style: DocstringStyle = "auto",
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a typed function a tool; use bare (`@tool`) or with options (`@tool(timeout=5)`).

    Args:
        fn: The function. Its name, docstring and type hints describe it to the model.
        name: Overrides the function's name.
        description: Overrides the docstring.
        timeout: Seconds a call may take (default: the toolbox's).
        approval: "ask" to have each call approved first (e.g. tools that change things),
            "deny" to refuse every call; an agent's `approval` setting overrides it.
        docstring_style: How the docstring is written: "google" (`Args:`), "numpy"
            (`Parameters` underlined), "sphinx" (`:param x:`), or "auto" (the default) to tell
            from its section headers.

    Example:
        ```python
        @tool
        def get_weather(city: str, unit: Literal["C", "F"] = "C") -> str:
            \"\"\"Current weather in a city.

            Args:
                city: City name, e.g. "Paris".
                unit: Temperature unit.
            \"\"\"
        ```
    """

    def wrap(f: Callable[..., Any]) -> FunctionTool:
        return FunctionTool(
            f,
            name=name,
            description=description,
            timeout=timeout,
            approval=approval,
            docstring_style=docstring_style,
        )

    return wrap(fn) if fn is not None else wrap
