"""Typed Python function → tool name, description and JSON schema of its parameters.

Type hints become the schema (through pydantic); the docstring's summary becomes the
description and its Google-style `Args:` section the parameters' descriptions.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic

__all__ = ["FunctionSchema", "function_schema", "parse_docstring"]

_SECTION = re.compile(
    r"^(Args|Arguments|Parameters|Params|Returns|Return|Yields|Raises|Examples?|Notes?|"
    r"Attributes|See Also|Warnings?|Todo):\s*$"
)
_ARG = re.compile(r"^(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into its description and per-argument descriptions."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    description: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    arg_indent: int | None = None
    for line in lines:
        header = _SECTION.match(line.strip()) if not line.startswith(" ") else None
        if header:
            section = header.group(1)
            current, arg_indent = None, None
            continue
        if section is None:
            description.append(line)
        elif section in ("Args", "Arguments", "Parameters", "Params"):
            if not line.strip():
                continue
            indent = len(line) - len(line.lstrip())
            match = _ARG.match(line.strip())
            if match and (arg_indent is None or indent <= arg_indent):
                arg_indent = indent
                current = match.group(1).lstrip("*")
                args[current] = match.group(3).strip()
            elif current is not None:
                args[current] = (args[current] + " " + line.strip()).strip()
    return "\n".join(description).strip(), args


@dataclass(frozen=True)
class FunctionSchema:
    """What a function offers as a tool.

    Attributes:
        name: The tool name.
        description: What the tool does, from the docstring.
        parameters: JSON schema of the arguments object.
        model: The pydantic model that validates and converts the arguments.
        context_param: The parameter that receives the call's `ToolContext`, if any.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    model: type[pydantic.BaseModel]
    context_param: str | None


_LITERAL_KEYS = frozenset({"default", "examples", "const", "enum"})


def _strip_titles(node: Any) -> Any:
    # pydantic titles every model and property ("City", "Get Weather Args"): noise to a model.
    if isinstance(node, dict):
        return {
            key: value if key in _LITERAL_KEYS else _strip_titles(value)
            for key, value in node.items()
            if not (key == "title" and isinstance(value, str))
        }
    if isinstance(node, list):
        return [_strip_titles(item) for item in node]
    return node


def _parameter_hints(fn: Callable[..., Any], tool_name: str) -> dict[str, Any]:
    # Only the parameters matter: a return annotation that cannot be resolved (a class
    # defined inside a function, say) must not stop the tool.
    annotations = dict(getattr(fn, "__annotations__", {}))
    annotations.pop("return", None)
    holder = types.SimpleNamespace(__annotations__=annotations)
    try:
        return typing.get_type_hints(holder, globalns=getattr(fn, "__globals__", {}), include_extras=True)
    except NameError as exc:
        raise TypeError(
            f"tool {tool_name!r}: a parameter's type hint cannot be resolved ({exc}); "
            "define the types it uses at module level"
        ) from None


def function_schema(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    context_type: type | None = None,
) -> FunctionSchema:
    """Derive a tool's schema from a typed function.

    Args:
        fn: The function (sync or async). Every parameter needs a type hint.
        name: Overrides the function's name.
        description: Overrides the docstring's description.
        context_type: A parameter annotated with this type is filled in by agentkit and left
            out of the schema.

    Raises:
        TypeError: A parameter has no type hint, or is `*args`/`**kwargs`.
    """
    tool_name = name or fn.__name__
    doc_description, arg_docs = parse_docstring(inspect.getdoc(fn))
    hints = _parameter_hints(fn, tool_name)
    fields: dict[str, Any] = {}
    context_param = None
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(
                f"tool {tool_name!r}: *args and **kwargs cannot be described to a model; "
                f"give {param.name!r} explicit, typed parameters instead"
            )
        if param.name not in hints:
            raise TypeError(
                f"tool {tool_name!r}: parameter {param.name!r} has no type hint; "
                "add one (e.g. `city: str`) so agentkit can describe it to the model"
            )
        hint = hints[param.name]
        if context_type is not None and hint is context_type:
            context_param = param.name
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (
            hint,
            pydantic.Field(default, description=arg_docs.get(param.name) or None),
        )
    model = pydantic.create_model(
        f"{tool_name}_arguments",
        __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=False),
        **fields,
    )
    parameters = _strip_titles(model.model_json_schema())
    parameters.setdefault("properties", {})
    return FunctionSchema(
        name=tool_name,
        description=description if description is not None else doc_description,
        parameters=parameters,
        model=model,
        context_param=context_param,
    )
