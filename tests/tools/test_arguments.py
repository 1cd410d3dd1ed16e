"""One validation per call, one wording: every kind of tool's bad arguments read alike."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

import pydantic
import pytest

from agentkit.messages import ToolCall
from agentkit.tools import Toolbox, ToolContext, ToolError, ToolResult, tool
from agentkit.tools.arguments import (
    invalid_arguments,
    pydantic_problems,
    schema_problems,
    schema_signature,
    schema_validator,
)

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"enum": ["C", "F"]}},
    "required": ["city"],
    "additionalProperties": False,
}


def test_schema_problems_name_each_argument_and_what_is_wrong() -> None:
    problems = schema_problems(schema_validator(SCHEMA), {"days": "two", "unit": "K", "extra": 1})
    assert "'city' is a required property" in problems
    assert "days: 'two' is not of type 'integer'" in problems
    assert "unit: 'K' is not one of ['C', 'F']" in problems
    assert "Additional properties are not allowed ('extra' was unexpected)" in problems


def test_at_most_five_problems_are_named() -> None:
    many = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(8)}}
    problems = schema_problems(schema_validator(many), {f"p{i}": "x" for i in range(8)})
    assert len(problems) == 5


def test_a_broken_schema_has_no_validator() -> None:
    assert schema_validator({"type": "not-a-type"}) is False


def test_the_message_names_the_problems_the_expected_arguments_and_the_fix() -> None:
    message = invalid_arguments("weather", ["days: 'two' is not of type 'integer'"], SCHEMA)
    assert message == (
        "Invalid arguments for weather: days: 'two' is not of type 'integer'. "
        "Expected: {city: string (required), days: integer, unit: 'C' | 'F'}. "
        "Call weather again with corrected arguments."
    )
    assert schema_signature({"type": "object"}) == "no arguments ({})"


class Point(pydantic.BaseModel):
    x: int


def test_the_expected_arguments_name_models_unions_and_constants() -> None:
    @tool
    def place(at: Point, label: str | None = None, kind: Literal["pin"] = "pin", size: Any = 1) -> str:
        """Place a marker."""
        return label or ""

    assert schema_signature(place.parameters) == (
        "{at: Point (required), label: string | null, kind: 'pin', size: any}"
    )


def test_pydantic_problems_name_the_argument_and_the_value_given() -> None:
    class Args(pydantic.BaseModel):
        count: int
        name: str

    with pytest.raises(pydantic.ValidationError) as caught:
        Args.model_validate({"count": "many"})
    assert pydantic_problems(caught.value) == [
        "count: Input should be a valid integer, unable to parse string as an integer (got 'many')",
        "name: Field required",
    ]


def _must_be_even(value: int) -> int:
    if value % 2:
        raise ValueError("must be even")
    return value


@tool
def halve(n: Annotated[int, pydantic.AfterValidator(_must_be_even)]) -> int:
    """Half of an even number."""
    return n // 2


@tool
def weekday(day: datetime.date) -> str:
    """The weekday of a date."""
    return day.strftime("%A")


@pytest.mark.parametrize(
    ("item", "arguments", "problem"),
    [
        (halve, {"n": 3}, "n: Value error, must be even (got 3)"),
        (weekday, {"day": "someday"}, "day: Input should be a valid date or datetime, input is too short"),
    ],
    ids=["validator", "date format"],
)
async def test_a_rule_the_schema_cannot_state_is_told_in_the_same_words(
    item: Any, arguments: dict[str, Any], problem: str
) -> None:
    answer = await Toolbox([item]).run(ToolCall(item.name, arguments, id="c1"))
    assert answer.is_error and answer.tool_call_id == "c1"
    assert answer.content.startswith(f"Error: Invalid arguments for {item.name}: {problem}")
    assert answer.content.endswith(f"Call {item.name} again with corrected arguments.")
    assert "Expected: {" in answer.content


async def test_function_and_schema_only_tools_get_one_wording() -> None:
    @tool
    def forecast(city: str, days: int = 1) -> str:
        """A forecast."""
        return city

    class Remote:  # like an MCP server's tool: a JSON schema and nothing else
        name = "remote_forecast"
        description = "A forecast from a server."
        timeout: float | None = None

        def __init__(self) -> None:
            self.parameters = forecast.parameters

        def spec(self) -> dict[str, Any]:
            return {}

        async def call(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
            return ToolResult("sunny")

    box = Toolbox([forecast, Remote()])
    bad = {"days": "two"}
    local = await box.run(ToolCall("forecast", bad))
    remote = await box.run(ToolCall("remote_forecast", bad))
    assert local.content == remote.content.replace("remote_forecast", "forecast")
    assert "days: 'two' is not of type 'integer'" in local.content


async def test_a_direct_call_with_bad_arguments_raises_the_same_words() -> None:
    with pytest.raises(ToolError) as caught:
        await weekday.call({"day": 5.5}, ToolContext())
    assert str(caught.value).startswith("Invalid arguments for weekday: day: ")
    assert str(caught.value).endswith(
        "Expected: {day: string (required)}. Call weekday again with corrected arguments."
    )
