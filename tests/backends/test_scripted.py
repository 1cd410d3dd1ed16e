"""The scripted backend's script files."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from agentkit.backends.base import ModelRequest, Turn
from agentkit.backends.scripted import Paced, ScriptedBackend, ScriptedTurn, load_script
from agentkit.errors import ConfigError, ModelError
from agentkit.messages import AssistantMessage, UserMessage


def test_a_script_holds_raw_text_paced_text_and_messages(tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps(["Hi.", {"raw": "Slow.", "delay": 0.2}, {"content": "Done."}]))
    first, paced, message = load_script(script)
    assert first == "Hi." and paced == Paced("Slow.", 0.2) and isinstance(message, AssistantMessage)


@pytest.mark.parametrize("turn", [{"raw": 3}, {"raw": "x", "delay": "slow"}, {"raw": "x", "delay": True}])
def test_a_paced_turn_needs_text_and_seconds(tmp_path: Path, turn: object) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps([turn]))
    with pytest.raises(ConfigError, match='turn 1 must give "raw" as text and "delay" as seconds'):
        load_script(script)


async def test_a_paced_turn_streams_at_its_own_pace() -> None:
    backend = ScriptedBackend([Paced("abcdefgh", 0.05), "ijklmnop"], chunk_size=2)
    request = ModelRequest([UserMessage("go")])
    started = time.monotonic()
    turns = [e async for e in backend.stream(request) if isinstance(e, Turn)]
    slow = time.monotonic() - started
    started = time.monotonic()
    turns += [e async for e in backend.stream(request) if isinstance(e, Turn)]
    fast = time.monotonic() - started
    assert [t.message.content for t in turns] == ["abcdefgh", "ijklmnop"]
    assert slow >= 4 * 0.05 and fast < 0.05


def _echo_tool() -> Any:
    from agentkit import tool

    @tool
    def echo(word: str) -> str:
        """Say the word back."""
        return word

    return echo


def _call(word: str) -> str:
    return f'<tool_call>\n{{"name": "echo", "arguments": {{"word": "{word}"}}}}\n</tool_call>'


async def test_runs_at_once_each_take_the_turns_of_their_own_task() -> None:
    from agentkit import Agent

    script: dict[str, list[ScriptedTurn]] = {
        task: [_call(task), Paced(f"{task} answered", 0.01)] for task in ("alpha", "beta", "gamma")
    }
    backend = ScriptedBackend(script, chunk_size=3, delay=0.005)
    agent = Agent(backend=backend, tools=[_echo_tool()], transcripts=False)
    results = await asyncio.gather(*(agent.run(task) for task in ("gamma", "alpha", "beta", "alpha")))

    assert [r.output for r in results] == [
        "gamma answered",
        "alpha answered",
        "beta answered",
        "alpha answered",
    ]
    assert [r.steps[0].tool_results[0].content for r in results] == ["gamma", "alpha", "beta", "alpha"]
    firsts = [next(m for m in r.messages if isinstance(m, UserMessage)).content for r in results]
    assert firsts == ["gamma", "alpha", "beta", "alpha"]


async def test_a_task_the_script_lacks_or_has_run_through_is_named() -> None:
    backend = ScriptedBackend({"alpha": ["done"]})
    with pytest.raises(ModelError, match=r"no turns for the task 'beta'; it has turns for 'alpha'"):
        [e async for e in backend.stream(ModelRequest([UserMessage("beta")]))]
    memo: dict[str, Any] = {}
    [e async for e in backend.stream(ModelRequest([UserMessage("alpha")], memo=memo))]
    with pytest.raises(ModelError, match=r"ran out of turns for the task 'alpha': the script gives it 1"):
        [e async for e in backend.stream(ModelRequest([UserMessage("alpha")], memo=memo))]


def test_a_script_file_holds_turns_per_task(tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps({"tasks": {"a": ["Hi.", {"content": "Done."}], "b": ["Bye."]}}))
    loaded = load_script(script)
    assert isinstance(loaded, dict) and loaded["b"] == ["Bye."]
    assert isinstance(loaded["a"][1], AssistantMessage)
    script.write_text(json.dumps({"tasks": {"a": [3]}}))
    with pytest.raises(ConfigError, match=r"task 'a': turn 1 must be a string"):
        load_script(script)
    script.write_text(json.dumps({"tasks": ["a"]}))
    with pytest.raises(ConfigError, match='"tasks" maps each task to its turns'):
        load_script(script)


async def test_a_script_files_tasks_form_is_taken_in_python_too() -> None:
    from agentkit import Agent

    backend = ScriptedBackend({"tasks": {"first": ["one"], "second": ["two"]}})
    agent = Agent(backend=backend, transcripts=False)
    assert (await agent.run("second")).output == "two"
    assert (await agent.run("first")).output == "one"
