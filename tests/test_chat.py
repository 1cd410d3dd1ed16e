"""ChatSession: many user turns with one agent, recorded and resumed as one run."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from pydantic import BaseModel

from agentkit import Agent, ScriptedBackend, tool
from agentkit.chat import ChatSession
from agentkit.errors import ConfigError
from agentkit.events import RunFinished, StepStarted, ToolCallStarted
from agentkit.messages import AssistantMessage, ToolMessage, UserMessage, as_messages
from agentkit.qwen3.template import render_prompt
from agentkit.store import list_runs, load_run, read_transcript

from .fault_server import ANSWER, FaultServer


def call(name: str, **arguments: object) -> str:
    body = json.dumps({"name": name, "arguments": arguments})
    return f"<think>\nUse the tool.\n</think>\n\n<tool_call>\n{body}\n</tool_call>"


class Counter:
    def __init__(self) -> None:
        self.runs = 0

        @tool
        def multiply(a: float, b: float) -> float:
            """Multiply two numbers."""
            self.runs += 1
            return a * b

        self.tool = multiply


async def turn(chat: ChatSession, text: str) -> list[object]:
    return [event async for event in chat.send(text)]


async def test_turns_carry_the_history_and_write_one_transcript(tmp_path: Path) -> None:
    counter = Counter()
    backend = ScriptedBackend([call("multiply", a=17, b=23), "It is 391.", "Twice that is 782."])
    agent = Agent(backend=backend, tools=[counter.tool], system_prompt="Be brief.", transcripts=tmp_path)
    async with ChatSession(agent) as chat:
        await turn(chat, "What is 17 * 23?")
        await turn(chat, "And twice that?")
    second = backend.requests[-1].messages
    assert [m.role for m in second] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert second[-1] == UserMessage("And twice that?") and second[4].content == "It is 391."
    assert isinstance(second[2], AssistantMessage)
    assert second[2].reasoning is None  # an earlier turn's thinking is not sent again
    assert chat.turns == 2 and counter.runs == 1
    assert isinstance(chat.messages[2], AssistantMessage)
    assert chat.messages[2].reasoning == "Use the tool."  # but the session keeps it
    (info,) = list_runs(tmp_path)
    assert (info.run_id, info.status, info.task) == (chat.run_id, "answer", "What is 17 * 23?")
    kinds = [r["type"] for r in read_transcript(chat.transcript)]  # type: ignore[arg-type]
    assert kinds.count("run") == 1 and kinds.count("user_turn") == 1 and kinds.count("run_finished") == 2
    assert read_transcript(chat.transcript)[0]["config"]["chat"] is True  # type: ignore[arg-type]
    saved = load_run(info.path)
    assert saved.messages == chat.messages and saved.turns == 2


async def test_a_soft_switch_holds_turn_over_turn_until_the_next_one(tmp_path: Path) -> None:
    backend = ScriptedBackend(["One.", "Two.", "<think>\nHm.\n</think>\n\nThree."])
    async with ChatSession(Agent(backend=backend, transcripts=tmp_path)) as chat:
        await turn(chat, "/no_think Count to one.")
        await turn(chat, "Now two.")
        await turn(chat, "/think And three?")
    decisions = [r.decision for r in backend.requests]
    assert [d.think for d in decisions] == [False, False, True]
    assert decisions[1].reason == "/no_think in the conversation"
    assert backend.requests[0].messages[-1].content == "/no_think Count to one."  # the text stays


async def test_the_rendered_prompt_keeps_the_switch_in_the_user_turn(tmp_path: Path) -> None:
    async with FaultServer(calls=0) as server:
        agent = Agent(server.model, server.base_url, transcripts=tmp_path)
        async with ChatSession(agent) as chat:
            await turn(chat, "Then, how many r's in blueberries? /no_think")
            await turn(chat, "Really? /think")
        first, second = (body["prompt"] for body in server.bodies("/completions"))
    assert first == render_prompt(as_messages([{"role": "user", "content": chat.messages[0].content}]),
                                  enable_thinking=False)  # fmt: skip
    assert first.endswith(
        "<|im_start|>user\nThen, how many r's in blueberries? /no_think<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )
    assert second == render_prompt(chat.messages[:3])
    assert second.endswith(
        f"{ANSWER}<|im_end|>\n<|im_start|>user\nReally? /think<|im_end|>\n<|im_start|>assistant\n"
    )


async def test_a_cancelled_turn_keeps_what_finished_and_leaves_no_call_unanswered(tmp_path: Path) -> None:
    counter = Counter()
    started = asyncio.Event()

    def turns(request: object) -> str:
        if len(backend.requests) == 2:
            started.set()
        return [call("multiply", a=2, b=3), "Six. " * 200, "Fine."][len(backend.requests) - 1]

    backend = ScriptedBackend(turns, chunk_size=1, delay=0.01)
    agent = Agent(backend=backend, tools=[counter.tool], transcripts=tmp_path)
    async with ChatSession(agent) as chat:
        task = asyncio.ensure_future(turn(chat, "2 * 3?"))
        await asyncio.wait_for(started.wait(), 10)
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        kept = list(chat.messages)
        assert [m.role for m in kept] == ["user", "assistant", "tool"]  # the answer being written is gone
        assert isinstance(kept[2], ToolMessage) and kept[2].content == "6.0"
        await turn(chat, "Go on.")
    assert [m.role for m in backend.requests[-1].messages] == ["user", "assistant", "tool", "user"]
    assert chat.last_result is not None and chat.last_result.output == "Fine."
    saved = load_run(chat.transcript)  # type: ignore[arg-type]
    assert saved.messages == chat.messages and saved.status == "answer"


async def test_a_chat_killed_mid_turn_resumes_the_turn_without_running_a_call_again(tmp_path: Path) -> None:
    counter = Counter()
    backend = ScriptedBackend(["Hello.", call("multiply", a=4, b=5), "Twenty."])
    agent = Agent(backend=backend, tools=[counter.tool], transcripts=tmp_path)
    async with ChatSession(agent) as chat:
        await turn(chat, "Hi.")
        await turn(chat, "4 * 5?")
    path = chat.transcript
    assert path is not None
    lines = path.read_text().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if '"tool_call_finished"' in line) + 1
    if '"turn_finished"' in lines[cut]:  # the call finished while the model was still writing
        cut += 1
    # killed after the call returned and the model's turn ended, before the step ended
    path.write_text("".join(lines[:cut]))
    again = Counter()
    backend = ScriptedBackend(["Twenty, yes.", "Bye."])
    resumed = ChatSession.resume(
        Agent(backend=backend, tools=[again.tool], transcripts=tmp_path), chat.run_id
    )
    assert resumed.pending and resumed.turns == 2
    async with resumed:
        events = [e async for e in resumed.finish()]
        assert not resumed.pending
        await turn(resumed, "Thanks.")
    assert again.runs == 0 and any(isinstance(e, ToolCallStarted) and e.reused for e in events)
    assert [m.role for m in backend.requests[0].messages] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "tool",
    ]
    assert [m.content for m in resumed.messages if isinstance(m, UserMessage)] == ["Hi.", "4 * 5?", "Thanks."]
    saved = load_run(path)
    assert saved.messages == resumed.messages and saved.turns == 3 and saved.status == "answer"


async def test_an_answered_chat_resumes_with_its_whole_conversation(tmp_path: Path) -> None:
    async with ChatSession(Agent(backend=ScriptedBackend(["A."]), transcripts=tmp_path)) as chat:
        await turn(chat, "First?")
    backend = ScriptedBackend(["B."])
    resumed = ChatSession.resume(Agent(backend=backend, transcripts=tmp_path), chat.run_id[:6])
    assert not resumed.pending and resumed.messages == chat.messages
    async with resumed:
        events = await turn(resumed, "Second?")
    assert [m.content for m in backend.requests[0].messages] == ["First?", "A.", "Second?"]
    assert isinstance(events[-1], RunFinished) and events[-1].result.run_id == chat.run_id


async def test_reset_starts_a_new_run_and_thinking_can_be_changed(tmp_path: Path) -> None:
    backend = ScriptedBackend(["<think>\nx\n</think>\n\nA.", "B."])
    async with ChatSession(Agent(backend=backend, transcripts=tmp_path)) as chat:
        await turn(chat, "One?")
        first = chat.run_id
        await chat.reset()
        assert chat.messages == [] and chat.run_id != first and chat.transcript is None
        chat.thinking = "off"
        events = await turn(chat, "Two?")
    assert [m.content for m in backend.requests[1].messages] == ["Two?"]
    assert next(e for e in events if isinstance(e, StepStarted)).decision.reason == "policy: off"
    assert len(list_runs(tmp_path)) == 2


async def test_save_writes_json_the_agent_reads_back_or_markdown(tmp_path: Path) -> None:
    backend = ScriptedBackend([call("multiply", a=2, b=2), "Four."])
    counter = Counter()
    async with ChatSession(Agent(backend=backend, tools=[counter.tool], transcripts=tmp_path)) as chat:
        await turn(chat, "2 * 2?")
    data = json.loads(chat.save(tmp_path / "c.json").read_text())
    saved = as_messages(data["messages"])[1]
    assert isinstance(saved, AssistantMessage)
    assert data["run_id"] == chat.run_id and saved.tool_calls[0].name == "multiply"
    assert isinstance(as_messages(data["messages"])[-1], AssistantMessage)
    text = chat.save(tmp_path / "c.md").read_text()
    assert "## User\n\n2 * 2?" in text and "> **Thinking**" in text and "`multiply`" in text
    assert "> **Result of `multiply`**\n>\n> 4.0" in text and text.rstrip().endswith("Four.")


async def test_a_chat_still_open_in_another_process_is_not_resumed(tmp_path: Path) -> None:
    async with ChatSession(Agent(backend=ScriptedBackend(["A."]), transcripts=tmp_path)) as chat:
        await turn(chat, "First?")
    path = chat.transcript
    assert path is not None
    records = path.read_text().splitlines()
    head = json.loads(records[0])
    head["pid"] = os.getppid()  # a live process that is not this one
    path.write_text("\n".join([json.dumps(head), *records[1:]]) + "\n")
    with pytest.raises(ConfigError, match=rf"still open in another process \(pid {os.getppid()}\)"):
        ChatSession.resume(Agent(backend=ScriptedBackend(["B."]), transcripts=tmp_path), chat.run_id)


async def test_an_agents_output_type_types_every_answer_of_the_chat(tmp_path: Path) -> None:
    class Count(BaseModel):
        n: int

    backend = ScriptedBackend(['{"n": 1}', '{"n": 2}'])
    async with ChatSession(Agent(backend=backend, output_type=Count, transcripts=tmp_path)) as chat:
        await turn(chat, "One?")
        assert chat.last_result is not None and chat.last_result.output == Count(n=1)
        await turn(chat, "Two?")
        assert chat.last_result.output == Count(n=2)


async def test_thinking_set_in_a_chat_is_restored_when_it_is_resumed(tmp_path: Path) -> None:
    async with ChatSession(Agent(backend=ScriptedBackend(["A."]), transcripts=tmp_path)) as chat:
        await turn(chat, "First?")
        chat.thinking = "off"  # after the turn, before leaving: no turn has run with it yet
    records = read_transcript(chat.transcript)  # type: ignore[arg-type]
    assert records[-1]["type"] == "thinking_set" and records[-1]["thinking"] == "off"
    backend = ScriptedBackend(["B."])
    resumed = ChatSession.resume(Agent(backend=backend, transcripts=tmp_path), chat.run_id)
    assert resumed.thinking == "off"
    async with resumed:
        events = await turn(resumed, "Second?")
    assert next(e for e in events if isinstance(e, StepStarted)).decision.reason == "policy: off"
    assert load_run(chat.transcript).status == "answer"  # type: ignore[arg-type]


async def test_thinking_set_before_the_first_turn_or_in_an_earlier_chat_is_kept_too(tmp_path: Path) -> None:
    async with ChatSession(Agent(backend=ScriptedBackend(["A.", "B."]), transcripts=tmp_path)) as chat:
        chat.thinking = "on"
        await turn(chat, "First?")
        await chat.reset()  # a new chat, with the thinking set in the last one
        await turn(chat, "Second?")
    for run_id in (r.run_id for r in list_runs(tmp_path)):
        resumed = ChatSession.resume(Agent(backend=ScriptedBackend([]), transcripts=tmp_path), run_id)
        assert resumed.thinking == "on"


async def test_a_chat_whose_thinking_was_never_set_resumes_with_the_agents(tmp_path: Path) -> None:
    async with ChatSession(Agent(backend=ScriptedBackend(["A."]), transcripts=tmp_path)) as chat:
        await turn(chat, "First?")
    assert not any(r["type"] == "thinking_set" for r in read_transcript(chat.transcript))  # type: ignore[arg-type]
    agent = Agent(backend=ScriptedBackend([]), transcripts=tmp_path, thinking="off")
    assert ChatSession.resume(agent, chat.run_id).thinking == "off"
