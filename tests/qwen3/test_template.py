"""agentkit's Qwen3 template renders what the official template renders, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentkit import tool
from agentkit.messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
    to_openai,
)
from agentkit.qwen3.template import TemplateName, generation_prompt, render_prompt, template_source

from . import reference

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.json"))
GOLDEN_2507 = sorted((Path(__file__).parent / "golden" / "2507").glob("*.json"))
TEMPLATES_2507 = ("qwen3-instruct-2507", "qwen3-thinking-2507")
needs_reference = pytest.mark.skipif(
    not reference.available(), reason="../shared/reference/qwen3_chat_template.jinja not beside the project"
)


ALL_GOLDEN = [*GOLDEN, *GOLDEN_2507]


@pytest.mark.parametrize("path", ALL_GOLDEN, ids=[p.stem for p in ALL_GOLDEN])
def test_renders_the_golden_prompt_of_the_official_template(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    got = render_prompt(
        case["messages"],
        case["tools"],
        add_generation_prompt=case["add_generation_prompt"],
        enable_thinking=case["enable_thinking"],
        template=case.get("template", "qwen3"),
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
@pytest.mark.parametrize("path", ALL_GOLDEN, ids=[p.stem for p in ALL_GOLDEN])
def test_golden_files_are_what_the_official_template_renders_today(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    assert (
        reference.official_render(
            case["messages"],
            case["tools"],
            add_generation_prompt=case["add_generation_prompt"],
            enable_thinking=case["enable_thinking"],
            template=case.get("template", "qwen3"),
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


_tools: st.SearchStrategy[list[dict[str, Any]] | None] = st.one_of(
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
@settings(max_examples=900, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=st.lists(_message(), min_size=1, max_size=8),
    tools=_tools,
    add_generation_prompt=st.booleans(),
    enable_thinking=st.booleans(),
    template=st.sampled_from(["qwen3", *TEMPLATES_2507]),
)
def test_random_conversations_render_exactly_as_the_official_template(
    messages: list[dict[str, Any]],
    tools: Any,
    add_generation_prompt: bool,
    enable_thinking: bool,
    template: TemplateName,
) -> None:
    try:
        expected = reference.official_render(
            messages,
            tools,
            add_generation_prompt=add_generation_prompt,
            enable_thinking=enable_thinking,
            template=template,
        )
    except Exception:  # the official template rejects it (e.g. a None system content)
        return
    got = render_prompt(
        messages,
        tools,
        add_generation_prompt=add_generation_prompt,
        enable_thinking=enable_thinking,
        template=template,
    )
    assert got == expected


# -- the 2507 releases ----------------------------------------------------------------------


def test_2507_golden_files_cover_every_hybrid_case_for_both_releases() -> None:
    names = {(json.loads(p.read_text())["template"], p.stem.split("--")[1]) for p in GOLDEN_2507}
    assert names == {(t, p.stem) for t in TEMPLATES_2507 for p in GOLDEN}


@needs_reference
def test_the_thinking_2507_reference_has_the_published_length_of_the_official_template() -> None:
    assert len(reference.official_source("qwen3-thinking-2507")) == reference.THINKING_2507_LENGTH


CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather? /think"},
    {
        "role": "assistant",
        "content": "",
        "reasoning_content": "Look it up.",
        "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}
        ],
    },
    {"role": "tool", "content": "cold"},
    {"role": "tool", "content": "windy"},
]


@pytest.mark.parametrize("enable_thinking", [True, False])
def test_instruct_2507_opens_the_bare_assistant_turn_whatever_is_asked(enable_thinking: bool) -> None:
    prompt = render_prompt(CONVERSATION, template="qwen3-instruct-2507", enable_thinking=enable_thinking)
    assert prompt.endswith("</tool_response><|im_end|>\n<|im_start|>assistant\n")
    assert generation_prompt("qwen3-instruct-2507", enable_thinking) == "<|im_start|>assistant\n"


@pytest.mark.parametrize("enable_thinking", [True, False])
def test_thinking_2507_opens_the_think_block_whatever_is_asked(enable_thinking: bool) -> None:
    prompt = render_prompt(CONVERSATION, template="qwen3-thinking-2507", enable_thinking=enable_thinking)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n")
    assert generation_prompt("qwen3-thinking-2507", enable_thinking) == "<|im_start|>assistant\n<think>\n"


@pytest.mark.parametrize("template", TEMPLATES_2507)
def test_2507_templates_differ_from_the_hybrid_only_in_their_header_and_generation_prompt(
    template: TemplateName,
) -> None:
    def body(text: str) -> str:
        start = text.index("{#- The tool preamble")
        return text[start : text.rindex("{%- if add_generation_prompt %}")]

    assert body(template_source(template)) == body(template_source())
    assert template_source(template) != template_source()


def test_thinking_2507_history_within_one_query_extends_the_previous_prompt() -> None:
    # The model's output starts inside the think block the prompt opened: prompt + output
    # + <|im_end|> + tool results must be the next prompt.
    start = [{"role": "user", "content": "Weather in Oslo?"}]
    call = {"name": "get_weather", "arguments": {"city": "Oslo"}}
    turn = {"role": "assistant", "content": "", "reasoning_content": "Look it up.", "tool_calls": [call]}
    output = (
        "Look it up.\n</think>\n\n"
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
    )
    result = {"role": "tool", "content": "cold"}
    before = render_prompt(start, template="qwen3-thinking-2507")
    after = render_prompt([*start, turn, result], template="qwen3-thinking-2507")
    assert after == before + output + "<|im_end|>\n" + render_prompt([result], template="qwen3-thinking-2507")


def test_an_unknown_template_name_is_refused_with_the_names_there_are() -> None:
    with pytest.raises(ValueError, match="qwen3-thinking-2507"):
        template_source("qwen3-2507")  # type: ignore[arg-type]


# -- agentkit's own message and tool types --------------------------------------------------


def test_message_objects_render_like_their_openai_dicts() -> None:
    call = ToolCall("get_weather", {"city": "Paris"}, id="c1")
    messages: list[Message] = [
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
    start: list[Message] = [SystemMessage("sys"), UserMessage("Weather in Paris and Rome?")]
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


@pytest.mark.parametrize(
    ("template", "opening"),
    [("qwen3", ""), ("qwen3-instruct-2507", ""), ("qwen3-thinking-2507", "<think>\n")],
)
def test_template_source_is_a_standalone_chat_template(template: TemplateName, opening: str) -> None:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda v: json.dumps(v, ensure_ascii=False)
    text = env.from_string(template_source(template)).render(
        messages=[{"role": "user", "content": "hi"}], add_generation_prompt=True
    )
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n" + opening
