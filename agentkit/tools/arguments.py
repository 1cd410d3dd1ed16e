"""A call's arguments checked against its tool's JSON schema, and what the model is told when
they do not fit.

The toolbox checks every call here, before approval, for every kind of tool (function,
built-in, MCP): that is the one validation. A function tool's pydantic model then only
converts the checked arguments to the annotated types; when it still refuses them (a rule
JSON schema cannot state, such as a pydantic validator or a date's format), the model reads
the same words, from `invalid_arguments`.
"""

from __future__ import annotations

from typing import Any

import pydantic

__all__ = [
    "invalid_arguments",
    "pydantic_problems",
    "schema_problems",
    "schema_signature",
    "schema_validator",
]

_MAX_PROBLEMS = 5
"""Problems named in one answer; more would bury the first ones."""


def schema_validator(schema: dict[str, Any]) -> Any:
    """A jsonschema validator for `schema`, or False when the schema itself is broken (a
    server's: the tool then judges its arguments itself)."""
    import jsonschema  # imported on the first call: it costs ~0.1 s

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError:
        return False
    return cls(schema)


def schema_problems(validator: Any, arguments: dict[str, Any]) -> list[str]:
    """What is wrong with `arguments`, one line per problem (at most five), each naming the
    argument: `days: 'two' is not of type 'integer'`, `'city' is a required property`."""
    errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
    return [_located(e.absolute_path, e.message) for e in errors[:_MAX_PROBLEMS]]


def pydantic_problems(error: pydantic.ValidationError) -> list[str]:
    """A pydantic refusal as the same lines: `p.x: Input should be a valid integer (got 'abc')`."""
    problems = []
    for item in error.errors()[:_MAX_PROBLEMS]:
        given = item.get("input")
        shown = f" (got {given!r})" if isinstance(given, (str, int, float, bool)) else ""
        problems.append(_located(item["loc"], item["msg"] + shown))
    return problems


def _located(path: Any, message: str) -> str:
    where = ".".join(str(p) for p in path)
    return f"{where}: {message}" if where else message


def invalid_arguments(name: str, problems: list[str], schema: dict[str, Any]) -> str:
    """What the model reads about arguments that do not fit: each problem, the arguments the
    tool takes, and what to do."""
    return (
        f"Invalid arguments for {name}: {'; '.join(problems)}. "
        f"Expected: {schema_signature(schema)}. "
        f"Call {name} again with corrected arguments."
    )


def schema_signature(schema: dict[str, Any]) -> str:
    """The arguments a schema takes, short: `{city: string (required), unit: 'C' | 'F'}`."""
    props = schema.get("properties") or {}
    if not props:
        return "no arguments ({})"
    required = set(schema.get("required") or [])
    parts = [
        f"{name}: {_kind(prop)}" + (" (required)" if name in required else "") for name, prop in props.items()
    ]
    return "{" + ", ".join(parts) + "}"


def _kind(prop: Any) -> str:
    """A property's type in a word: `integer`, `'C' | 'F'`, `string | null`, or a model's name."""
    if not isinstance(prop, dict):
        return "any"
    if "enum" in prop:
        return " | ".join(repr(v) for v in prop["enum"])
    if "const" in prop:
        return repr(prop["const"])
    if "$ref" in prop:  # a pydantic model or dataclass: its name says more than "object"
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    options = prop.get("anyOf") or prop.get("oneOf")
    if isinstance(options, list) and options:
        return " | ".join(_kind(option) for option in options)
    kind = prop.get("type")
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    return str(kind) if kind else "any"
