"""Structured output through the real loop (scripted model): tools then a typed answer, a
wrong answer sent back with the error (bounded), per-run types, transcripts and resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel

from agentkit import Agent, Limits, ScriptedBackend, tool
from agentkit.errors import ConfigError, ModelError
from agentkit.events import OutputRejected, RunFinished
from agentkit.messages import SystemMessage, UserMessage
from agentkit.store import load_run, read_transcript


class Weather(BaseModel):
    city: str
    celsius: float
    sky: Literal["clear", "cloudy", "rain"]


GOOD = '{"city": "Paris", "celsius": 14, "sky": "clear"}'
CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return "mild, 14°C, clear"


async def test_tools_run_before_a_typed_answer_and_the_model_is_told_the_schema() -> None:
    backend = ScriptedBackend(
        [f"<think>\nlook it up\n</think>\n\n{CALL}", f"<think>\nok\n</think>\n\n{GOOD}"]
    )
    agent = Agent(backend=backend, tools=[get_weather], system_prompt="Be brief.", output_type=Weather)
    result = await agent.run("Weather in Paris?")

    assert result.stop_reason == "answer"
    assert result.output == Weather(city="Paris", celsius=14, sky="clear")
    assert result.text == GOOD
    assert [len(r.tool_results) for r in result.steps] == [1, 0]
    first = backend.requests[0]
    assert first.output_schema == Weather.model_json_schema()
    system = first.messages[0]
    assert isinstance(system, SystemMessage)
    assert system.content.startswith("Be brief.\n\nWhen you give your final answer")
    assert json.dumps(Weather.model_json_schema(), ensure_ascii=False) in system.content
    assert result.summary()["output"] == json.loads(GOOD)


async def test_a_wrong_answer_goes_back_with_the_error_and_the_next_one_counts() -> None:
    backend = ScriptedBackend(["It is sunny in Paris.", GOOD])
    agent = Agent(backend=backend, output_type=Weather, transcripts=False)
    events = [e async for e in agent.stream("Weather in Paris?")]

    rejected = [e for e in events if isinstance(e, OutputRejected)]
    assert len(rejected) == 1 and "not JSON" in rejected[0].error
    resent = backend.requests[1].messages[-1]
    assert isinstance(resent, UserMessage)
    assert resent.content == rejected[0].reply
    assert "does not match the required JSON schema" in resent.content
    assert isinstance(events[-1], RunFinished)
    result = events[-1].result
    assert result.ok and result.output.sky == "clear"


async def test_wrong_answers_are_sent_back_a_bounded_number_of_times_then_the_run_stops() -> None:
    wrong = '{"city": "Paris", "celsius": "warm", "sky": "sunny"}'
    backend = ScriptedBackend([wrong] * 10)
    agent = Agent(backend=backend, output_type=Weather, limits=Limits(output_retries=2), transcripts=False)
    result = await agent.run("Weather in Paris?")

    assert len(backend.requests) == 3  # the answer and two retries
    assert result.stop_reason == "invalid_output"
    assert result.output == "" and result.text == ""
    assert result.error is not None
    assert "does not match the output type Weather" in result.error
    assert "at .celsius: Input should be a valid number" in result.error
    assert "at .sky: Input should be 'clear', 'cloudy' or 'rain'" in result.error


async def test_a_json_schema_dict_gives_the_parsed_json_and_a_run_may_set_its_own_type() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    backend = ScriptedBackend(['{"n": 3}', GOOD, "plain words"])
    agent = Agent(backend=backend, output_type=schema, transcripts=False)
    assert (await agent.run("count")).output == {"n": 3}
    assert (await agent.run("weather", output_type=Weather)).output.city == "Paris"
    assert backend.requests[1].output_schema == Weather.model_json_schema()
    plain = Agent(backend=ScriptedBackend(["plain words"]), transcripts=False)
    result = await plain.run("say it")
    assert result.output == "plain words"
    assert result.steps and backend.requests[0].messages[0].content.startswith("When you give")
    assert not any(isinstance(m, SystemMessage) for m in result.messages)


def test_a_bad_output_type_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="output_type: not a valid JSON schema: at type"):
        Agent(backend=ScriptedBackend([]), output_type={"type": 5})


async def test_the_transcript_records_the_json_and_a_resumed_run_gets_a_typed_output(tmp_path: Path) -> None:
    # The run answers wrongly, is told so, and the server fails before the next answer.
    first = Agent(backend=ScriptedBackend(["no JSON here"]), output_type=Weather, transcripts=tmp_path)
    with pytest.raises(ModelError):
        await first.run("Weather in Paris?")
    path = first.last_transcript
    assert path is not None
    saved = load_run(path)
    assert saved.config["output_schema"] == Weather.model_json_schema()
    assert isinstance(saved.messages[-1], UserMessage) and "not JSON" in saved.messages[-1].content

    # An agent without an output type takes it from the transcript: the parsed JSON.
    backend = ScriptedBackend([GOOD])
    result = await Agent(backend=backend, transcripts=tmp_path).resume(saved.run_id)
    assert result.output == json.loads(GOOD)
    assert backend.requests[0].messages[-1].content == saved.messages[-1].content
    finished = [r for r in read_transcript(path) if r["type"] == "run_finished"][-1]
    assert finished["output"] == json.loads(GOOD)


async def test_a_run_resumed_after_its_answer_was_written_validates_that_answer(tmp_path: Path) -> None:
    agent = Agent(backend=ScriptedBackend([GOOD]), output_type=Weather, transcripts=tmp_path)
    result = await agent.run("Weather?")
    assert result.ok
    path = agent.last_transcript
    assert path is not None
    # Cut the transcript after the answer's step: the run was killed before it ended.
    lines = path.read_text(encoding="utf-8").splitlines()
    keep = [i for i, line in enumerate(lines) if json.loads(line)["type"] == "step_finished"][-1]
    path.write_text("\n".join(lines[: keep + 1]) + "\n", encoding="utf-8")
    resumed = await Agent(backend=ScriptedBackend([]), output_type=Weather, transcripts=tmp_path).resume(
        result.run_id
    )
    assert resumed.stop_reason == "answer"
    assert resumed.output == Weather(city="Paris", celsius=14, sky="clear")
