"""The lenient JSON reader: what it forgives, what it refuses, and how it says why."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentkit.qwen3.lenient_json import MAX_DEPTH, read_value, read_values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": [1, 2.5, "x"], "b": null}', {"a": [1, 2.5, "x"], "b": None}),
        ("{'a': 'single quotes'}", {"a": "single quotes"}),
        ('{"a": 1,}', {"a": 1}),
        ("[1, 2,]", [1, 2]),
        ("{'ok': True, 'no': False, 'nothing': None}", {"ok": True, "no": False, "nothing": None}),
        ("{bare_key: 1, other2: 'v'}", {"bare_key": 1, "other2": "v"}),
        ('{"a": {"b": [1, 2', {"a": {"b": [1, 2]}}),
        ('{"a": 1', {"a": 1}),
        ("[", []),
    ],
)
def test_it_forgives_the_slips_small_models_make(text: str, expected: Any) -> None:
    assert read_value(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"'tab\there'", "tab\there"),
        (r"'it\'s'", "it's"),
        (r"'\u00e9t\u00e9'", "été"),
        (r"'\uZZZZ'", "uZZZZ"),  # not a code point: the letter stands for itself
        (r"'\q'", "q"),
        ("'-1.5e3'", "-1.5e3"),
    ],
)
def test_escapes_in_single_quoted_strings(text: str, expected: str) -> None:
    assert read_value(text) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [("-12", -12), (".5", 0.5), ("1e3", 1000.0), ("[True]", [True])],
)
def test_numbers_and_words_keep_their_python_type(text: str, value: Any) -> None:
    got = read_value(text)
    assert got == value
    assert type(got) is type(value)


def test_strict_json_is_read_as_json_reads_it() -> None:
    text = '{"a": "\\u00e9\\n", "b": [1e2, -0.0, true], "c": {}}'
    assert read_value(text) == json.loads(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a value but the text ended at line 1 column 1"),
        ("{'a' 1}", "expected ':' after key 'a' at line 1 column 6"),
        ("{'a': 1 'b': 2}", "expected ',' or '}', found \"'\" at line 1 column 9"),
        ("[1 2]", "expected ',' or ']', found '2' at line 1 column 4"),
        ("{1: 2}", "expected a key, found '1' at line 1 column 2"),
        ("{'a': undefined}", "unexpected character 'u' at line 1 column 7"),
        ("{\n  'a': 'open", "a string is never closed at line 2 column 8"),
        ('{"a": 1} trailing', "unexpected text at character 8"),  # counted from 0
    ],
)
def test_what_it_cannot_read_is_refused_saying_where(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        read_value(text)
    assert str(info.value) == message


def test_nesting_past_the_limit_is_an_error_not_a_stack_overflow() -> None:
    assert read_value("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(ValueError, match=f"nested more than {MAX_DEPTH} deep"):
        read_value("[" * (MAX_DEPTH + 1))
    with pytest.raises(ValueError, match="nested more than"):
        read_value("[" * 100_000)  # too deep for json too: the lenient reader says so


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ('{"a": 1}', [{"a": 1}]),
        ('{"a": 1} {"b": 2}', [{"a": 1}, {"b": 2}]),
        ("{'a': 1}, {'b': 2,};\n[3]", [{"a": 1}, {"b": 2}, [3]]),
        ('{"a": 1}\nThat is the call I will make.', [{"a": 1}]),
        ("", []),
    ],
)
def test_read_values_reads_values_in_a_row_and_ignores_prose_after_them(text: str, values: list[Any]) -> None:
    assert read_values(text) == values


def test_read_values_refuses_a_value_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="unexpected character"):
        read_values('{"a": 1} {"b": nope}')
