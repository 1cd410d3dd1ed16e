"""Typed Python function → tool name, description and JSON schema of its parameters.

Type hints become the schema (through pydantic); the docstring's summary becomes the
description and its parameters section (Google, NumPy or Sphinx style) the parameters'
descriptions.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import pydantic

__all__ = ["DocstringStyle", "FunctionSchema", "function_schema", "parse_docstring"]

DocstringStyle = Literal["auto", "google", "numpy", "sphinx"]
"""How a tool's docstring is written: Google (`Args:`), NumPy (`Parameters` underlined with
dashes), Sphinx (`:param x:`), or "auto" to tell from its section headers."""

_STYLES = ("google", "numpy", "sphinx")


def parse_docstring(doc: str | None, style: DocstringStyle = "auto") -> tuple[str, dict[str, str]]:
    """Split a docstring into its description and per-parameter descriptions.

    The description is the text before the first section (so `Returns:`, `Raises:` or an
    example stay out of it); a parameter's description has its lines joined by spaces.
    griffe reads the sections, as it does for the PydanticAI and OpenAI Agents SDK tools.

    Args:
        doc: The docstring, indented or not.
        style: How it is written; "auto" tells from its section headers, and a docstring with
            none of them is all description.
    """
    if not doc:
        return "", {}
    text = inspect.cleandoc(doc)
    if "\n" not in text:  # one line has no sections: no need to import griffe (~70 ms)
        return text, {}
    import griffe

    quiet: dict[str, Any] = {"warnings": False}  # griffe would log each parameter it cannot match
    docstring = griffe.Docstring(text)
    if style == "auto":
        sections = docstring.parse("auto", per_style_options=dict.fromkeys(_STYLES, quiet))
    else:
        sections = docstring.parse(style, **quiet)
    leading = sections[0] if sections else None
    description = leading.value if leading and leading.kind is griffe.DocstringSectionKind.text else ""
    params: dict[str, str] = {}
    for section in sections:
        if section.kind is griffe.DocstringSectionKind.parameters:
            for param in section.value:
                params[param.name.lstrip("*")] = " ".join(
                    line.strip() for line in param.description.splitlines() if line.strip()
                )
    return description.strip(), params


@dataclass(frozen=True)
class FunctionSchema:
    """What a function offers as a tool.

    Attributes:
        name: The tool name.
        description: What the tool does, from the docstring.
        parameters: JSON schema of the arguments object.
        model: The pydantic model that converts the arguments to the hints' types (and applies
            the rules JSON schema cannot state, such as validators).
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


_JSON_FRIENDLY = (
    "use a JSON-friendly type: str, int, float, bool, list[...], dict[str, ...], Literal[...], "
    "an Enum, a pydantic model or a dataclass"
)


def _hint_text(hint: Any) -> str:
    # As written when it is a string (`from __future__ import annotations`), else as Python shows it.
    if isinstance(hint, str):
        return hint
    if isinstance(hint, type) and not isinstance(hint, types.GenericAlias):
        return (
            hint.__qualname__ if hint.__module__ == "builtins" else f"{hint.__module__}.{hint.__qualname__}"
        )
    return repr(hint)


def _parameter_hints(fn: Callable[..., Any], tool_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    # The parameters' hints as written and as resolved. Only the parameters matter: a return
    # annotation that cannot be resolved (a class defined inside a function, say) must not stop
    # the tool. Each hint is resolved on its own so that an error can name its parameter.
    try:
        annotations = dict(getattr(fn, "__annotations__", {}))
    except NameError as exc:  # Python 3.14 evaluates annotations when they are read
        raise TypeError(
            f"tool {tool_name!r}: a type hint cannot be resolved ({exc}); "
            "import or define the types the hints name at module level"
        ) from None
    annotations.pop("return", None)
    globalns = getattr(fn, "__globals__", {})
    hints: dict[str, Any] = {}
    for param, annotation in annotations.items():
        holder = types.SimpleNamespace(__annotations__={param: annotation})
        try:
            hints[param] = typing.get_type_hints(holder, globalns=globalns, include_extras=True)[param]
        except Exception as exc:  # evaluating a string hint can raise anything: NameError, SyntaxError, ...
            raise TypeError(
                f"tool {tool_name!r}: parameter {param!r} has the type hint `{_hint_text(annotation)}`, "
                f"which cannot be resolved ({type(exc).__name__}: {exc}); import or define the types it "
                "names at module level (a class defined inside a function cannot be resolved)"
            ) from None
    return annotations, hints


def _arguments_model(tool_name: str, fields: dict[str, Any]) -> type[pydantic.BaseModel]:
    return pydantic.create_model(
        f"{tool_name}_arguments",
        __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=False),
        **fields,
    )


# What pydantic raises for a type it cannot validate or cannot show as JSON schema.
_SCHEMA_ERRORS = (pydantic.PydanticUserError, pydantic.PydanticUndefinedAnnotation)


def _unsupported_hint(
    tool_name: str, fields: dict[str, Any], written: dict[str, Any], context_type: type | None
) -> TypeError | None:
    """The error naming the first parameter whose hint pydantic cannot turn into a schema, if any."""
    context = (
        f"; or annotate it `{context_type.__name__}` to receive the call's context" if context_type else ""
    )
    for param, (hint, _) in fields.items():
        try:
            _arguments_model(tool_name, {"value": (hint, ...)}).model_json_schema()
        except _SCHEMA_ERRORS as exc:
            # pydantic's first sentence names the type it choked on; the rest is advice for pydantic users.
            reason = re.split(r"(?<=[.!?])\s", str(exc).strip().splitlines()[0], maxsplit=1)[0].rstrip(".")
            return TypeError(
                f"tool {tool_name!r}: parameter {param!r} has the type hint `{_hint_text(written[param])}`, "
                f"which cannot be described to the model as JSON (pydantic: {reason}); "
                f"{_JSON_FRIENDLY}{context}"
            )
    return None


def function_schema(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    context_type: type | None = None,
    docstring_style: DocstringStyle = "auto",
) -> FunctionSchema:
    """Derive a tool's schema from a typed function.

    Args:
        fn: The function (sync or async). Every parameter needs a type hint.
        name: Overrides the function's name.
        description: Overrides the docstring's description.
        context_type: A parameter annotated with this type is filled in by agentkit and left
            out of the schema.
        docstring_style: How the docstring is written ("google", "numpy", "sphinx"), or
            "auto" to tell from its section headers.

    Raises:
        TypeError: A parameter has no type hint, a hint that cannot be resolved or described
            as JSON schema, or is `*args`/`**kwargs`; or the docstring style is not one of these.
    """
    tool_name = name or fn.__name__
    if docstring_style not in get_args(DocstringStyle):
        styles = ", ".join(repr(style) for style in get_args(DocstringStyle))
        raise TypeError(
            f"tool {tool_name!r}: docstring_style={docstring_style!r} is not a style agentkit reads; "
            f"give one of {styles}"
        )
    doc_description, arg_docs = parse_docstring(inspect.getdoc(fn), docstring_style)
    written, hints = _parameter_hints(fn, tool_name)
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
    try:
        model = _arguments_model(tool_name, fields)
        schema = model.model_json_schema()
    except _SCHEMA_ERRORS:
        error = _unsupported_hint(tool_name, fields, written, context_type)
        if error is None:  # not a type hint's fault (a parameter named `_x`, say): pydantic says best
            raise
        raise error from None
    parameters = _strip_titles(schema)
    parameters.setdefault("properties", {})
    return FunctionSchema(
        name=tool_name,
        description=description if description is not None else doc_description,
        parameters=parameters,
        model=model,
        context_param=context_param,
    )
