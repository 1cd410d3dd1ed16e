"""Both backends against llama-cpp-python's server, replaying its exact streams (captured from
`llama-cpp-python[server]` 0.3.36 serving the tests' tiny Qwen3; see llamacpp/README.md).

Its quirks are data (`agentkit.backends.server_kinds`): the tool-call name repeated in every chunk,
no usage when streaming, `enable_thinking` and `thinking_token_budget` ignored, an empty 200
for a request that fails once its stream began, and its own token counter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentkit import Agent, tool
from agentkit.backends.base import ModelRequest, Retrying, Turn
from agentkit.backends.chat import ChatBackend
from agentkit.backends.completions import CompletionsBackend
from agentkit.backends.retry import RetryPolicy
from agentkit.errors import ContextOverflow, ModelError
from agentkit.messages import UserMessage
from agentkit.thinking import ThinkingDecision

from .conftest import BASE, Chunks, Wire

CAPTURES = Path(__file__).parent / "llamacpp"


def capture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CAPTURES / f"{name}.json").read_text())
    return data


def replay(name: str) -> httpx.Response:
    """The captured answer, chunk for chunk."""
    exchange = capture(name)
    chunks = [c.encode() for c in exchange["body_chunks"]]
    headers = {"content-type": exchange["headers"].get("content-type", "application/json")}
    return httpx.Response(exchange["status"], headers=headers, stream=Chunks(chunks))


@pytest.fixture
def llamacpp(wire: Wire) -> Wire:
    """The wire, listing its models as llama-cpp-python does."""
    listing = json.loads(capture("models")["body_chunks"][0])
    wire.router.get("/models").mock(return_value=httpx.Response(200, json=listing))
    return wire


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def turn_of(backend: Any, request: ModelRequest) -> Turn:
    events = [e async for e in backend.stream(request)]
    await backend.aclose()
    assert isinstance(events[-1], Turn)
    return events[-1]


@pytest.mark.parametrize("name", ["chat_tool_forced", "chatml_fc_tool_forced"])
async def test_a_tool_call_whose_name_repeats_in_every_chunk_is_one_call(llamacpp: Wire, name: str) -> None:
    llamacpp.router.post("/chat/completions").mock(return_value=replay(name))
    backend = ChatBackend(llamacpp.base_url, "tiny-qwen3", transport=llamacpp.transport)
    turn = await turn_of(backend, ModelRequest([UserMessage("What is 1 + 2?")], [add.spec()]))
    (call,) = turn.message.tool_calls
    assert call.name == "add"  # not "addaddadd…"
    sent = json.loads("".join(
        part["function"]["arguments"]
        for chunk in capture(name)["body_chunks"] if chunk.startswith("data: {")
        for choice in json.loads(chunk[6:])["choices"]
        for part in (choice["delta"].get("tool_calls") or ())
    ))  # fmt: skip
    assert call.arguments == sent and set(sent) == {"a", "b"}


async def test_usage_the_server_does_not_stream_is_estimated(llamacpp: Wire) -> None:
    llamacpp.router.post("/chat/completions").mock(return_value=replay("chat_stream"))
    backend = ChatBackend(llamacpp.base_url, "tiny-qwen3", transport=llamacpp.transport)
    turn = await turn_of(backend, ModelRequest([UserMessage("What is 1 + 2?")]))
    assert turn.usage.estimated and turn.usage.prompt_tokens > 0 and turn.usage.requests == 1
    assert turn.context_tokens is None  # an estimate is no count: the context budget estimates too


async def test_completions_over_llamacpp_parse_and_estimate_usage(llamacpp: Wire) -> None:
    llamacpp.router.post("/completions").mock(return_value=replay("completions_stream"))
    backend = CompletionsBackend(llamacpp.base_url, "tiny-qwen3", transport=llamacpp.transport)
    turn = await turn_of(backend, ModelRequest([UserMessage("Hi")], decision=ThinkingDecision(False)))
    texts = [json.loads(c[6:])["choices"][0]["text"] for c in capture("completions_stream")["body_chunks"]
             if c.startswith("data: {")]  # fmt: skip
    assert turn.message.content == "".join(texts).strip()
    assert turn.usage.estimated and turn.usage.completion_tokens > 0


async def test_thinking_is_turned_off_with_no_think_where_the_flag_is_ignored(llamacpp: Wire) -> None:
    route = llamacpp.router.post("/chat/completions").mock(
        side_effect=[replay("chat_stream"), replay("chat_stream")]
    )
    backend = ChatBackend(llamacpp.base_url, "tiny-qwen3", transport=llamacpp.transport)
    off = ModelRequest([UserMessage("What is 1 + 2?")], decision=ThinkingDecision(False))
    await turn_of(backend, off)
    on = ModelRequest([UserMessage("What is 1 + 2?")], decision=ThinkingDecision(True, budget=64))
    await turn_of(ChatBackend(llamacpp.base_url, "tiny-qwen3", transport=llamacpp.transport), on)
    first, second = llamacpp.bodies("/chat/completions")
    assert route.call_count == 2
    assert first["messages"][-1]["content"] == "What is 1 + 2? /no_think"
    assert second["messages"][-1]["content"] == "What is 1 + 2?"
    assert "thinking_token_budget" not in second  # it would be ignored


async def test_a_server_seen_thinking_against_the_flag_gets_the_soft_switch_after(wire: Wire) -> None:
    """A server of no known kind that thinks although asked not to: its next non-thinking
    requests say /no_think."""
    from .conftest import chat_events, sse

    thought = sse(chat_events([{"content": "<think>\nHm.\n</think>\n\nFour."}]))
    wire.router.post("/chat/completions").mock(
        side_effect=[thought, sse(chat_events([{"content": "Five."}]))]
    )
    backend = ChatBackend(wire.base_url, "m", transport=wire.transport)
    off = ModelRequest([UserMessage("2 + 2?")], decision=ThinkingDecision(False))
    thought_turn = [e async for e in backend.stream(off)][-1]
    assert isinstance(thought_turn, Turn) and thought_turn.message.reasoning == "Hm."
    plain_turn = [e async for e in backend.stream(off)][-1]
    assert isinstance(plain_turn, Turn) and plain_turn.message.content == "Five."
    await backend.aclose()
    first, second = wire.bodies("/chat/completions")
    assert first["messages"][-1]["content"] == "2 + 2?"
    assert second["messages"][-1]["content"] == "2 + 2? /no_think"


async def test_an_empty_200_after_the_prompt_outgrew_n_ctx_is_explained_not_retried(llamacpp: Wire) -> None:
    route = llamacpp.router.post("/chat/completions").mock(return_value=replay("chat_prompt_over_ctx_stream"))
    backend = ChatBackend(llamacpp.base_url, "tiny-qwen3", transport=llamacpp.transport)
    with pytest.raises(
        ModelError, match=r"answered 200 with an empty body: llama-cpp-python .* --context-window"
    ):
        await turn_of(backend, ModelRequest([UserMessage("hello " * 3000)]))
    assert route.call_count == 1


async def test_its_context_length_error_is_a_context_overflow(llamacpp: Wire) -> None:
    llamacpp.router.post("/completions").mock(return_value=replay("completions_prompt_over_ctx"))
    backend = CompletionsBackend(llamacpp.base_url, "tiny-qwen3", transport=llamacpp.transport)
    with pytest.raises(ContextOverflow, match="maximum context length is 2048 tokens"):
        await turn_of(backend, ModelRequest([UserMessage("hello " * 3000)]))


async def test_prompts_are_counted_with_its_own_tokenizer(llamacpp: Wire) -> None:
    root = BASE.rsplit("/v1", 1)[0]  # the tokenizer is at the server's root, not under /v1
    llamacpp.router.post(url=root + "/extras/tokenize/count").mock(return_value=replay("tokenize_count"))
    backend = CompletionsBackend(llamacpp.base_url, "tiny-qwen3", transport=llamacpp.transport)
    assert await backend.count_tokens(ModelRequest([UserMessage("Hi")])) == 7
    (body,) = llamacpp.bodies("/extras/tokenize/count")
    assert "input" in body and body["input"].startswith("<|im_start|>user\nHi")
    await backend.aclose()


async def test_a_run_over_llamacpp_calls_the_tool_once_and_answers(llamacpp: Wire) -> None:
    llamacpp.router.post("/chat/completions").mock(
        side_effect=[replay("chat_tool_forced"), replay("chat_stream")]
    )
    agent = Agent(
        "tiny-qwen3", llamacpp.base_url, backend="chat", tools=[add], transport=llamacpp.transport,
        retry=RetryPolicy(attempts=1), transcripts=False,
    )  # fmt: skip
    result = await agent.run("What is 1 + 2?")
    assert result.ok and len(result.steps) == 2
    (answer,) = result.steps[0].tool_results
    assert not answer.is_error and result.usage.estimated


async def test_a_stream_cut_short_by_another_request_is_continued(llamacpp: Wire) -> None:
    """llama-cpp-python ends a stream with [DONE] and no finish_reason when another request
    arrives (its default --interrupt_requests True): not an answer, a broken stream."""
    llamacpp.router.post("/completions").mock(
        side_effect=[replay("completions_interrupted"), replay("completions_stream")]
    )
    backend = CompletionsBackend(
        llamacpp.base_url, "tiny-qwen3", transport=llamacpp.transport, retry=RetryPolicy(base=0, cap=0)
    )
    events = [e async for e in backend.stream(ModelRequest([UserMessage("Hi")]))]
    await backend.aclose()
    (retry,) = [e for e in events if isinstance(e, Retrying)]
    assert "no finish_reason" in retry.reason and "--interrupt_requests False" in retry.reason
    first, second = llamacpp.bodies("/completions")
    cut = "".join(
        json.loads(c[6:])["choices"][0]["text"]
        for c in capture("completions_interrupted")["body_chunks"]
        if c.startswith("data: {")
    )
    assert second["prompt"] == first["prompt"] + cut  # continued from the text received
    assert isinstance(events[-1], Turn) and events[-1].finish_reason == "length"
