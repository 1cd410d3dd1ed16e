"""Qwen3 outputs for checking agentkit's parser against vLLM's: well-formed and malformed.

A well-formed output is what Qwen3 writes under its chat template: an optional
`<think>\\n...\\n</think>\\n\\n` block, optional content, then zero or more
`<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>` blocks separated by "\\n",
and nothing after the calls. No markup tag appears as text inside reasoning, content or an
argument string; `tag_in_arguments` writes the last kind apart.

A malformed output has the slips small models make (single quotes, trailing commas, fences, a
missing `</tool_call>`, ...). Each one lists the calls its writer meant, so a parser's
recoveries can be counted.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Call = tuple[str, dict[str, Any]]

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"

TOOL_NAMES = ("get_weather", "search", "run_python", "write_file", "list_files", "calendar.create_event")


@dataclass(frozen=True)
class Sample:
    """One model output and how it was built.

    Attributes:
        label: Names the shape, for failure messages.
        text: The output, as the model wrote it (the text after the generation prompt).
        thinking: Whether it was written in thinking mode (it then starts with `<think>`).
        calls: The calls the writer meant, in order.
        reasoning: The reasoning as written, stripped (well-formed outputs only).
        content: The content as written, stripped (well-formed outputs only).
    """

    label: str
    text: str
    thinking: bool
    calls: list[Call] = field(default_factory=list)
    reasoning: str = ""
    content: str = ""


# -- pieces ----------------------------------------------------------------------------------

REASONINGS = (
    "The user wants the weather, so I should call the tool.",
    "Let me think.\n\nFirst, the city is Paris.\nSecond, the unit is celsius.",
    'Plan:\n1. search for {"q": "x"}\n2. read the result\n\nThe JSON {"a": [1, 2]} is fine.',
    "Tokyo is 東京 in Japanese; café has an é. 🤔 Hmm… ok.",
    '  The user said "hi" and used a backslash \\ in C:\\temp.  ',
    "def f(x):\n    return x * 2  # code in my head\n\nif a < b and c > d: pass",
    "Short.",
    "Compare 3 < 5 and 7 > 2; also a <b>bold</b> word and `code`.",
    "Tag-like text that is not a tag: <tool_, </think-ish, <|im_en, <tool_call-like> and <think >.",
    "\n\nBlank lines around me.\r\nAnd a Windows line end.\n\n",
)

CONTENTS = (
    "Let me check.",
    "I'll look that up for you.\n\nOne moment.",
    "Sure! Here are the results for 東京 (Tokyo) ☀️.",
    "```python\nprint({'a': 1})\n```\nThat prints a dict.",
    "The answer is 42.",
    'A quote: "to be, or not" — and a path C:\\Users\\me.',
    "Use <b>bold</b> for emphasis, and note that 1 < 2 > 0.",
    "Résumé naïve façade — 👩‍💻🎉",
    '{"this": "is JSON in content", "but": ["not", "a call"]}',
    "Almost tags: <tool_call-ish>, </tool_call, <think-ish> and <|im_end| here. Then <",
)

STRINGS = (
    "Paris",
    "café",
    "東京",
    "😀🎉",
    "👩‍💻 at work",
    "a}b{c",
    "}}",
    '{"nested": "json in a string"}',
    'say "hi"',
    "back\\slash",
    "C:\\Users\\me\\file.txt",
    "line1\nline2\n",
    "tab\there",
    "",
    " ",
    "<b>bold</b> & a < b > c",
    "'single'",
    "ends with backslash \\",
    "unicode escape-looking \\u00e9",
    "control \u0001 char",
    "line separator \u2028 here",
    '```json\n{"x": 1}\n```',
    "partial tags <tool_call and </tool_call and </think",
)

NUMBERS = (0, 1, -1, 42, -17, 12345678901234567890, 3.14, -0.5, 0.0, 1e-07, 6.02e23, -2.5e-10, 1e100, 2.0)

SCALARS = (*STRINGS, *NUMBERS, True, False, None)


def long_string(rng: random.Random, length: int) -> str:
    alphabet = "abc xyz 0123 {}[]\"\\\n\té東京😀,:'"
    return "".join(rng.choice(alphabet) for _ in range(length))


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """A JSON value: scalars most of the time, nested objects and arrays sometimes."""
    roll = rng.random()
    if depth < 3 and roll < 0.15:
        return {random_key(rng): random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    if depth < 3 and roll < 0.3:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if roll < 0.33:
        return long_string(rng, rng.randint(200, 1500))
    return rng.choice(SCALARS)


def random_key(rng: random.Random) -> str:
    return rng.choice(("city", "q", "code", "path", "n", "x", "options", "tags", "é", "東京", "a b", 'k"q'))


def random_arguments(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.12:
        return {}  # a parameterless tool
    return {random_key(rng): random_value(rng) for _ in range(rng.randint(1, 4))}


# -- well-formed outputs ---------------------------------------------------------------------


def call_block(name: str, arguments: dict[str, Any], *, style: str = "qwen3") -> str:
    """A `<tool_call>` block as Qwen3 writes it (style "qwen3"), or valid JSON variations.

    "compact" drops the spaces after separators, "ascii" escapes non-ASCII text (`\\u00e9`) and
    "indented" spreads the JSON over lines.
    """
    call = {"name": name, "arguments": arguments}
    if style == "compact":
        body = json.dumps(call, ensure_ascii=False, separators=(",", ":"))
    elif style == "indented":
        body = json.dumps(call, ensure_ascii=False, indent=2)
    else:
        body = json.dumps(call, ensure_ascii=style == "ascii")
    return f"{CALL_OPEN}\n{body}\n{CALL_CLOSE}"


# Valid JSON that json.dumps never writes but a model may.
HAND_WRITTEN = (
    '{"name": "run_python", "arguments": {"a": 1E5, "b": -0, "c": 1.5e+3, "d": 0.000001, "e": -1.0E-3}}',
    '{ "name" : "search" , "arguments" : { "q" : "spaced out" , "n" : [ 1 , 2 ] } }',
    '{"name": "search", "arguments": {"q": "\\u00e9\\u6771\\ud83d\\ude00 \\/ \\b\\f \\u0000"}}',
    '{"name": "search", "arguments": {"name": "inner", "arguments": {"name": "innermost"}}}',
    '{"name": "write_file",\n "arguments": {\n  "path": "a.txt",\n  "text": "multi-line JSON"\n }\n}',
    '{"name": "list_files", "arguments": {"a": [], "b": {}, "c": [[[]]], "d": [{}], "e": [null]}}',
    '{"name": "get_weather", "arguments": {"city": "Paris"}}   ',
    '{"name":"get_weather","arguments":{}}',
)


def compose(reasoning: str | None, content: str, blocks: list[str]) -> str:
    """An output laid out as the Qwen3 template lays out an assistant turn."""
    text = f"{THINK_OPEN}\n{reasoning}\n{THINK_CLOSE}\n\n" if reasoning is not None else ""
    text += content
    for i, block in enumerate(blocks):
        text += ("\n" if content or i else "") + block
    return text


def well_formed(*, seed: int = 0, random_count: int = 400) -> list[Sample]:
    """The well-formed corpus: every shape with fixed pieces, then seeded random outputs.

    Shapes: reasoning absent (non-thinking mode), empty or present; content absent or
    present; 0 to 3 calls.
    """
    rng = random.Random(seed)
    samples: list[Sample] = []
    args_pool: list[dict[str, Any]] = [
        {"city": "Paris"},
        {},
        {"q": "a}b{c", "n": {"d": [1, 2, {"e": None}]}, "ok": True, "ratio": -0.25},
        {"path": "C:\\temp\\new", "text": 'line1\nline2\n\ttabbed "quoted"'},
        {"city": "東京", "note": "café ☕ 😀", 'k"q': "'"},
        {"numbers": [0, -1, 3.5, 1e-07, 6.02e23, 12345678901234567890], "flags": [True, False, None]},
        {"code": "def f():\n    return {'a': [1, 2]}\n", "empty": "", "nested": {"a": {"b": {"c": []}}}},
        {"text": long_string(random.Random(1), 3000)},
    ]
    shapes = itertools.product(("absent", "empty", "present"), (False, True), range(4))
    for (think, has_content, n_calls), variant in itertools.product(shapes, range(len(args_pool))):
        reasoning = {"absent": None, "empty": "", "present": REASONINGS[variant % len(REASONINGS)]}[think]
        content = CONTENTS[variant % len(CONTENTS)] if has_content else ""
        calls: list[Call] = [
            (TOOL_NAMES[(variant + i) % len(TOOL_NAMES)], args_pool[(variant + i) % len(args_pool)])
            for i in range(n_calls)
        ]
        text = compose(reasoning, content, [call_block(name, args) for name, args in calls])
        label = f"shape think={think} content={has_content} calls={n_calls} variant={variant}"
        samples.append(_written(label, text, reasoning, content, calls))
    for i in range(random_count):
        reasoning = rng.choice((None, None, "", rng.choice(REASONINGS), long_string(rng, 800)))
        content = rng.choice(("", "", rng.choice(CONTENTS)))
        calls = [
            (rng.choice(TOOL_NAMES), random_arguments(rng)) for _ in range(rng.choice((0, 1, 1, 1, 2, 3)))
        ]
        style = rng.choice(("qwen3", "qwen3", "qwen3", "compact", "ascii", "indented"))
        text = compose(reasoning, content, [call_block(name, args, style=style) for name, args in calls])
        samples.append(_written(f"random #{i} seed={seed}", text, reasoning, content, calls))
    neighbour: Call = ("get_weather", {"city": "Paris"})
    for (i, body), (reasoning, content), between in itertools.product(
        enumerate(HAND_WRITTEN), ((REASONINGS[0], ""), (None, CONTENTS[0])), (False, True)
    ):
        raw = json.loads(body)
        calls = [(raw["name"], raw["arguments"])]
        blocks = [f"{CALL_OPEN}\n{body}\n{CALL_CLOSE}"]
        if between:
            calls = [neighbour, *calls, neighbour]
            blocks = [call_block(*neighbour), *blocks, call_block(*neighbour)]
        text = compose(reasoning, content, blocks)
        samples.append(_written(f"hand-written #{i} between={between}", text, reasoning, content, calls))
    return samples


def _written(label: str, text: str, reasoning: str | None, content: str, calls: list[Call]) -> Sample:
    thinking = reasoning is not None
    return Sample(label, text, thinking, calls, (reasoning or "").strip(), content.strip())


# -- malformed outputs -----------------------------------------------------------------------

GOOD: list[Call] = [("get_weather", {"city": "Paris"}), ("search", {"q": "cats", "limit": 3})]
TARGET: Call = ("write_file", {"path": "notes.txt", "overwrite": True, "lines": ["a", "b"]})
TARGET_TEXT = json.dumps({"name": TARGET[0], "arguments": TARGET[1]})


@dataclass(frozen=True)
class Slip:
    """One kind of malformed `<tool_call>` block, written for TARGET.

    Attributes:
        name: What the model got wrong.
        block: The block (or blocks) as written.
        meant: The calls the model meant by it; empty when the text lost them for good.
        last_only: The slip only makes sense at the end of the output (a missing close tag).
    """

    name: str
    block: str
    meant: list[Call]
    last_only: bool = False


def _block(body: str) -> str:
    return f"{CALL_OPEN}\n{body}\n{CALL_CLOSE}"


SLIPS = (
    Slip("single quotes", _block(TARGET_TEXT.replace('"', "'")), [TARGET]),
    Slip(
        "trailing commas",
        _block(
            '{"name": "write_file", "arguments": {"path": "notes.txt", "overwrite": true, '
            '"lines": ["a", "b",],},}'
        ),
        [TARGET],
    ),
    Slip("python literals", _block(TARGET_TEXT.replace("true", "True")), [TARGET]),
    Slip(
        "bare keys",
        _block(TARGET_TEXT.replace('"name"', "name").replace('"arguments"', "arguments")),
        [TARGET],
    ),
    Slip("json fence", _block(f"```json\n{TARGET_TEXT}\n```"), [TARGET]),
    Slip("plain fence", _block(f"```\n{TARGET_TEXT}\n```"), [TARGET]),
    Slip("fence around the block", f"```\n{_block(TARGET_TEXT)}\n```", [TARGET], last_only=True),
    Slip("missing </tool_call> at the end", f"{CALL_OPEN}\n{TARGET_TEXT}", [TARGET], last_only=True),
    Slip("missing </tool_call> before the next call", f"{CALL_OPEN}\n{TARGET_TEXT}\n", [TARGET]),
    Slip("missing final brace", _block(TARGET_TEXT[:-1]), [TARGET]),
    Slip(
        "missing both final braces, no close tag",
        f"{CALL_OPEN}\n{TARGET_TEXT[:-2]}",
        [TARGET],
        last_only=True,
    ),
    Slip(
        "arguments as a JSON string",
        _block(json.dumps({"name": TARGET[0], "arguments": json.dumps(TARGET[1])})),
        [TARGET],
    ),
    Slip(
        "parameters instead of arguments",
        _block(TARGET_TEXT.replace('"arguments"', '"parameters"')),
        [TARGET],
    ),
    Slip("no arguments key for a parameterless tool", _block('{"name": "list_files"}'), [("list_files", {})]),
    Slip("arguments null", _block('{"name": "list_files", "arguments": null}'), [("list_files", {})]),
    Slip(
        "OpenAI function wrapper",
        _block(json.dumps({"type": "function", "function": {"name": TARGET[0], "arguments": TARGET[1]}})),
        [TARGET],
    ),
    Slip("two objects in one block", _block(f"{TARGET_TEXT}\n{TARGET_TEXT}"), [TARGET, TARGET]),
    Slip("a list of calls in one block", _block(f"[{TARGET_TEXT}, {TARGET_TEXT}]"), [TARGET, TARGET]),
    Slip(
        "Qwen3-Coder XML form",
        _block(
            "<function=write_file>\n<parameter=path>\nnotes.txt\n</parameter>\n"
            '<parameter=overwrite>\ntrue\n</parameter>\n<parameter=lines>\n["a", "b"]\n'
            "</parameter>\n</function>"
        ),
        [TARGET],
    ),
    Slip("missing comma (unreadable)", _block(TARGET_TEXT.replace('", "arguments"', '" "arguments"')), []),
    Slip("truncated inside a string (unreadable)", f"{CALL_OPEN}\n{TARGET_TEXT[:40]}", [], last_only=True),
    Slip("prose instead of JSON (unreadable)", _block("call write_file with path notes.txt"), []),
)


def malformed() -> list[Sample]:
    """Each slip alone, after a good call, between good calls and before one, in both modes."""
    good = [call_block(name, args) for name, args in GOOD]
    samples: list[Sample] = []
    for slip in SLIPS:
        placements: list[tuple[str, list[str], list[Call]]] = [
            ("alone", [slip.block], slip.meant),
            ("after a good call", [good[0], slip.block], [GOOD[0], *slip.meant]),
        ]
        if not slip.last_only:
            placements += [
                ("first of two", [slip.block, good[0]], [*slip.meant, GOOD[0]]),
                ("between good calls", [good[0], slip.block, good[1]], [GOOD[0], *slip.meant, GOOD[1]]),
            ]
        for (where, blocks, meant), (mode, reasoning, content) in itertools.product(
            placements,
            (
                ("thinking", "I need to write the file.", ""),
                ("thinking, content", "I need to write the file.", "Writing it now."),
                ("non-thinking", None, ""),
                ("non-thinking, content", None, "Writing it now."),
            ),
        ):
            text = compose(reasoning, content, blocks)
            samples.append(Sample(f"{slip.name}; {where}; {mode}", text, reasoning is not None, meant))
    samples += list(_call_in_unclosed_think())
    return samples


def _call_in_unclosed_think() -> Iterator[Sample]:
    """The model forgot `</think>` and called a tool from inside its reasoning."""
    for blocks, meant in (
        ([call_block(*TARGET)], [TARGET]),
        ([call_block(*GOOD[0]), call_block(*GOOD[1])], list(GOOD)),
    ):
        text = f"{THINK_OPEN}\nI will write the file.\n" + "\n".join(blocks)
        yield Sample(f"call inside an unclosed think block ({len(blocks)} calls)", text, True, meant)


def tag_in_arguments(tag: str) -> list[Sample]:
    """Calls whose argument strings hold markup text, as when an agent writes about the format.

    The JSON is valid, but the tag inside it is the very text a parser scans for.
    """
    call: Call = ("write_file", {"path": "notes.md", "text": f"Calls look like {tag} in the output."})
    samples = []
    for (mode, reasoning, content), calls in itertools.product(
        (("thinking", "I will write the notes.", ""), ("non-thinking", None, "Writing the notes.")),
        ([call], [call, GOOD[0]], [GOOD[0], call]),
    ):
        text = compose(reasoning, content, [call_block(*c) for c in calls])
        label = f"{tag} in an argument; {len(calls)} calls; {mode}"
        samples.append(_written(label, text, reasoning, content, calls))
    return samples
