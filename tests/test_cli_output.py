"""`agentkit run --output-schema FILE`: the answer printed as JSON; a bad schema file refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agentkit.cli import app

runner = CliRunner()

SCHEMA = {
    "type": "object",
    "properties": {"total": {"type": "integer"}, "unit": {"enum": ["kg", "g"]}},
    "required": ["total", "unit"],
}


def run(tmp_path: Path, turns: list[str], *more: str) -> Result:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    script = tmp_path / "script.json"
    script.write_text(json.dumps(turns))
    args = [
        "run",
        "weigh it",
        "--backend",
        "scripted",
        "--script",
        str(script),
        "--output-schema",
        str(schema),
    ]
    return runner.invoke(app, [*args, *more])


def test_the_answer_is_printed_as_one_line_of_json_when_piped(tmp_path: Path) -> None:
    result = run(tmp_path, ['<think>\nadd\n</think>\n\n{"total": 42, "unit": "kg"}'])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == '{"total": 42, "unit": "kg"}\n'


def test_json_events_carry_the_answer_as_json(tmp_path: Path) -> None:
    result = run(tmp_path, ['{"total": 1, "unit": "g"}'], "--json")
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["type"] == "run_finished" and last["output"] == {"total": 1, "unit": "g"}


def test_an_answer_that_stays_invalid_exits_10_saying_what_was_wrong(tmp_path: Path) -> None:
    result = run(tmp_path, ['{"total": "many"}'] * 3)
    assert result.exit_code == 10
    assert "'unit' is a required property" in result.stderr
    assert "is not of type 'integer'" in result.stderr
    assert result.stdout == ""
    err = result.stderr
    assert err.count("✗ the answer does not match the output schema:") == 2  # each one sent back
    assert "continuing after tool results" not in err  # no tool ran: the steps only continue the turn
    assert "does not match the output schema: " in err.splitlines()[-1] and "(sent back 2 times)" in err


def test_an_answer_in_a_json_code_fence_is_taken(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        ['Here it is:\n```json\n{"total": 3, "unit": "g"}\n```', '```json\n{"total": 3, "unit": "g"}\n```'],
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == '{"total": 3, "unit": "g"}\n'
    assert "sent back to the model" in result.stderr  # text around the fence is not an answer


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such file"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "a JSON schema is an object"),
        (
            '{"type": "object", "required": "total"}',
            "not a valid JSON schema: at required: 'total' is not of type",
        ),
    ],
)
def test_a_bad_schema_file_is_refused_naming_the_file_and_the_problem(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    schema = tmp_path / "bad.json"
    if content is not None:
        schema.write_text(content)
    script = tmp_path / "script.json"
    script.write_text("[]")
    result = runner.invoke(
        app, ["run", "x", "--backend", "scripted", "--script", str(script), "--output-schema", str(schema)]
    )
    assert result.exit_code == 2
    assert f"--output-schema {schema}: " in result.stderr
    assert problem in result.stderr
