"""Output types: schema and validation for each kind `output_type` takes."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from agentkit.output import OutputInvalid, answer_instruction, output_spec


class City(BaseModel):
    name: str
    population: int = Field(ge=0)
    kind: Literal["capital", "town"]


class Row(TypedDict):
    key: str
    value: float


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_a_pydantic_model_validates_to_an_instance_and_says_what_is_wrong() -> None:
    spec = output_spec(City)
    assert spec.schema["required"] == ["name", "population", "kind"]
    assert spec.name == "City"
    assert spec.validate('{"name": "Bern", "population": 134000, "kind": "capital"}') == City(
        name="Bern", population=134000, kind="capital"
    )
    with pytest.raises(OutputInvalid, match=r"at \.population: Input should be greater than or equal to 0"):
        spec.validate('{"name": "Bern", "population": -1, "kind": "capital"}')
    with pytest.raises(OutputInvalid, match="not JSON"):
        spec.validate("Bern is the capital.")


def test_a_list_a_typeddict_and_a_dataclass_are_types_pydantic_takes() -> None:
    assert output_spec(list[City]).validate('[{"name": "a", "population": 1, "kind": "town"}]') == [
        City(name="a", population=1, kind="town")
    ]
    assert output_spec(Row).validate('{"key": "k", "value": 1.5}') == {"key": "k", "value": 1.5}
    assert output_spec(Point).validate('{"x": 1, "y": 2}') == Point(1, 2)
    with pytest.raises(OutputInvalid, match=r"at \[0\]\.kind"):
        output_spec(list[City]).validate('[{"name": "a", "population": 1, "kind": "village"}]')


def test_a_json_schema_dict_is_checked_with_jsonschema_and_gives_the_parsed_json() -> None:
    schema = {
        "type": "object",
        "properties": {"score": {"type": "number", "minimum": 0, "maximum": 10}},
        "required": ["score"],
    }
    spec = output_spec(schema)
    assert spec.schema is schema
    assert spec.validate('{"score": 7.5}') == {"score": 7.5}
    with pytest.raises(OutputInvalid, match=r"at \.score: 11 is greater than the maximum of 10"):
        spec.validate('{"score": 11}')
    with pytest.raises(OutputInvalid, match="'score' is a required property"):
        spec.validate("{}")


def test_a_schema_that_is_not_a_json_schema_is_refused_naming_where() -> None:
    with pytest.raises(
        ValueError, match=r"not a valid JSON schema: at properties/a/type: 'text' is not valid"
    ):
        output_spec({"type": "object", "properties": {"a": {"type": "text"}}})


def test_a_type_pydantic_cannot_take_is_refused_saying_what_it_takes() -> None:
    with pytest.raises(TypeError, match="pass a pydantic model"):
        output_spec(object())


def test_the_instruction_shows_the_schema_as_the_template_writes_json() -> None:
    text = answer_instruction(output_spec({"type": "object", "title": "Größe"}))
    assert text.endswith('<schema>\n{"type": "object", "title": "Größe"}\n</schema>')
