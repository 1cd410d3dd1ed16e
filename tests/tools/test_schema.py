"""Typed functions become tool schemas: names, descriptions, parameter types and docs."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from enum import Enum
from typing import Any, Generic, Literal, Optional, TypeVar

import pydantic
import pytest

from agentkit.tools.schema import function_schema, parse_docstring
from agentkit.tools.tool import ToolContext, tool


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


GOOGLE = """Fetch the weather.

    Uses the public API.

    Args:
        city: City name, e.g. "Paris".
        unit: Temperature unit,
            celsius or fahrenheit.

    Returns:
        A sentence about the weather.
    """

NUMPY = """Fetch the weather.

    Uses the public API.

    Parameters
    ----------
    city : str
        City name, e.g. "Paris".
    unit : str
        Temperature unit,
        celsius or fahrenheit.

    Returns
    -------
    str
        A sentence about the weather.
    """

SPHINX = """Fetch the weather.

    Uses the public API.

    :param city: City name, e.g. "Paris".
    :param str unit: Temperature unit,
        celsius or fahrenheit.
    :type city: str
    :returns: A sentence about the weather.
    :rtype: str
    """


@pytest.mark.parametrize("doc", [GOOGLE, NUMPY, SPHINX], ids=["google", "numpy", "sphinx"])
def test_each_docstring_style_gives_summary_and_parameter_descriptions(doc: str) -> None:
    def weather(city: str, unit: str = "C") -> str:
        return ""

    weather.__doc__ = doc
    schema = function_schema(weather)
    assert schema.description == "Fetch the weather.\n\nUses the public API."
    assert "sentence" not in schema.description  # the returns section stays out
    properties = schema.parameters["properties"]
    assert properties["city"]["description"] == 'City name, e.g. "Paris".'
    assert properties["unit"]["description"] == "Temperature unit, celsius or fahrenheit."


@pytest.mark.parametrize("style", ["google", "numpy", "sphinx"])
def test_a_named_style_reads_its_own_docstrings(style: Literal["google", "numpy", "sphinx"]) -> None:
    doc = {"google": GOOGLE, "numpy": NUMPY, "sphinx": SPHINX}[style]
    assert parse_docstring(doc, style)[1]["unit"] == "Temperature unit, celsius or fahrenheit."


def test_a_named_style_that_does_not_fit_finds_no_parameters() -> None:
    description, args = parse_docstring(SPHINX, "google")
    assert args == {} and description.startswith("Fetch the weather.")


def test_the_style_is_passed_through_tool() -> None:
    def weather(city: str) -> str:
        """Fetch the weather.

        Parameters
        ----------
        city
            City name.
        """
        return ""

    assert tool(weather).parameters["properties"]["city"]["description"] == "City name."
    assert "description" not in tool(docstring_style="sphinx")(weather).parameters["properties"]["city"]


@pytest.mark.parametrize(
    "doc",
    [
        "Add two numbers.",
        "Add two numbers.\n\nThe sum is exact for integers;\nfloats round as Python's do.",
        "Add two numbers.\n\nReturns:\n    The sum.",
    ],
    ids=["one line", "paragraphs", "returns only"],
)
def test_a_docstring_without_a_parameters_section_is_all_description(doc: str) -> None:
    description, args = parse_docstring(doc)
    assert args == {}
    assert description == doc.split("\n\nReturns:")[0]


def test_no_docstring_gives_an_empty_description() -> None:
    assert parse_docstring(None) == ("", {})
    assert parse_docstring("   ") == ("", {})


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


T = TypeVar("T")


class Box(Generic[T]):
    """A generic class that is neither a pydantic model nor a dataclass."""


def _with_hint(hint: Any) -> Callable[..., Any]:
    def act(flag: bool, thing: int) -> None:
        """Act on a thing."""

    act.__annotations__ = {"flag": "bool", "thing": hint, "return": "None"}
    return act


@pytest.mark.parametrize(
    ("hint", "reason"),
    [
        ("socket.socket", "Unable to generate pydantic-core schema for <class 'socket.socket'>"),
        ("Callable[[int], int]", "Cannot generate a JsonSchema"),
        ("Box[int]", "Unable to generate pydantic-core schema"),
        ("list[socket.socket] | None", "Unable to generate pydantic-core schema for <class 'socket.socket'>"),
    ],
)
def test_a_hint_without_a_json_schema_is_refused_naming_tool_parameter_hint_and_fix(
    hint: str, reason: str
) -> None:
    with pytest.raises(TypeError) as caught:
        tool(_with_hint(hint))
    message = str(caught.value)
    assert message.startswith(f"tool 'act': parameter 'thing' has the type hint `{hint}`, ")
    assert f"which cannot be described to the model as JSON (pydantic: {reason}" in message
    assert (
        "use a JSON-friendly type: str, int, float, bool, list[...], dict[str, ...], Literal[...], "
        in message
    )
    assert message.endswith("or annotate it `ToolContext` to receive the call's context")
    assert "arbitrary_types_allowed" not in message  # pydantic's advice does not apply to a tool


@pytest.mark.parametrize(
    ("hint", "shown"),
    [(socket.socket, "socket.socket"), (Callable[[int], int], "collections.abc.Callable[[int], int]")],
)
def test_an_evaluated_hint_is_named_as_python_shows_it(hint: Any, shown: str) -> None:
    with pytest.raises(TypeError, match=rf"parameter 'thing' has the type hint `{re.escape(shown)}`, "):
        function_schema(_with_hint(hint))


def test_an_unresolvable_hint_is_refused_naming_tool_parameter_and_hint() -> None:
    with pytest.raises(TypeError) as caught:
        function_schema(_with_hint("list[Undefined]"), name="act_on")
    assert str(caught.value) == (
        "tool 'act_on': parameter 'thing' has the type hint `list[Undefined]`, which cannot be resolved "
        "(NameError: name 'Undefined' is not defined); import or define the types it names at module level "
        "(a class defined inside a function cannot be resolved)"
    )


def test_a_hint_that_is_not_an_expression_is_refused_naming_the_parameter() -> None:
    with pytest.raises(
        TypeError, match=r"parameter 'thing' has the type hint `int\[`, which cannot be resolved"
    ):
        function_schema(_with_hint("int["))


def test_an_unbound_type_var_is_taken_as_any() -> None:
    assert function_schema(_with_hint("T")).parameters["properties"]["thing"] == {}


@pytest.mark.parametrize("returns", ["Undefined", "socket.socket", "Callable[[int], int]", "int["])
def test_the_return_annotation_does_not_matter(returns: str) -> None:
    fn = _with_hint("int")
    fn.__annotations__["return"] = returns
    assert list(function_schema(fn).parameters["properties"]) == ["flag", "thing"]


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


def test_a_docstring_style_agentkit_does_not_read_is_refused_naming_the_tool_and_the_styles() -> None:
    def f(x: int) -> int:
        """Double it."""
        return 2 * x

    with pytest.raises(TypeError) as raised:
        function_schema(f, docstring_style="javadoc")  # type: ignore[arg-type]
    assert str(raised.value) == (
        "tool 'f': docstring_style='javadoc' is not a style agentkit reads; "
        "give one of 'auto', 'google', 'numpy', 'sphinx'"
    )
