"""The completions backend on the wire: exact request bodies, SSE parsing, append-only prompts."""

from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest

from agentkit import Agent, tool
from agentkit.backends.base import ModelRequest, Turn
from agentkit.backends.completions import BUDGET_CLOSE, CompletionsBackend
from agentkit.backends.retry import RetryPolicy
from agentkit.errors import ModelError, ModelUnreachable
from agentkit.messages import (
    AssistantMessage,
    ContentDelta,
    Message,
    ReasoningDelta,
    SystemMessage,
    ToolCallReady,
    ToolMessage,
    UserMessage,
)
from agentkit.qwen3.template import render_prompt
from agentkit.thinking import THINKING_SAMPLING, Sampling, ThinkingDecision

from .conftest import Wire, completion_events, sse

OUTPUT_1 = (
    "<think>\nI need the weather in both cities.\n</think>\n\n"
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Zürich"}}\n</tool_call>\n'
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
)
OUTPUT_2 = "Zürich is cold and Paris is mild."


def pieces(text: str, size: int = 5) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return {"Zürich": "cold, 2°C", "Paris": "mild, 14°C"}[city]


async def test_request_body_is_the_rendered_prompt_with_model_card_sampling(wire: Wire) -> None:
    route = wire.router.post("/completions").mock(
        return_value=sse(completion_events(pieces(OUTPUT_2)), split=9)
    )
    backend = CompletionsBackend(wire.base_url, "Qwen/Qwen3-4B", transport=wire.transport)
    messages: list[Message] = [SystemMessage("Be brief."), UserMessage("Weather?")]
    request = ModelRequest(messages, [get_weather.spec()], ThinkingDecision(True), THINKING_SAMPLING)
    events = [e async for e in backend.stream(request)]
    await backend.aclose()

    assert route.call_count == 1
    assert wire.bodies("/completions")[0] == {
        "model": "Qwen/Qwen3-4B",
        "prompt": render_prompt(messages, [get_weather.spec()], enable_thinking=True),
        "stream": True,
        "stream_options": {"include_usage": True},
        "stop": ["<|im_end|>", "<|endoftext|>"],
        "temperature": 0.6,
        "top_p": 0.95,
        "top_k": 20,
        "min_p": 0.0,
        "max_tokens": 32768,
    }
    turn = events[-1]
    assert isinstance(turn, Turn)
    assert turn.message.content == OUTPUT_2
    assert turn.message.raw == OUTPUT_2
    assert turn.usage.prompt_tokens == 100 and turn.usage.requests == 1


async def test_stream_split_anywhere_gives_reasoning_then_calls(wire: Wire) -> None:
    wire.router.post("/completions").mock(return_value=sse(completion_events(pieces(OUTPUT_1, 3)), split=7))
    backend = CompletionsBackend(wire.base_url, "m", transport=wire.transport)
    request = ModelRequest([UserMessage("Weather?")], [get_weather.spec()])
    events = [e async for e in backend.stream(request)]
    await backend.aclose()

    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert reasoning == "I need the weather in both cities."
    assert not [e for e in events if isinstance(e, ContentDelta)]
    ready = [e.call for e in events if isinstance(e, ToolCallReady)]
    assert [(c.name, c.arguments) for c in ready] == [
        ("get_weather", {"city": "Zürich"}),
        ("get_weather", {"city": "Paris"}),
    ]
    turn = events[-1]
    assert isinstance(turn, Turn) and turn.message.raw == OUTPUT_1
    assert turn.message.tool_calls == ready


async def test_a_two_step_run_sends_an_append_only_prompt(wire: Wire) -> None:
    route = wire.router.post("/completions").mock(
        side_effect=[
            sse(completion_events(pieces(OUTPUT_1))),
            sse(completion_events(pieces(OUTPUT_2))),
        ]
    )
    agent = Agent(
        "m", wire.base_url, tools=[get_weather], system_prompt="You check weather.", transport=wire.transport
    )
    result = await agent.run("Weather in Zürich and Paris?")
    await agent.aclose()

    assert result.output == OUTPUT_2
    assert route.call_count == 2
    first, second = (b["prompt"] for b in wire.bodies("/completions"))
    tool_turn = (
        "<|im_start|>user\n<tool_response>\ncold, 2°C\n</tool_response>\n"
        "<tool_response>\nmild, 14°C\n</tool_response><|im_end|>\n"
    )
    # Step 2 continues after tool results: auto policy, no thinking (empty think block).
    assert (
        second
        == first + OUTPUT_1 + "<|im_end|>\n" + tool_turn + "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )
    # ... and it equals the official rendering of the same conversation.
    assert second == render_prompt(result.messages[:-1], [get_weather.spec()], enable_thinking=False)
    assert [s.decision.think for s in result.steps] == [True, False]
    assert wire.bodies("/completions")[1]["temperature"] == 0.7


async def test_a_new_user_turn_renders_from_scratch_without_old_thinking(wire: Wire) -> None:
    wire.router.post("/completions").mock(
        side_effect=[
            sse(completion_events(pieces("<think>\nEasy.\n</think>\n\n4"))),
            sse(completion_events(pieces("<think>\nAlso easy.\n</think>\n\n6"))),
        ]
    )
    agent = Agent("m", wire.base_url, transport=wire.transport)
    first = await agent.run("2+2?")
    await agent.run("3+3?", history=first.messages)
    await agent.aclose()
    prompt = wire.bodies("/completions")[1]["prompt"]
    assert (
        prompt == "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n"
        "<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert "Easy." not in prompt


async def test_thinking_budget_closes_reasoning_and_continues(wire: Wire) -> None:
    cut = "<think>\nLet me consider every possibility at great length"
    wire.router.post("/completions").mock(
        side_effect=[
            sse(
                completion_events(
                    pieces(cut),
                    finish="length",
                    usage={"prompt_tokens": 10, "completion_tokens": 16, "total_tokens": 26},
                )
            ),
            sse(completion_events(pieces("The answer is 7."))),
        ]
    )
    backend = CompletionsBackend(wire.base_url, "m", transport=wire.transport)
    request = ModelRequest(
        [UserMessage("Q")], [], ThinkingDecision(True, budget=16), Sampling(max_tokens=100)
    )
    events = [e async for e in backend.stream(request)]
    await backend.aclose()

    first, second = wire.bodies("/completions")
    assert first["max_tokens"] == 16
    assert second["prompt"] == first["prompt"] + cut + BUDGET_CLOSE
    assert second["max_tokens"] == 100 - 16
    turn = events[-1]
    assert isinstance(turn, Turn)
    assert turn.message.reasoning is not None and turn.message.reasoning.endswith(
        "based on the thinking directly now."
    )
    assert turn.message.content == "The answer is 7."
    assert turn.usage.requests == 2


async def test_model_name_and_context_are_asked_of_the_server_once(wire: Wire) -> None:
    models = wire.router.get("/models").mock(
        return_value=httpx.Response(
            200, json={"object": "list", "data": [{"id": "Qwen/Qwen3-8B", "max_model_len": 4096}]}
        )
    )
    wire.router.post("/completions").mock(side_effect=lambda request: sse(completion_events(["ok"])))
    backend = CompletionsBackend(wire.base_url, transport=wire.transport)
    for _ in range(2):
        [e async for e in backend.stream(ModelRequest([UserMessage("hi")]))]
    await backend.aclose()
    assert models.call_count == 1
    assert [b["model"] for b in wire.bodies("/completions")] == ["Qwen/Qwen3-8B"] * 2
    # /v1/completions defaults to 16 tokens; vLLM caps max_tokens at what the context leaves.
    assert [b["max_tokens"] for b in wire.bodies("/completions")] == [4096] * 2


async def test_http_error_carries_the_servers_message(wire: Wire) -> None:
    wire.router.post("/completions").mock(
        return_value=httpx.Response(
            404,
            json={
                "error": {"message": "The model `nope` does not exist.", "type": "NotFoundError", "code": 404}
            },
        )
    )
    backend = CompletionsBackend(wire.base_url, "nope", transport=wire.transport)
    with pytest.raises(
        ModelError, match=r"HTTP 404: The model `nope` does not exist\..*GET /v1/models"
    ) as info:
        [e async for e in backend.stream(ModelRequest([UserMessage("hi")]))]
    await backend.aclose()
    assert info.value.status == 404


async def test_an_error_event_mid_stream_is_raised(wire: Wire) -> None:
    events = [*completion_events(["partial"])[:1], {"error": {"message": "engine died", "code": 500}}]
    route = wire.router.post("/completions").mock(return_value=sse(events))
    retry = RetryPolicy(attempts=3, base=0.001)  # a 500 event is retried; these bounds keep the test short
    backend = CompletionsBackend(wire.base_url, "m", transport=wire.transport, retry=retry)
    with pytest.raises(ModelError, match="engine died"):
        [e async for e in backend.stream(ModelRequest([UserMessage("hi")]))]
    await backend.aclose()
    assert route.call_count == 3


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_unreachable_server_names_the_url_and_the_serve_command(
    transport: str, unused_port: int
) -> None:
    backend = CompletionsBackend(f"http://127.0.0.1:{unused_port}", "Qwen/Qwen3-4B", transport=transport)
    with pytest.raises(ModelUnreachable) as info:
        [e async for e in backend.stream(ModelRequest([UserMessage("hi")]))]
    await backend.aclose()
    message = str(info.value)
    assert f"no model server answers at http://127.0.0.1:{unused_port}/v1" in message
    assert f"vllm serve Qwen/Qwen3-4B --host 127.0.0.1 --port {unused_port}" in message
    assert "--tool-call-parser hermes --reasoning-parser qwen3" in message


def test_prompt_is_rendered_from_scratch_when_history_is_not_ours() -> None:
    backend = CompletionsBackend("http://127.0.0.1:1", "m")
    messages: list[Message] = [UserMessage("hi"), ToolMessage("x", "c1")]
    assert backend.prompt_for(ModelRequest(messages)) == render_prompt(messages)


async def test_each_run_owns_its_prompt_however_many_run_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond the shared cache's 64 prompts, later steps still extend their run's own prompt
    (only each run's first step renders the conversation whole), and every request's prompt
    starts with the one before it in its run: vLLM's prefix cache serves it."""
    import agentkit.backends.completions as completions

    from ..fault_server import FaultServer

    whole = [0]
    render = completions.prompt_text

    def counted(*args: object, **kwargs: object) -> str:
        whole[0] += 1
        return render(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(completions, "prompt_text", counted)

    @tool
    def step(n: int) -> str:
        """Do step n."""
        return f"did {n}"

    runs, calls = 150, 3
    with FaultServer(calls=calls, tool="step", latency=0.05).in_thread() as server:  # the runs overlap
        agent = Agent(base_url=server.base_url, tools=[step], transcripts=False, thinking="off")
        results = await asyncio.gather(*(agent.run(f"Task {i}") for i in range(runs)))
        prompts = [body["prompt"] for body in server.bodies("/completions")]
    assert all(r.ok for r in results)
    assert len(prompts) == runs * (calls + 1)
    assert whole[0] == runs
    by_run: dict[str, list[str]] = {}
    for prompt in prompts:
        by_run.setdefault(prompt.split("Task ", 1)[1].split("<", 1)[0], []).append(prompt)
    assert len(by_run) == runs
    for steps in by_run.values():
        assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(steps))


# -- the 2507 releases: their own templates and parser modes ---------------------------------

THINKING_2507_OUTPUT = (
    "The user wants the weather.\n</think>\n\n"
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
)


@pytest.mark.parametrize("think", [True, False])
async def test_thinking_2507_prompts_open_the_think_block_and_its_output_starts_inside_it(
    wire: Wire, think: bool
) -> None:
    wire.router.post("/completions").mock(
        return_value=sse(completion_events(pieces(THINKING_2507_OUTPUT, 3)), split=7)
    )
    backend = CompletionsBackend(wire.base_url, "Qwen/Qwen3-4B-Thinking-2507", transport=wire.transport)
    messages = [UserMessage("Weather in Paris? /no_think")]
    request = ModelRequest(messages, [get_weather.spec()], ThinkingDecision(think, budget=None))
    events = [e async for e in backend.stream(request)]
    await backend.aclose()

    prompt = wire.bodies("/completions")[0]["prompt"]
    assert prompt == render_prompt(messages, [get_weather.spec()], template="qwen3-thinking-2507")
    assert prompt.endswith("<|im_start|>assistant\n<think>\n")
    turn = events[-1]
    assert isinstance(turn, Turn)
    assert turn.message.reasoning == "The user wants the weather." and turn.message.content == ""
    assert [(c.name, c.arguments) for c in turn.message.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert turn.message.raw == "<think>\n" + THINKING_2507_OUTPUT  # as the next prompt holds it


async def test_a_thinking_2507_run_sends_an_append_only_prompt_that_the_template_renders(wire: Wire) -> None:
    wire.router.post("/completions").mock(
        side_effect=[
            sse(completion_events(pieces(THINKING_2507_OUTPUT))),
            sse(completion_events(pieces("Sure.\n</think>\n\nParis is mild."))),
        ]
    )
    agent = Agent("Qwen/Qwen3-4B-Thinking-2507", wire.base_url, tools=[get_weather], transport=wire.transport)
    result = await agent.run("Weather in Paris?")
    await agent.aclose()

    first, second = (b["prompt"] for b in wire.bodies("/completions"))
    assert second.startswith(first + THINKING_2507_OUTPUT + "<|im_end|>\n")
    assert second == render_prompt(result.messages[:-1], [get_weather.spec()], template="qwen3-thinking-2507")
    assert [s.decision.think for s in result.steps] == [True, True]
    assert isinstance(result.messages[-1], AssistantMessage)
    assert result.output == "Paris is mild." and result.messages[-1].reasoning == "Sure."


@pytest.mark.parametrize("think", [True, False])
async def test_instruct_2507_prompts_open_the_bare_turn_and_a_think_tag_it_writes_is_text(
    wire: Wire, think: bool
) -> None:
    output = "Use <think> tags, like <think>this</think>."
    wire.router.post("/completions").mock(return_value=sse(completion_events(pieces(output)), split=5))
    backend = CompletionsBackend(wire.base_url, "Qwen/Qwen3-4B-Instruct-2507-FP8", transport=wire.transport)
    messages = [UserMessage("How do I mark reasoning? /think")]
    events = [e async for e in backend.stream(ModelRequest(messages, decision=ThinkingDecision(think)))]
    await backend.aclose()

    prompt = wire.bodies("/completions")[0]["prompt"]
    assert prompt == render_prompt(messages, template="qwen3-instruct-2507")
    assert prompt.endswith(
        "<|im_start|>user\nHow do I mark reasoning? /think<|im_end|>\n<|im_start|>assistant\n"
    )
    turn = events[-1]
    assert isinstance(turn, Turn)
    assert (turn.message.reasoning, turn.message.content, turn.message.raw) == (None, output, output)


async def test_a_model_served_under_its_own_name_is_known_by_its_checkpoint(wire: Wire) -> None:
    wire.router.get("/models").mock(
        return_value=httpx.Response(
            200,
            json={
                "object": "list",
                "data": [
                    {"id": "agent", "root": "/ckpt/Qwen3-30B-A3B-Thinking-2507", "max_model_len": 32768}
                ],
            },
        )
    )
    wire.router.post("/completions").mock(return_value=sse(completion_events(["Hm.</think>Hi."])))
    backend = CompletionsBackend(wire.base_url, transport=wire.transport)
    events = [e async for e in backend.stream(ModelRequest([UserMessage("Hi")]))]
    await backend.aclose()

    assert wire.bodies("/completions")[0]["prompt"].endswith("<|im_start|>assistant\n<think>\n")
    turn = events[-1]
    assert isinstance(turn, Turn) and (turn.message.reasoning, turn.message.content) == ("Hm.", "Hi.")


async def test_a_hybrid_step_without_thinking_streams_its_answer_piece_by_piece(wire: Wire) -> None:
    wire.router.post("/completions").mock(return_value=sse(completion_events(["Zürich ", "is ", "cold."])))
    backend = CompletionsBackend(wire.base_url, "Qwen/Qwen3-4B", transport=wire.transport)
    events = [
        e async for e in backend.stream(ModelRequest([UserMessage("Hi")], decision=ThinkingDecision(False)))
    ]
    await backend.aclose()
    assert [e.text for e in events if isinstance(e, ContentDelta)] == ["Zürich", " is", " cold."]
