"""agentkit's Qwen3 template renders what the official template renders, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentkit import tool
from agentkit.messages import AssistantMessage, SystemMessage, ToolCall, ToolMessage, UserMessage, to_openai
from agentkit.qwen3.template import render_prompt, template_source

from . import reference

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.json"))
needs_reference = pytest.mark.skipif(
    not reference.available(), reason="../shared/reference/qwen3_chat_template.jinja not beside the project"
)


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_renders_the_golden_prompt_of_the_official_template(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    got = render_prompt(
        case["messages"],
        case["tools"],
        add_generation_prompt=case["add_generation_prompt"],
        enable_thinking=case["enable_thinking"],
    )
    assert got == case["prompt"]


def test_golden_files_cover_the_required_cases() -> None:
    names = {p.stem for p in GOLDEN}
    assert {
        "no_system",
        "system_no_tools",
        "system_with_tools",
        "parallel_calls_object_args",
        "string_args_and_content_before_calls",
        "reasoning_after_last_query",
        "reasoning_before_last_query_dropped",
        "content_with_embedded_think",
        "enable_thinking_false",
        "non_ascii",
    } <= names
    consecutive = json.loads(
        (Path(__file__).parent / "golden" / "parallel_calls_object_args.json").read_text()
    )
    assert [m["role"] for m in consecutive["messages"][-2:]] == ["tool", "tool"]


@needs_reference
@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_files_are_what_the_official_template_renders_today(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    assert (
        reference.official_render(
            case["messages"],
            case["tools"],
            add_generation_prompt=case["add_generation_prompt"],
            enable_thinking=case["enable_thinking"],
        )
        == case["prompt"]
    )


# -- random conversations against the official template -----------------------------------

_ALPHABET = [
    *'abc xyz\n{}":,é東🙂',
    "<think>",
    "</think>",
    "<tool_response>",
    "</tool_response>",
    "/no_think",
    "\n\n",
]
_text = st.lists(st.sampled_from(_ALPHABET), max_size=30).map("".join)
_args = st.one_of(
    st.dictionaries(
        st.sampled_from(["a", "city", "ü"]), st.one_of(st.integers(), _text, st.booleans()), max_size=3
    ),
    st.builds(
        lambda d: json.dumps(d), st.dictionaries(st.sampled_from(["q", "n"]), st.integers(), max_size=2)
    ),
)
_call = st.builds(
    lambda name, args, wrapped: (
        {"type": "function", "function": {"name": name, "arguments": args}}
        if wrapped
        else {"name": name, "arguments": args}
    ),
    st.sampled_from(["get_weather", "search", "now"]),
    _args,
    st.booleans(),
)


@st.composite
def _message(draw: st.DrawFn) -> dict[str, Any]:
    role = draw(st.sampled_from(["system", "user", "user", "assistant", "assistant", "tool", "tool"]))
    content: Any = draw(st.one_of(_text, st.none())) if role == "assistant" else draw(_text)
    if role == "user" and draw(st.integers(0, 5)) == 0:
        content = "<tool_response>\n" + content + "\n</tool_response>"
    message: dict[str, Any] = {"role": role, "content": content}
    if role == "assistant":
        if draw(st.booleans()):
            message["reasoning_content"] = draw(_text)
        calls = draw(st.lists(_call, max_size=3))
        if calls:
            message["tool_calls"] = calls
    return message


_tools = st.one_of(
    st.none(),
    st.just([]),
    st.lists(
        st.builds(
            lambda name, desc: {
                "type": "function",
                "function": {
                    "name": name,
                    "description": desc,
                    "parameters": {"type": "object", "properties": {"x": {"type": "string"}}},
                },
            },
            st.sampled_from(["get_weather", "search"]),
            _text,
        ),
        min_size=1,
        max_size=2,
    ),
)


@needs_reference
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=st.lists(_message(), min_size=1, max_size=8),
    tools=_tools,
    add_generation_prompt=st.booleans(),
    enable_thinking=st.booleans(),
)
def test_random_conversations_render_exactly_as_the_official_template(
    messages: list[dict[str, Any]], tools: Any, add_generation_prompt: bool, enable_thinking: bool
) -> None:
    try:
        expected = reference.official_render(
            messages, tools, add_generation_prompt=add_generation_prompt, enable_thinking=enable_thinking
        )
    except Exception:  # the official template rejects it (e.g. a None system content)
        return
    got = render_prompt(
        messages, tools, add_generation_prompt=add_generation_prompt, enable_thinking=enable_thinking
    )
    assert got == expected


# -- agentkit's own message and tool types --------------------------------------------------


def test_message_objects_render_like_their_openai_dicts() -> None:
    call = ToolCall("get_weather", {"city": "Paris"}, id="c1")
    messages = [
        SystemMessage("sys"),
        UserMessage("Weather?"),
        AssistantMessage("", "thinking about it", [call]),
        ToolMessage("sunny", "c1", "get_weather"),
    ]
    assert render_prompt(messages) == render_prompt([to_openai(m) for m in messages])
    assert "<think>\nthinking about it\n</think>\n\n<tool_call>" in render_prompt(messages)


def test_tool_objects_render_as_their_function_specs() -> None:
    @tool
    def get_weather(city: str) -> str:
        """Weather for a city."""
        return "sunny"

    prompt = render_prompt([UserMessage("hi")], [get_weather])
    assert "\n" + json.dumps(get_weather.spec(), ensure_ascii=False) + "\n</tools>" in prompt


def test_history_within_one_query_is_an_extension_of_the_previous_prompt() -> None:
    # What the completions backend relies on: within one user query, the template renders
    # an assistant turn with reasoning exactly as prompt + output, so prompts only grow.
    start = [SystemMessage("sys"), UserMessage("Weather in Paris and Rome?")]
    call = ToolCall("get_weather", {"city": "Paris"}, id="c1")
    turn = AssistantMessage("", "I will check.", [call])
    output = (
        "<think>\nI will check.\n</think>\n\n"
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    )
    result = ToolMessage("sunny", "c1")
    tools = [get_weather_spec()]
    before = render_prompt(start, tools)
    after = render_prompt([*start, turn, result], tools)
    assert after == before + output + "<|im_end|>\n" + render_prompt([result])


def get_weather_spec() -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "",
            "parameters": {"type": "object", "properties": {}},
        },
    }


def test_template_source_is_a_standalone_chat_template() -> None:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda v: json.dumps(v, ensure_ascii=False)
    text = env.from_string(template_source()).render(
        messages=[{"role": "user", "content": "hi"}], add_generation_prompt=True
    )
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
