"""Fuzzing the Qwen3 parser and template with hypothesis.

`parse_output` and `StreamParser` never raise, whatever the text and however it is cut into
deltas, and streaming gives the batch result. `render_prompt` raises only its documented
`TypeError`/`ValueError`, and renders what the official template renders.

The example counts suit a normal test run; `AGENTKIT_FUZZ_EXAMPLES=20000` runs every property
that many times instead.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentkit import tool
from agentkit.messages import (
    AssistantMessage,
    SystemMessage,
    ToolCall,
    ToolCallError,
    ToolMessage,
    UserMessage,
    to_openai,
)
from agentkit.qwen3.parser import ParsedOutput, ParserEvent, StreamParser, collect, parse_output
from agentkit.qwen3.template import render_prompt

from . import reference
from .test_parser import same

needs_reference = pytest.mark.skipif(
    not reference.available(), reason="../shared/reference/qwen3_chat_template.jinja not beside the project"
)


def fuzz(examples: int) -> settings:
    """Hypothesis settings: `examples` runs, or `AGENTKIT_FUZZ_EXAMPLES` when it is set."""
    return settings(
        max_examples=int(os.environ.get("AGENTKIT_FUZZ_EXAMPLES") or examples),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# -- text --------------------------------------------------------------------------------------

# Every code point: lone surrogates, NUL, controls, unassigned ones.
_CHAR = st.characters(exclude_categories=())
_any_text = st.text(_CHAR, max_size=200)
_short_text = st.text(_CHAR, max_size=12)

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _short_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_short_text, inner, max_size=4),
    max_leaves=12,
)  # NaN is left out: it is unequal to itself, so equal parses would compare unequal
_json_object = st.dictionaries(_short_text, _json, max_size=4)

_TAGS = [
    "<think>", "</think>", "<tool_call>", "</tool_call>", "<|im_end|>", "<|endoftext|>",
    "<function=f>", "<function=get weather>", '<function name="g">', "<function ", "</function>",
    "<parameter=a>", "<parameter=b c>", "</parameter>", "<tools>", "</tools>", "<response>",
    "</response>", "```json\n", "```", "\n```",
]  # fmt: skip
_BITS = [
    "{", "}", "[", "]", '"', "'", "\\", '\\"', "\\u00e9", "\\ud83d", "\\u12", ":", ",", "\n", "\n{",
    " ", "\t", "\n\n", "<", "<tool_", "</", ">", "\x00", "\ud800", "\udfff", "é東🙂", "\u2028", "\x85",
    "True", "None", "null", "1e999", "-", "Infinity", '"name"', '"arguments"',
]  # fmt: skip


@st.composite
def _call_object(draw: st.DrawFn) -> str:
    """A call as a model might write one: JSON or Python-ish, whole or cut off, right or not."""
    name = draw(st.sampled_from(["f", "get_weather", " search ", "", "名前"]) | _short_text | _json)
    obj: dict[str, Any] = {"name": name}
    key = draw(st.sampled_from(["arguments", "parameters", None]))
    if key:
        args = draw(_json_object | _json)
        obj[key] = json.dumps(args) if draw(st.integers(0, 3)) == 0 else args
    style = draw(st.sampled_from(["json", "ascii", "indent", "python", "openai", "list"]))
    if style == "python":
        text = repr(obj)
    elif style == "openai":
        text = json.dumps({"type": "function", "function": obj}, ensure_ascii=False)
    elif style == "list":
        text = json.dumps([obj, obj], ensure_ascii=False)
    else:
        text = json.dumps(obj, ensure_ascii=style == "ascii", indent=2 if style == "indent" else None)
    if draw(st.integers(0, 4)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text


_fragment = st.one_of(st.sampled_from(_TAGS), st.sampled_from(_BITS), _call_object(), _short_text)
_RUN_UNITS = [
    " ", "\n", "{", "[", "`", '"', "\\", "a", "<", '{"a": ', "{'a': [", "]}", "<tool_call>",
    "</tool_call>", "<think>", "```", "\n{", "<function=a", "<parameter=a", "\t\n ",
]  # fmt: skip
_long_run = st.builds(lambda unit, n: unit * n, st.sampled_from(_RUN_UNITS), st.integers(50, 2000))
_repeated = st.builds(
    lambda parts, n: "".join(parts) * n, st.lists(_fragment, min_size=1, max_size=4), st.integers(2, 200)
)


@st.composite
def _output(draw: st.DrawFn) -> str:
    """Model output from a grammar of fragments that stress the parser, now and then with a
    very long run of one piece spliced in."""
    pieces = draw(st.lists(_fragment, max_size=30))
    for extra in draw(st.lists(_long_run | _repeated, max_size=2)):
        pieces.insert(draw(st.integers(0, len(pieces))), extra)
    return "".join(pieces)


_text = st.one_of(_output(), _any_text)
_thinking = st.sampled_from([None, True, False])


def check(out: ParsedOutput) -> None:
    """What every parse promises, whatever the text."""
    assert [c for c in out.calls if isinstance(c, ToolCall)] == out.tool_calls
    assert [c for c in out.calls if isinstance(c, ToolCallError)] == out.errors
    assert len(out.calls) == len(out.tool_calls) + len(out.errors)
    assert out.content == out.content.strip()
    assert out.reasoning is None or out.reasoning == out.reasoning.strip()
    for call in out.tool_calls:
        assert isinstance(call.name, str) and call.name and call.name == call.name.strip()
        assert isinstance(call.arguments, dict) and isinstance(call.raw, str)
    for error in out.errors:
        assert isinstance(error.raw, str) and isinstance(error.error, str) and error.error


# -- parse_output ------------------------------------------------------------------------------


@fuzz(600)
@given(text=_text, thinking=_thinking)
def test_parse_output_never_raises(text: str, thinking: bool | None) -> None:
    check(parse_output(text, thinking=thinking))


_FORBIDDEN_IN_BLOCK = ("<tool_call>", "</tool_call>", "<|im_end|>", "<|endoftext|>", "</think>")
_prose = st.text(st.characters(exclude_categories=(), exclude_characters="<"), max_size=30)
_block_bit = st.one_of(
    st.builds(json.dumps, _json_object | _json, ensure_ascii=st.booleans()),
    st.builds(
        lambda name, args: json.dumps({"name": name, "arguments": args}, ensure_ascii=False),
        _short_text,
        _json_object,
    ),
    st.sampled_from(
        ["{", "}", "[", "]", "'", "\\", ":", ",", "\n", " ", "```json\n", "```", "<function=f>",
         "</function>", "<parameter=a>", "</parameter>", "<think>", "<", "True", "None", "\x00"]
    ),
    st.text(st.characters(exclude_categories=(), exclude_characters='"<'), max_size=10),
)  # fmt: skip
# A body whose double quotes pair up, so no tag can be mistaken for text inside a string.
_block_body = (
    st.lists(_block_bit, max_size=6)
    .map("".join)
    .filter(lambda body: not any(tag in body for tag in _FORBIDDEN_IN_BLOCK))
)


@fuzz(300)
@given(
    prose=st.lists(_prose, min_size=2, max_size=6),
    bodies=st.lists(_block_body, min_size=1, max_size=5),
    last_closed=st.booleans(),
    thinking=_thinking,
)
def test_every_tool_call_block_yields_calls_or_an_error(
    prose: list[str], bodies: list[str], last_closed: bool, thinking: bool | None
) -> None:
    # Leading spaces, one more in each block, make every block's text distinct; the parser strips them.
    blocks = [
        "<tool_call>"
        + " " * (i + 1)
        + body.lstrip()
        + ("</tool_call>" if last_closed or i < len(bodies) - 1 else "")
        for i, body in enumerate(bodies)
    ]
    between = prose[: len(blocks)] + [""] * (len(blocks) - len(prose))
    after = "".join(prose[len(blocks) :]) if last_closed else ""
    text = "".join(p + b for p, b in zip(between, blocks, strict=True)) + after
    out = parse_output(text, thinking=thinking)
    check(out)
    raws = [item.raw for item in out.calls]
    assert [r for i, r in enumerate(raws) if i == 0 or raws[i - 1] != r] == blocks
    outside = [*between, after]
    if thinking:  # the think block never closes: its first <tool_call> ends the reasoning
        assert (out.reasoning, out.content) == (outside[0].strip(), "".join(outside[1:]).strip())
    else:
        assert (out.reasoning, out.content) == (None, "".join(outside).strip())


# -- StreamParser ------------------------------------------------------------------------------


def feed_in_chunks(text: str, cuts: list[int], thinking: bool | None) -> ParsedOutput:
    """Stream `text` cut at `cuts` (repeated cuts make empty deltas), then close."""
    parser = StreamParser(thinking)
    events: list[ParserEvent] = []
    start = 0
    for cut in [*sorted(cuts), len(text)]:
        events += parser.feed(text[start:cut])
        start = cut
    events += parser.close()
    assert parser.feed("more") == [] and parser.close() == []  # closed: the rest is ignored
    return collect(parser, events)


@st.composite
def _chunked(draw: st.DrawFn) -> tuple[str, list[int]]:
    text = draw(_text)
    if draw(st.integers(0, 3)) == 0:  # one character at a time, with empty deltas in between
        cuts = [i for i in range(len(text) + 1) for _ in range(1 + (i % 7 == 0))]
    else:
        cuts = draw(st.lists(st.integers(0, len(text)), max_size=40))
    return text, cuts


@fuzz(500)
@given(chunked=_chunked(), thinking=_thinking)
def test_streaming_in_any_chunking_gives_the_batch_result(
    chunked: tuple[str, list[int]], thinking: bool | None
) -> None:
    text, cuts = chunked
    streamed = feed_in_chunks(text, cuts, thinking)
    batch = parse_output(text, thinking=thinking)
    check(streamed)
    assert same(streamed, batch)
    assert [type(c) for c in streamed.calls] == [type(c) for c in batch.calls]


# -- render_prompt -----------------------------------------------------------------------------

_TEMPLATE_BITS = [
    "<think>", "</think>", "\n<think>\n", "<tool_response>", "</tool_response>", "<tool_call>",
    "<|im_end|>", "<|im_start|>", "\n", "\n\n", " ", "{{ x }}", "{% if %}", "/no_think",
]  # fmt: skip
_message_text = st.one_of(
    _short_text,
    st.lists(st.sampled_from(_TEMPLATE_BITS) | _short_text, max_size=8).map("".join),
)
_arguments = st.one_of(_json_object, st.builds(json.dumps, _json_object), _message_text)


@st.composite
def _call(draw: st.DrawFn) -> dict[str, Any]:
    function = {"name": draw(_message_text), "arguments": draw(_arguments)}
    if draw(st.booleans()):
        return function
    return {"id": draw(_short_text), "type": "function", "function": function}


@st.composite
def _message(draw: st.DrawFn) -> Any:
    """A well-formed message: an OpenAI-style dict or an agentkit message."""
    role = draw(st.sampled_from(["system", "user", "user", "assistant", "assistant", "tool"]))
    text = draw(_message_text)
    as_object = draw(st.integers(0, 3)) == 0
    if role == "system":
        return SystemMessage(text) if as_object else {"role": "system", "content": text}
    if role == "user":
        if draw(st.integers(0, 4)) == 0:
            text = "<tool_response>\n" + text + "\n</tool_response>"
        return UserMessage(text) if as_object else {"role": "user", "content": text}
    if role == "tool":
        if as_object:
            return ToolMessage(text, "call_1", draw(_short_text))
        return {"role": "tool", "content": text, "tool_call_id": "call_1", "name": draw(_short_text)}
    reasoning = draw(st.none() | _message_text)
    if as_object:
        calls = draw(st.lists(st.builds(ToolCall, _message_text, _json_object), max_size=3))
        return AssistantMessage(text, reasoning, calls)
    message: dict[str, Any] = {"role": "assistant"}
    if draw(st.integers(0, 4)):
        message["content"] = draw(st.none() | st.just(text))
    if draw(st.booleans()):
        message["reasoning_content"] = reasoning
    call_dicts = draw(st.lists(_call(), max_size=3))
    if len(call_dicts) > 0 or draw(st.booleans()):
        message["tool_calls"] = call_dicts
    return message


@tool
def _lookup(city: str, days: int = 1) -> str:
    """Look something up."""
    return city * days


_tool_spec = st.builds(
    lambda name, description, parameters: {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    },
    _message_text,
    _message_text,
    _json_object,
)
_tools = st.one_of(
    st.none(), st.just([]), st.lists(_tool_spec | _json | st.just(_lookup), min_size=1, max_size=3)
)


def openai_form(messages: list[Any], tools: list[Any] | None) -> tuple[list[Any], list[Any] | None]:
    """The input as the official template takes it: plain dicts and function specs."""
    return (
        [m if isinstance(m, Mapping) else to_openai(m) for m in messages],
        None if tools is None else [t.spec() if t is _lookup else t for t in tools],
    )


@needs_reference
@fuzz(300)
@given(
    messages=st.lists(_message(), min_size=1, max_size=8),
    tools=_tools,
    add_generation_prompt=st.booleans(),
    enable_thinking=st.booleans(),
)
def test_random_conversations_render_as_the_official_template(
    messages: list[Any], tools: list[Any] | None, add_generation_prompt: bool, enable_thinking: bool
) -> None:
    assert render_prompt(
        messages, tools, add_generation_prompt=add_generation_prompt, enable_thinking=enable_thinking
    ) == reference.official_render(
        *openai_form(messages, tools),
        add_generation_prompt=add_generation_prompt,
        enable_thinking=enable_thinking,
    )


_MESSAGE_TYPES = (Mapping, SystemMessage, UserMessage, AssistantMessage, ToolMessage)


@st.composite
def _malformed_message(draw: st.DrawFn) -> Any:
    """A message with a wrong type somewhere, or not a message at all."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(_json)
    message = draw(_message())
    message = dict(message) if isinstance(message, Mapping) else to_openai(message)
    if kind == 1:  # a field of the wrong type, or missing
        key = draw(st.sampled_from(["role", "content", "reasoning_content", "tool_calls"]))
        if draw(st.booleans()):
            message[key] = draw(_json)
        else:
            message.pop(key, None)
    elif kind == 2 and message.get("tool_calls"):  # a call of the wrong shape
        calls = list(message["tool_calls"])
        wrong = draw(
            st.sampled_from(
                [{}, {"function": None}, {"function": {"name": "f"}}, {"name": "f", "arguments": set()}]
            )
            | _json
        )
        calls.insert(draw(st.integers(0, len(calls))), wrong)
        message["tool_calls"] = calls
    else:  # unknown keys are ignored
        message.update(draw(st.dictionaries(_short_text, _json, max_size=3)))
    return message


@needs_reference
@fuzz(300)
@given(
    messages=st.lists(_malformed_message() | _message(), max_size=6),
    tools=st.one_of(_tools, _json),
    enable_thinking=st.booleans(),
)
def test_malformed_input_raises_only_type_or_value_error(
    messages: list[Any], tools: Any, enable_thinking: bool
) -> None:
    try:
        got: str | None = render_prompt(messages, tools, enable_thinking=enable_thinking)
    except (TypeError, ValueError):
        got = None
    if not all(isinstance(m, _MESSAGE_TYPES) for m in messages) or not (
        tools is None or isinstance(tools, (list, dict, str))
    ):
        return  # not what render_prompt takes: a TypeError is its answer
    official_messages, _ = openai_form(messages, None)
    # A dict or a string is given as it is: what the official template does with it is the answer.
    official_tools: Any = openai_form([], tools)[1] if isinstance(tools, list) else tools
    try:
        expected = reference.official_render(
            official_messages, official_tools, enable_thinking=enable_thinking
        )
    except Exception:  # the official template fails too; agentkit may render, or refuse
        return
    assert got == expected


# -- what fuzzing found ------------------------------------------------------------------------

DEEP = 5000


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[" * DEEP, None),  # an answer that may be untagged JSON
        ("<tool_call>" + "[" * 600 + "</tool_call>", "nested more than 200 deep"),  # the lenient reader
        (
            '<tool_call>{"name": "f", "arguments": {"a": ' + "[" * DEEP + "]" * DEEP + "}}</tool_call>",
            "nested more than 200 deep",  # json.loads, then the lenient reader
        ),
        (
            '<tool_call>{"name": "f", "arguments": "' + "[" * DEEP + '"}</tool_call>',
            "nested more than 200 deep",
        ),
        ("<function=f><parameter=a>" + "[" * DEEP + "]" * DEEP + "</parameter></function>", None),
    ],
    ids=["bare", "unclosed", "strict", "arguments-string", "xml-parameter"],
)
def test_deep_nesting_is_an_error_or_text_not_a_recursion_error(text: str, error: str | None) -> None:
    out = parse_output(text)
    check(out)
    assert [e.error for e in out.errors if error and error in e.error] == [e.error for e in out.errors]
    assert bool(out.errors) == bool(error)


@pytest.mark.parametrize(
    "text",
    [
        '"<tool_call>\\' * 2000,  # each re-reading of the failed block ended in another one
        "<tool_call>" + '\\"<tool_call>' * 2000 + '"</tool_call>',
        "<tool_call>" + '\\"</tool_call>' * 2000 + '"</tool_call>',
    ],
    ids=["unclosed", "closed", "close-tags"],
)
def test_many_call_tags_inside_a_string_do_not_overflow_the_stack(text: str) -> None:
    batch = parse_output(text)
    check(batch)
    assert same(feed_in_chunks(text, list(range(0, len(text), 7)), None), batch)


@pytest.mark.parametrize(
    "text",
    [
        "<tool_call>```" + " " * 3000 + "x</tool_call>",  # the fence pattern backtracked cubically
        "```" + "\n" * 3000 + "x",
        "<tool>" + " " * 3000 + "x",  # and the wrapper pattern
        '<tool_call>{"a": "' + "</tool_call>x" * 10000,  # the open string was read again at each tag
        "<tool_call>" + "<function=a" * 10000,  # each unfinished tag was read to the end
        "<function=f>" + "<parameter=a" * 10000,
    ],
    ids=["fence", "fence-untagged", "wrapper", "tags-in-string", "function-tags", "parameter-tags"],
)
def test_long_runs_parse_in_linear_time(text: str) -> None:
    # Each took from 10 seconds to minutes; now each takes milliseconds.
    start = time.perf_counter()
    check(parse_output(text))
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("message", [None, "hi", ["user", "hi"]])
def test_a_message_of_no_message_type_is_a_type_error(message: Any) -> None:
    with pytest.raises(TypeError, match="a message must be a dict or an agentkit message"):
        render_prompt([message])  # was AttributeError: 'NoneType' object has no attribute 'role'


def test_a_system_message_without_content_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="a message lacks a field the prompt needs"):
        render_prompt([{"role": "system"}])  # was jinja2's UndefinedError
