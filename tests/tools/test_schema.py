"""Typed functions become tool schemas: names, descriptions, parameter types and docs."""

from __future__ import annotations

from enum import Enum
from typing import Literal, Optional

import pydantic
import pytest

from agentkit.tools.schema import function_schema, parse_docstring
from agentkit.tools.tool import ToolContext


def test_docstring_summary_and_args_section() -> None:
    description, args = parse_docstring(
        """Fetch the weather.

        Uses the public API.

        Args:
            city: City name, e.g. "Paris".
            unit (str): Temperature unit,
                celsius or fahrenheit.
            **extra: Ignored.

        Returns:
            A sentence.
        """
    )
    assert description == "Fetch the weather.\n\nUses the public API."
    assert args == {
        "city": 'City name, e.g. "Paris".',
        "unit": "Temperature unit, celsius or fahrenheit.",
        "extra": "Ignored.",
    }


class Point(pydantic.BaseModel):
    x: float
    y: float


class Color(Enum):
    RED = "red"
    BLUE = "blue"


def test_type_hints_become_a_json_schema_without_titles() -> None:
    def draw(
        points: list[Point], color: Color, label: Optional[str] = None, mode: Literal["fast", "nice"] = "fast"
    ) -> str:
        """Draw a polyline.

        Args:
            points: Vertices in order.
            color: Stroke color.
        """
        return ""

    schema = function_schema(draw)
    params = schema.parameters
    assert schema.name == "draw" and schema.description == "Draw a polyline."
    assert params["type"] == "object"
    assert params["required"] == ["points", "color"]
    assert params["additionalProperties"] is False
    assert params["properties"]["points"]["description"] == "Vertices in order."
    assert params["properties"]["mode"] == {"default": "fast", "enum": ["fast", "nice"], "type": "string"}
    assert "title" not in str(params.get("$defs", {}).get("Point", {}).keys())
    assert "title" not in params and all("title" not in p for p in params["properties"].values())


def test_a_property_named_title_and_title_defaults_survive() -> None:
    def create(title: str = "title") -> None:
        """Create a note."""

    params = function_schema(create).parameters
    assert params["properties"]["title"]["default"] == "title"


def test_context_parameter_is_hidden_from_the_model() -> None:
    def lookup(key: str, ctx: ToolContext) -> str:
        """Look up a key."""
        return key

    schema = function_schema(lookup, context_type=ToolContext)
    assert schema.context_param == "ctx"
    assert list(schema.parameters["properties"]) == ["key"]


def test_missing_type_hint_is_refused_with_the_fix() -> None:
    def bad(x) -> None:  # type: ignore[no-untyped-def]
        """No hints."""

    with pytest.raises(TypeError, match="parameter 'x' has no type hint"):
        function_schema(bad)


def test_varargs_are_refused() -> None:
    def bad(*items: int) -> None:
        """Varargs."""

    with pytest.raises(TypeError, match=r"\*args and \*\*kwargs"):
        function_schema(bad)


def test_no_parameters_gives_an_empty_object_schema() -> None:
    def now() -> str:
        """The time."""
        return ""

    assert function_schema(now).parameters["properties"] == {}
