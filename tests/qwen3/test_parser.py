"""The Qwen3 output parser: reasoning, content and tool calls, batch and incremental."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentkit.messages import ContentDelta, ReasoningDelta, ToolCallInvalid, ToolCallReady
from agentkit.qwen3.parser import ParsedOutput, StreamParser, collect, parse_output, read_arguments


def call_block(name: str, args: str) -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {args}}}\n</tool_call>'


WEATHER = call_block("get_weather", '{"city": "Paris"}')
SEARCH = call_block("search", '{"q": "cats"}')


def calls(out: ParsedOutput) -> list[tuple[str, dict[str, Any]]]:
    return [(c.name, c.arguments) for c in out.tool_calls]


# -- well-formed outputs ----------------------------------------------------------------------


def test_thinking_then_a_call() -> None:
    out = parse_output("<think>\nI should look it up.\n</think>\n\n" + WEATHER)
    assert out.reasoning == "I should look it up."
    assert out.content == ""
    assert calls(out) == [("get_weather", {"city": "Paris"})]
    assert out.errors == []
    assert out.tool_calls[0].raw == WEATHER


def test_plain_answer_without_think_block_is_content() -> None:
    out = parse_output("Paris is the capital of France.")
    assert (out.reasoning, out.content, out.tool_calls) == (None, "Paris is the capital of France.", [])


def test_thinking_then_answer_strips_the_template_newlines() -> None:
    out = parse_output("<think>\nEasy.\n</think>\n\nThe answer is 4.")
    assert (out.reasoning, out.content) == ("Easy.", "The answer is 4.")


def test_empty_think_block_gives_empty_reasoning_not_none() -> None:
    out = parse_output("<think>\n\n</think>\n\nHello")
    assert (out.reasoning, out.content) == ("", "Hello")


def test_content_before_calls_is_kept_and_calls_come_in_order() -> None:
    out = parse_output("<think>\nTwo lookups.\n</think>\n\nLet me check both.\n" + WEATHER + "\n" + SEARCH)
    assert out.content == "Let me check both."
    assert calls(out) == [("get_weather", {"city": "Paris"}), ("search", {"q": "cats"})]


def test_parameterless_call_keeps_empty_arguments() -> None:
    out = parse_output(call_block("now", "{}"))
    assert calls(out) == [("now", {})]


def test_non_ascii_and_braces_inside_strings() -> None:
    out = parse_output(call_block("search", '{"q": "café ☕ 東京 a}b{c", "n": {"d": [1, 2]}}'))
    assert calls(out) == [("search", {"q": "café ☕ 東京 a}b{c", "n": {"d": [1, 2]}})]


def test_compact_call_without_newlines() -> None:
    out = parse_output('Sure.<tool_call>{"name":"f","arguments":{"a":1,"b":[1,2],"t":true}}</tool_call>')
    assert out.content == "Sure."
    assert calls(out) == [("f", {"a": 1, "b": [1, 2], "t": True})]


def test_unclosed_final_call_with_complete_json_is_a_call() -> None:
    out = parse_output('<tool_call>\n{"name": "final_answer", "arguments": {"trigger": true}}')
    assert calls(out) == [("final_answer", {"trigger": True})]
    assert out.errors == []


def test_truncated_reasoning_is_all_reasoning() -> None:
    out = parse_output("<think>\nLet me think about this carefully and")
    assert out.reasoning == "Let me think about this carefully and"
    assert out.content == "" and out.tool_calls == []


def test_end_of_turn_token_ends_the_output() -> None:
    out = parse_output("<think>\nr\n</think>\n\nHello<|im_end|>\nleftover")
    assert (out.reasoning, out.content) == ("r", "Hello")


def test_closing_think_without_opening_when_the_prompt_opened_it() -> None:
    out = parse_output("This is reasoning</think>This is the answer", thinking=True)
    assert (out.reasoning, out.content) == ("This is reasoning", "This is the answer")


def test_prefilled_thinking_without_tags_is_all_reasoning() -> None:
    out = parse_output("Still thinking", thinking=True)
    assert (out.reasoning, out.content) == ("Still thinking", "")


def test_auto_reads_text_before_an_unopened_close_as_reasoning() -> None:
    out = parse_output("The user wants the weather.\n</think>\n\nIt is sunny.")
    assert (out.reasoning, out.content) == ("The user wants the weather.", "It is sunny.")


def test_auto_unopened_reasoning_then_a_call() -> None:
    out = parse_output("Look it up.\n</think>\n\n" + WEATHER)
    assert out.reasoning == "Look it up." and out.content == ""
    assert calls(out) == [("get_weather", {"city": "Paris"})]


def test_auto_answer_without_any_think_tag_is_content() -> None:
    out = parse_output("Just the answer.")
    assert (out.reasoning, out.content) == (None, "Just the answer.")


def test_auto_text_before_a_call_is_content_even_if_a_close_tag_follows() -> None:
    out = parse_output("Checking.\n" + WEATHER + "\n</think> trailing")
    assert out.reasoning is None
    assert out.content.startswith("Checking.") and calls(out) == [("get_weather", {"city": "Paris"})]


def test_auto_holds_unopened_text_until_the_output_tells_what_it_is() -> None:
    parser = StreamParser()
    assert parser.feed("Thinking it over") == []
    assert parser.feed(" still") == []
    assert parser.feed("</think>\n\nAnswer") == [
        ReasoningDelta("Thinking it over still"),
        ContentDelta("Answer"),
    ]
    held = StreamParser()
    assert held.feed("An answer") == []
    assert held.close() == [ContentDelta("An answer")]


def test_unopened_false_streams_the_answer_at_once_and_keeps_the_close_tag_as_text() -> None:
    parser = StreamParser(unopened=False)
    events = parser.feed("Answer") + parser.feed(" </think> more") + parser.close()
    assert collect(parser, events).content == "Answer </think> more"
    assert events[0] == ContentDelta("Answer")


@pytest.mark.parametrize(
    "text",
    [
        "Reasoning here.\n</think>\n\nThe answer.",
        "R </think>A",
        "  \nweighing options</think>\n\n" + WEATHER,
        "no close tag at all, only <thin and </thin",
        "x</think",
    ],
)
def test_an_unopened_close_tag_split_at_every_position_parses_as_a_whole(text: str) -> None:
    expected = parse_output(text)
    for cut in range(1, len(text)):
        parser = StreamParser()
        events = parser.feed(text[:cut]) + parser.feed(text[cut:]) + parser.close()
        assert same(collect(parser, events), expected), cut
        if "</think>" in text:
            assert not any(isinstance(e, ContentDelta) and "</think" in e.text for e in events), cut


def test_thinking_false_reads_think_tags_as_text() -> None:
    out = parse_output("<think>\nx\n</think>\n\nHi", thinking=False)
    assert out.reasoning is None
    assert out.content == "<think>\nx\n</think>\n\nHi"


def test_text_after_calls_is_content_too() -> None:
    out = parse_output(WEATHER + "\nDone.")
    assert out.content == "Done."
    assert calls(out) == [("get_weather", {"city": "Paris"})]


# -- <tool_call> inside <think> -------------------------------------------------------------


def test_call_inside_a_closed_think_block_is_reasoning() -> None:
    out = parse_output("<think>\nI could write " + WEATHER + " but no.\n</think>\n\nNo call needed.")
    assert out.tool_calls == []
    assert WEATHER in (out.reasoning or "")
    assert out.content == "No call needed."


def test_call_inside_a_think_block_that_never_closes_is_a_call() -> None:
    out = parse_output("<think>\nI need the weather.\n\n" + WEATHER)
    assert out.reasoning == "I need the weather."
    assert calls(out) == [("get_weather", {"city": "Paris"})]


# -- malformed outputs: repaired, or reported without losing the good calls ---------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{'name': 'f', 'arguments': {'a': 'x'}}", {"a": "x"}),
        ('{"name": "f", "arguments": {"a": 1,},}', {"a": 1}),
        (
            '{"name": "f", "arguments": {"a": True, "b": None, "c": False}}',
            {"a": True, "b": None, "c": False},
        ),
        ('{"name": "f", "arguments": "{\\"a\\": 1}"}', {"a": 1}),
        ('```json\n{"name": "f", "arguments": {"a": 1}}\n```', {"a": 1}),
        ('{"name": "f", "arguments": {"a": {"b": 1}}', {"a": {"b": 1}}),
        ('{"name": "f", "parameters": {"a": 1}}', {"a": 1}),
        ('{"name": "f"}', {}),
        ('{"name": "f", "arguments": null}', {}),
        ('{"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}', {"a": 1}),
        ('{name: "f", arguments: {a: 1}}', {"a": 1}),
    ],
    ids=[
        "single-quotes",
        "trailing-commas",
        "python-literals",
        "arguments-as-json-string",
        "markdown-fence",
        "missing-closing-brace",
        "parameters-key",
        "no-arguments-key",
        "null-arguments",
        "openai-shape",
        "bare-keys",
    ],
)
def test_small_model_slips_are_repaired(body: str, expected: dict[str, Any]) -> None:
    out = parse_output(f"<tool_call>\n{body}\n</tool_call>")
    assert out.errors == []
    assert calls(out) == [("f", expected)]


def test_several_objects_in_one_block_are_several_calls() -> None:
    out = parse_output(
        '<tool_call>\n{"name": "a", "arguments": {}}\n{"name": "b", "arguments": {"x": 1}}\n</tool_call>'
    )
    assert calls(out) == [("a", {}), ("b", {"x": 1})]


def test_a_list_of_calls_in_one_block_is_several_calls() -> None:
    out = parse_output(
        '<tool_call>\n[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {}}]\n</tool_call>'
    )
    assert calls(out) == [("a", {}), ("b", {})]


def test_missing_close_tag_before_the_next_call() -> None:
    out = parse_output(
        '<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n'
        '<tool_call>\n{"name": "b", "arguments": {}}\n</tool_call>'
    )
    assert calls(out) == [("a", {"x": 1}), ("b", {})]


def test_bad_call_is_reported_and_good_calls_beside_it_are_kept() -> None:
    bad = '<tool_call>\n{"name": "search", "arguments": {"q": "cats" "n": 2}}\n</tool_call>'
    out = parse_output(WEATHER + "\n" + bad + "\n" + SEARCH)
    assert calls(out) == [("get_weather", {"city": "Paris"}), ("search", {"q": "cats"})]
    assert len(out.errors) == 1
    error = out.errors[0]
    assert error.raw == bad
    assert error.name == "search"
    assert "invalid" in error.error and "line 1" in error.error
    assert [type(c).__name__ for c in out.calls] == ["ToolCall", "ToolCallError", "ToolCall"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "empty"),
        ('{"arguments": {"a": 1}}', '"name"'),
        ('{"name": "f", "arguments": [1, 2]}', "must be a JSON object"),
        ('{"name": "f", "arguments": "not json"}', "not a JSON object"),
        ("just some words", "invalid"),
        ('{"name": 5, "arguments": {}}', '"name"'),
    ],
)
def test_unreadable_calls_say_why(body: str, reason: str) -> None:
    out = parse_output(f"<tool_call>\n{body}\n</tool_call>")
    assert out.tool_calls == []
    assert len(out.errors) == 1
    assert reason in out.errors[0].error


def test_truncated_call_json_is_an_error_that_mentions_the_missing_close_tag() -> None:
    out = parse_output('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Pa')
    assert out.tool_calls == []
    assert "never closed" in out.errors[0].error


def test_call_tags_inside_argument_strings_are_text() -> None:
    text = (
        '<tool_call>\n{"name": "write_file", "arguments": {"text": "wrap calls in <tool_call> tags, '
        'close with </tool_call>, escape \\"quotes\\""}}\n</tool_call>\n' + SEARCH
    )
    out = parse_output(text)
    assert calls(out) == [
        ("write_file", {"text": 'wrap calls in <tool_call> tags, close with </tool_call>, escape "quotes"'}),
        ("search", {"q": "cats"}),
    ]


def test_an_unterminated_string_does_not_swallow_the_next_call() -> None:
    text = '<tool_call>\n{"name": "f", "arguments": {"a": "oops}}\n</tool_call>\n' + SEARCH
    out = parse_output(text)
    assert calls(out) == [("search", {"q": "cats"})]
    assert len(out.errors) == 1 and "never closed" in out.errors[0].error


def test_xml_function_form_with_parameters() -> None:
    out = parse_output(
        "<tool_call>\n<function=bash>\n<parameter=command>\nls -la /tmp\n</parameter>\n"
        "<parameter=timeout>\n30\n</parameter>\n</function>\n</tool_call>"
    )
    assert calls(out) == [("bash", {"command": "ls -la /tmp", "timeout": 30})]


def test_function_tag_with_json_arguments() -> None:
    out = parse_output('<tool_call><function=special_function>{"arg1": 1}</function></tool_call>')
    assert calls(out) == [("special_function", {"arg1": 1})]


# -- calls written without <tool_call> ------------------------------------------------------

BARE = '{"name": "lookup", "arguments": {"id": 7}}'


@pytest.mark.parametrize(
    "text",
    [
        BARE,
        "```json\n" + BARE + "\n```",
        "```\n" + BARE + "\n```",
        "<tools>\n  " + BARE + "\n</tools>",
        "<response>" + BARE + "</response>",
        "```xml\n<function_call> " + BARE + " </function_call>\n```",
        '<function=lookup>{"id": 7}</function>',
        '<function name="lookup">\n{"id": 7}\n</function>',
        "<function=lookup>\n<parameter=id>\n7\n</parameter>\n</function>",
        '[{"name": "lookup", "parameters": {"id": 7}}]',
    ],
    ids=["bare", "json-fence", "plain-fence", "tools-tag", "response-tag", "fenced-wrapper", "function-tag",
         "function-name-attr", "function-parameters", "list"],
)  # fmt: skip
def test_calls_without_tool_call_tags_are_read(text: str) -> None:
    out = parse_output(text)
    assert calls(out) == [("lookup", {"id": 7})]
    assert out.content == ""


def test_prose_then_a_bare_call_keeps_the_prose() -> None:
    out = parse_output("I will look it up:\n" + BARE)
    assert (out.content, calls(out)) == ("I will look it up:", [("lookup", {"id": 7})])


def test_a_bare_function_tag_after_prose() -> None:
    out = parse_output('Checking.<function=lookup>{"id": 7}</function> Done.')
    assert (out.content, calls(out)) == ("Checking. Done.", [("lookup", {"id": 7})])


@pytest.mark.parametrize(
    "text",
    [
        '{"answer": 42}',
        'Here is the JSON:\n{"name": "Ada", "age": 36}',
        "```python\nprint(1)\n```",
        "<b>bold</b>",
    ],
)
def test_json_and_markup_that_are_not_calls_stay_content(text: str) -> None:
    out = parse_output(text)
    assert (out.content, out.tool_calls, out.errors) == (text, [], [])


def test_read_arguments_is_lenient_but_rejects_non_objects() -> None:
    assert read_arguments("") == {}
    assert read_arguments("{'a': 1,}") == {"a": 1}
    with pytest.raises(ValueError, match="expected a JSON object"):
        read_arguments("[1]")
    with pytest.raises(ValueError):
        read_arguments('{"a": 1} trailing')


# -- streaming ------------------------------------------------------------------------------


def stream(
    text: str, sizes: list[int], thinking: bool | None = None, *, unopened: bool = True
) -> tuple[ParsedOutput, list[Any]]:
    parser = StreamParser(thinking, unopened=unopened)
    events: list[Any] = []
    pos = 0
    i = 0
    while pos < len(text):
        size = sizes[i % len(sizes)] if sizes else 1
        events += parser.feed(text[pos : pos + size])
        pos += size
        i += 1
    events += parser.close()
    return collect(parser, events), events


def same(a: ParsedOutput, b: ParsedOutput) -> bool:
    def key(o: ParsedOutput) -> tuple[object, ...]:
        return (
            o.reasoning,
            o.content,
            [(c.name, c.arguments, c.raw) for c in o.tool_calls],
            [(e.raw, e.error, e.name) for e in o.errors],
        )

    return key(a) == key(b)


CORPUS = [
    "<think>\nI should look it up.\n</think>\n\n" + WEATHER,
    "<think>\nTwo.\n</think>\n\nLet me check both.\n" + WEATHER + "\n" + SEARCH,
    "Plain answer with <b>html</b> and a < sign and </tool_call stray",
    "<think>\nI could write " + WEATHER + " but no.\n</think>\n\nNo call.",
    "<think>\nI need the weather.\n\n" + WEATHER + "\nmore",
    WEATHER + "\n<tool_call>\n{bad json\n</tool_call>\n" + SEARCH + "\nDone.<|im_end|>",
    '<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n<tool_call>\n{"name": "b", "arguments": {}}',
    "<think>\n\n</think>\n\n  \n  spaced   answer  \n\n",
    "   \n<think>\ncut off mid-thought <tool_",
    "</think>\n\nHello",
    "Reasoning without an opening tag.\n</think>\n\nThe answer.",
    '<tool_call>\n{"name": "w", "arguments": {"t": "a <tool_call> b \\" </tool_call> c"}}\n</tool_call>',
    '<tool_call>\n{"name": "f", "arguments": {"a": "oops}}\n</tool_call>\n' + SEARCH,
    '```json\n{"name": "f", "arguments": {"a": 1}}\n```',
    'Calling:\n{"name": "f", "arguments": {}}\n{"name": "g", "arguments": {"x": [1]}}',
    'Here:\n{"not": "a call"}\nThat is all.',
    "<function=f>\n<parameter=a>\n1\n</parameter>\n</function>\nthen text <function=g>{}</function>",
]


@pytest.mark.parametrize("text", CORPUS)
def test_every_chunking_gives_the_batch_result(text: str) -> None:
    expected = parse_output(text)
    rng = random.Random(0)
    for _ in range(200):
        sizes = [rng.randint(1, 9) for _ in range(rng.randint(1, 5))]
        got, _ = stream(text, sizes)
        assert same(got, expected), sizes
    got, _ = stream(text, [1])
    assert same(got, expected)


_pieces = st.sampled_from(
    [
        "<think>",
        "</think>",
        "<tool_call>",
        "</tool_call>",
        "\n",
        " ",
        "\n\n",
        "hello",
        "é東",
        '{"name": "f", "arguments": {"a": 1}}',
        "{'name': 'g'}",
        "{",
        "}",
        "<",
        "<t",
        "<|im_end|>",
        "```",
        "<function=f>",
        "</function>",
        "\n{",
        "<tools>",
        "[",
        '"',
        "\\",
    ]
)


@settings(max_examples=1000, deadline=None)
@given(
    pieces=st.lists(_pieces, max_size=25),
    cuts=st.lists(st.integers(1, 12), min_size=1, max_size=6),
    thinking=st.sampled_from([None, True, False]),
    unopened=st.booleans(),
)
def test_random_outputs_parse_the_same_in_any_chunking(
    pieces: list[str], cuts: list[int], thinking: bool | None, unopened: bool
) -> None:
    text = "".join(pieces)
    got, _ = stream(text, cuts, thinking, unopened=unopened)
    assert same(got, parse_output(text, thinking=thinking, unopened=unopened))


def test_reasoning_streams_before_the_think_block_closes() -> None:
    parser = StreamParser()
    events = parser.feed("<think>\nFirst I")
    assert events == [ReasoningDelta("First I")]
    assert parser.in_reasoning


def test_a_call_is_reported_as_soon_as_its_block_closes() -> None:
    parser = StreamParser()
    parser.feed("<think>\nok\n</think>\n\n")
    assert parser.feed(WEATHER[:-3]) == []
    events = parser.feed(WEATHER[-3:])
    assert [type(e) for e in events] == [ToolCallReady]
    assert parser.feed("\n" + "<tool_call>\n{oops}\n</tool_call>") != []


def test_a_tag_split_across_deltas_is_not_leaked_as_text() -> None:
    parser = StreamParser()
    events = (
        parser.feed("Answer<tool_")
        + parser.feed('call>\n{"name": "f", "arguments": {}}\n</tool_call>')
        + parser.close()
    )
    assert [e for e in events if isinstance(e, ContentDelta)] == [ContentDelta("Answer")]
    assert isinstance(events[-1], ToolCallReady)


def test_trailing_whitespace_is_held_until_more_text_comes() -> None:
    parser = StreamParser(unopened=False)
    assert parser.feed("Hello \n") == [ContentDelta("Hello")]
    assert parser.feed("world") == [ContentDelta(" \nworld")]


def test_invalid_call_event_carries_the_error() -> None:
    parser = StreamParser()
    events = parser.feed("<tool_call>\n{nope}\n</tool_call>")
    assert len(events) == 1 and isinstance(events[0], ToolCallInvalid)
    assert "invalid" in events[0].error.error
