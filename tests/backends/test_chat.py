"""The chat backend on the wire: request bodies, reasoning fields, tool-call deltas."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentkit import Agent, tool
from agentkit.backends.base import ModelRequest, Turn
from agentkit.backends.chat import ChatBackend
from agentkit.messages import (
    AssistantMessage,
    ContentDelta,
    Message,
    ReasoningDelta,
    SystemMessage,
    ToolCall,
    ToolCallError,
    ToolCallInvalid,
    ToolCallReady,
    ToolMessage,
    UserMessage,
)
from agentkit.thinking import NON_THINKING_SAMPLING, ThinkingDecision

from .conftest import Wire, chat_events, sse


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return {"Zürich": "cold", "Paris": "mild"}[city]


def call_deltas(index: int, id: str, name: str, arguments: str, size: int = 4) -> list[dict[str, Any]]:
    """A tool call split the way servers stream it: id and name first, then argument pieces."""
    out: list[dict[str, Any]] = [
        {
            "tool_calls": [
                {"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}
            ]
        }
    ]
    for i in range(0, len(arguments), size):
        out.append({"tool_calls": [{"index": index, "function": {"arguments": arguments[i : i + size]}}]})
    return out


async def run(backend: ChatBackend, request: ModelRequest) -> list[Any]:
    events = [e async for e in backend.stream(request)]
    await backend.aclose()
    return events


async def test_request_body_carries_messages_tools_and_the_thinking_switch(wire: Wire) -> None:
    wire.router.post("/chat/completions").mock(return_value=sse(chat_events([{"content": "Hi"}])))
    backend = ChatBackend(wire.base_url, "Qwen/Qwen3-4B", transport=wire.transport)
    messages: list[Message] = [
        SystemMessage("sys"),
        UserMessage("Weather?"),
        AssistantMessage("", "need a tool", [ToolCall("get_weather", {"city": "Paris"}, id="c1")]),
        ToolMessage("mild", "c1", "get_weather"),
    ]
    await run(
        backend, ModelRequest(messages, [get_weather.spec()], ThinkingDecision(False), NON_THINKING_SAMPLING)
    )
    assert wire.bodies("/chat/completions")[0] == {
        "model": "Qwen/Qwen3-4B",
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": "",
                "reasoning_content": "need a tool",
                "reasoning": "need a tool",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "name": "get_weather", "content": "mild"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "tools": [get_weather.spec()],
        "tool_choice": "auto",
        "chat_template_kwargs": {"enable_thinking": False},
        "temperature": 0.7,
        "top_p": 0.8,
        "top_k": 20,
        "min_p": 0.0,
    }


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
async def test_reasoning_and_parallel_calls_split_across_many_chunks(wire: Wire, field: str) -> None:
    deltas = [
        {field: "\nI need "},
        {field: "two lookups.\n"},
        {"content": "\n\n"},
        *call_deltas(0, "call_a", "get_weather", '{"city": "Zürich"}'),
        *call_deltas(1, "call_b", "get_weather", '{"city": "Paris"}'),
    ]
    wire.router.post("/chat/completions").mock(
        return_value=sse(chat_events(deltas, finish="tool_calls"), split=11)
    )
    events = await run(
        ChatBackend(wire.base_url, "m", transport=wire.transport), ModelRequest([UserMessage("Weather?")])
    )

    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "I need two lookups."
    assert not [e for e in events if isinstance(e, ContentDelta)]
    ready = [e.call for e in events if isinstance(e, ToolCallReady)]
    assert [(c.id, c.name, c.arguments) for c in ready] == [
        ("call_a", "get_weather", {"city": "Zürich"}),
        ("call_b", "get_weather", {"city": "Paris"}),
    ]
    turn = events[-1]
    assert isinstance(turn, Turn)
    assert turn.finish_reason == "tool_calls"
    assert turn.message.reasoning == "I need two lookups."
    assert turn.usage.prompt_tokens == 50


async def test_first_call_is_ready_before_the_second_finishes_streaming(wire: Wire) -> None:
    deltas = [
        *call_deltas(0, "a", "get_weather", '{"city": "Paris"}'),
        *call_deltas(1, "b", "get_weather", '{"city": "Zürich"}'),
    ]
    wire.router.post("/chat/completions").mock(return_value=sse(chat_events(deltas, finish="tool_calls")))
    backend = ChatBackend(wire.base_url, "m", transport=wire.transport)
    order = []
    async for event in backend.stream(ModelRequest([UserMessage("x")])):
        order.append(event.call.id if isinstance(event, ToolCallReady) else type(event).__name__)
    await backend.aclose()
    assert order == ["a", "b", "Turn"]


async def test_a_call_the_server_left_in_the_content_is_still_read(wire: Wire) -> None:
    text = (
        'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris",}}\n</tool_call>'
    )
    wire.router.post("/chat/completions").mock(
        return_value=sse(chat_events([{"content": text[i : i + 6]} for i in range(0, len(text), 6)]))
    )
    events = await run(
        ChatBackend(wire.base_url, "m", transport=wire.transport), ModelRequest([UserMessage("x")])
    )
    turn = events[-1]
    assert turn.message.content == "Let me check."
    assert [(c.name, c.arguments) for c in turn.message.tool_calls] == [("get_weather", {"city": "Paris"})]


async def test_think_block_in_content_is_split_when_the_server_has_no_reasoning_parser(wire: Wire) -> None:
    wire.router.post("/chat/completions").mock(
        return_value=sse(chat_events([{"content": "<think>\nhm\n</think>\n\nHello"}]))
    )
    events = await run(
        ChatBackend(wire.base_url, "m", transport=wire.transport), ModelRequest([UserMessage("x")])
    )
    assert (events[-1].message.reasoning, events[-1].message.content) == ("hm", "Hello")


async def test_unparsable_arguments_become_an_error_for_the_model(wire: Wire) -> None:
    deltas = call_deltas(0, "a", "get_weather", '{"city": Paris}')
    wire.router.post("/chat/completions").mock(return_value=sse(chat_events(deltas, finish="tool_calls")))
    events = await run(
        ChatBackend(wire.base_url, "m", transport=wire.transport), ModelRequest([UserMessage("x")])
    )
    invalid = [e.error for e in events if isinstance(e, ToolCallInvalid)]
    assert len(invalid) == 1 and invalid[0].id == "a"
    assert "arguments of get_weather are not valid JSON" in invalid[0].error


async def test_tool_calls_finish_without_calls_is_reported(wire: Wire) -> None:
    wire.router.post("/chat/completions").mock(return_value=sse(chat_events([], finish="tool_calls")))
    events = await run(
        ChatBackend(wire.base_url, "m", transport=wire.transport), ModelRequest([UserMessage("x")])
    )
    turn = events[-1]
    assert len(turn.calls) == 1 and isinstance(turn.calls[0], ToolCallError)
    assert "could not read your tool call" in turn.calls[0].error


async def test_a_reply_the_server_swallowed_whole_is_reported(wire: Wire) -> None:
    # vLLM's parser drops a <tool_call> without a "name": nothing comes back but the usage.
    usage = {"prompt_tokens": 50, "completion_tokens": 13, "total_tokens": 63}
    wire.router.post("/chat/completions").mock(return_value=sse(chat_events([], finish="stop", usage=usage)))
    events = await run(
        ChatBackend(wire.base_url, "m", transport=wire.transport), ModelRequest([UserMessage("x")])
    )
    turn = events[-1]
    assert len(turn.calls) == 1 and "dropped your reply (13 tokens)" in turn.calls[0].error


async def test_an_empty_reply_is_just_empty(wire: Wire) -> None:
    usage = {"prompt_tokens": 50, "completion_tokens": 1, "total_tokens": 51}
    wire.router.post("/chat/completions").mock(return_value=sse(chat_events([], finish="stop", usage=usage)))
    events = await run(
        ChatBackend(wire.base_url, "m", transport=wire.transport), ModelRequest([UserMessage("x")])
    )
    assert events[-1].calls == [] and events[-1].message.content == ""


async def test_a_full_run_over_chat_feeds_results_back_by_call_id(wire: Wire) -> None:
    wire.router.post("/chat/completions").mock(
        side_effect=[
            sse(
                chat_events(
                    [{"reasoning": "look up"}, *call_deltas(0, "c9", "get_weather", '{"city": "Paris"}')],
                    finish="tool_calls",
                )
            ),
            sse(chat_events([{"content": "Paris is mild."}])),
        ]
    )
    agent = Agent("m", wire.base_url, backend="chat", tools=[get_weather], transport=wire.transport)
    result = await agent.run("Paris?")
    await agent.aclose()
    assert result.output == "Paris is mild."
    second = wire.bodies("/chat/completions")[1]
    assert second["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "c9",
        "name": "get_weather",
        "content": "mild",
    }
    assert second["chat_template_kwargs"] == {"enable_thinking": False}
    assert json.loads(second["messages"][-2]["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}


async def test_a_users_openai_client_supplies_url_and_key(wire: Wire) -> None:
    import openai

    client = openai.AsyncOpenAI(base_url=wire.base_url, api_key="sk-local")
    wire.router.post("/chat/completions").mock(return_value=sse(chat_events([{"content": "ok"}])))
    await run(
        ChatBackend(model="m", client=client, transport=wire.transport), ModelRequest([UserMessage("x")])
    )
    assert wire.router.calls.last.request.headers["authorization"] == "Bearer sk-local"


async def test_a_thinking_budget_is_sent_as_vllms_thinking_token_budget(wire: Wire) -> None:
    wire.router.post("/chat/completions").mock(return_value=sse(chat_events([{"content": "ok"}])))
    request = ModelRequest([UserMessage("x")], decision=ThinkingDecision(True, budget=256))
    await run(ChatBackend(wire.base_url, "m", transport=wire.transport), request)
    body = wire.bodies("/chat/completions")[0]
    assert body["thinking_token_budget"] == 256 and body["chat_template_kwargs"] == {"enable_thinking": True}


# -- the 2507 releases ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "asked", "sent"),
    [
        ("Qwen/Qwen3-4B-Thinking-2507", False, True),
        ("Qwen/Qwen3-4B-Thinking-2507", True, True),
        ("Qwen/Qwen3-4B-Instruct-2507", True, False),
        ("Qwen/Qwen3-4B-Instruct-2507", False, False),
    ],
)
async def test_2507_requests_say_the_models_own_mode_to_the_servers_reasoning_parser(
    wire: Wire, model: str, asked: bool, sent: bool
) -> None:
    wire.router.post("/chat/completions").mock(return_value=sse(chat_events([{"content": "Hi"}])))
    backend = ChatBackend(wire.base_url, model, transport=wire.transport)
    await run(backend, ModelRequest([UserMessage("Hi")], decision=ThinkingDecision(asked, budget=100)))
    body = wire.bodies("/chat/completions")[0]
    assert body["chat_template_kwargs"] == {"enable_thinking": sent}
    assert body["messages"] == [{"role": "user", "content": "Hi"}]  # no /no_think added


async def test_thinking_2507_content_without_a_reasoning_parser_splits_at_the_close_tag(wire: Wire) -> None:
    text = "Weighing it.\n</think>\n\nHello."
    deltas = [{"content": text[i : i + 3]} for i in range(0, len(text), 3)]
    wire.router.post("/chat/completions").mock(return_value=sse(chat_events(deltas)))
    backend = ChatBackend(wire.base_url, "Qwen/Qwen3-4B-Thinking-2507", transport=wire.transport)
    events = await run(backend, ModelRequest([UserMessage("Hi")], decision=ThinkingDecision(True)))
    turn = events[-1]
    assert isinstance(turn, Turn)
    assert (turn.message.reasoning, turn.message.content) == ("Weighing it.", "Hello.")


async def test_content_after_the_servers_reasoning_streams_as_it_comes(wire: Wire) -> None:
    deltas = [{"reasoning_content": "Weighing it."}, {"content": "Hel"}, {"content": "lo."}]
    wire.router.post("/chat/completions").mock(return_value=sse(chat_events(deltas)))
    backend = ChatBackend(wire.base_url, "Qwen/Qwen3-4B-Thinking-2507", transport=wire.transport)
    events = await run(backend, ModelRequest([UserMessage("Hi")], decision=ThinkingDecision(True)))
    assert [e.text for e in events if isinstance(e, ContentDelta)] == ["Hel", "lo."]


async def test_instruct_2507_content_keeps_a_think_tag_as_text(wire: Wire) -> None:
    wire.router.post("/chat/completions").mock(
        return_value=sse(chat_events([{"content": "<think>x</think> is the tag."}]))
    )
    backend = ChatBackend(wire.base_url, "Qwen/Qwen3-4B-Instruct-2507", transport=wire.transport)
    events = await run(backend, ModelRequest([UserMessage("Hi")], decision=ThinkingDecision(False)))
    turn = events[-1]
    assert isinstance(turn, Turn)
    assert (turn.message.reasoning, turn.message.content) == (None, "<think>x</think> is the tag.")


async def test_a_hybrid_step_without_thinking_streams_its_content_piece_by_piece(wire: Wire) -> None:
    deltas = [{"content": "Zürich "}, {"content": "is "}, {"content": "cold."}]
    wire.router.post("/chat/completions").mock(return_value=sse(chat_events(deltas)))
    backend = ChatBackend(wire.base_url, "Qwen/Qwen3-4B", transport=wire.transport)
    events = await run(backend, ModelRequest([UserMessage("Hi")], decision=ThinkingDecision(False)))
    assert [e.text for e in events if isinstance(e, ContentDelta)] == ["Zürich", " is", " cold."]
