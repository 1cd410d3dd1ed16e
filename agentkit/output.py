"""Structured output: the type a run's answer must have, its JSON schema, and its check.

`Agent(output_type=...)` takes a pydantic model, any type pydantic's `TypeAdapter` takes
(`list[Item]`, a dataclass, a `TypedDict`), or a JSON schema dict. The schema goes to the
model twice: in the system prompt (so that it aims for it) and, where the server can, as a
constraint on the answer's tokens (so that the answer is valid by construction). Whatever the
server did, the loop checks the answer here; a wrong one is sent back with the error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentkit.messages import dumps

__all__ = [
    "OutputInvalid",
    "OutputSpec",
    "OutputType",
    "answer_instruction",
    "output_spec",
    "rejection",
    "unfenced",
]

OutputType = Any
"""What `output_type` takes: a type pydantic can validate, or a JSON schema dict."""

SCHEMA_OPEN = (
    "When you give your final answer (not a tool call), reply with only a JSON value that "
    "matches this JSON schema, and nothing else:\n<schema>\n"
)
SCHEMA_CLOSE = "\n</schema>"


class OutputInvalid(ValueError):
    """An answer that is not valid against the output type; the message is for the model."""


@dataclass(frozen=True)
class OutputSpec:
    """An output type made ready: its JSON schema and its check.

    Attributes:
        schema: The answer's JSON schema (sent to the server, shown to the model).
        name: A short name for the schema (the type's name, or the schema's title).
        validate: The answer's text to the validated object; raises `OutputInvalid`
            saying what is wrong.
    """

    schema: dict[str, Any]
    name: str
    validate: Callable[[str], Any]


def output_spec(output_type: OutputType) -> OutputSpec:
    """Make an output type ready.

    Raises:
        TypeError: pydantic cannot make a schema of the type.
        ValueError: A schema dict that is not a valid JSON schema.
    """
    if isinstance(output_type, OutputSpec):
        return output_type
    if isinstance(output_type, dict):
        return _from_schema(output_type)
    from pydantic import TypeAdapter, ValidationError  # on first use: `import agentkit` stays light

    try:
        adapter: TypeAdapter[Any] = TypeAdapter(output_type)
        schema = adapter.json_schema()
    except Exception as exc:
        raise TypeError(
            f"output_type {output_type!r} is not a type pydantic can validate ({exc}); pass a pydantic "
            "model, a dataclass, a TypedDict, a type such as list[Item], or a JSON schema dict"
        ) from None

    def validate(text: str) -> Any:
        try:
            return adapter.validate_json(unfenced(text))
        except ValidationError as exc:
            raise OutputInvalid(_pydantic_problems(exc)) from None

    name = getattr(output_type, "__name__", None) or str(schema.get("title") or "answer")
    return OutputSpec(schema, name, validate)


def _from_schema(schema: dict[str, Any]) -> OutputSpec:
    import jsonschema

    checker_class = jsonschema.validators.validator_for(schema)
    try:
        checker_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the top level"
        raise ValueError(f"not a valid JSON schema: at {where}: {exc.message}") from None
    checker = checker_class(schema)

    def validate(text: str) -> Any:
        value = _json(unfenced(text))
        problems = sorted(checker.iter_errors(value), key=lambda e: list(e.absolute_path))
        if problems:
            raise OutputInvalid("; ".join(f"{_where(e.absolute_path)}: {e.message}" for e in problems[:10]))
        return value

    return OutputSpec(schema, str(schema.get("title") or "answer"), validate)


_FENCE = re.compile(r"\s*```[A-Za-z0-9_-]*[ \t]*\n(.*?)\n?```\s*", re.S)


def unfenced(text: str) -> str:
    """The answer without a Markdown code fence around the whole of it (```json ... ```,
    as models often write JSON on servers that do not constrain it)."""
    whole = _FENCE.fullmatch(text)
    return whole.group(1) if whole else text


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        shown = text.strip()[:80] or "(nothing)"
        raise OutputInvalid(f"the answer is not JSON ({exc}); it begins: {shown}") from None


def _where(path: Any) -> str:
    parts = list(path)
    return (
        "at " + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts) if parts else "the answer"
    )


def _pydantic_problems(exc: Any) -> str:
    out = []
    for error in exc.errors(include_url=False)[:10]:
        if error["type"] == "json_invalid":
            return f"the answer is not JSON ({error['msg']})"
        out.append(f"{_where(error['loc'])}: {error['msg']}")
    return "; ".join(out)


def answer_instruction(spec: OutputSpec) -> str:
    """The system-prompt paragraph that tells the model the answer's schema."""
    return SCHEMA_OPEN + dumps(spec.schema) + SCHEMA_CLOSE


def rejection(error: str) -> str:
    """The user message that sends an invalid answer back to the model."""
    return (
        f"Your answer does not match the required JSON schema: {error}. Reply again with only the "
        "corrected JSON value."
    )
