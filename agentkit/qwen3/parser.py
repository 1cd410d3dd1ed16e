"""Parse Qwen3 output: `<think>` reasoning, answer text and Hermes `<tool_call>` blocks.

`StreamParser` reads the output incrementally and reports each piece as soon as it is
certain; `parse_output` is the same parser fed the whole text at once, so the two agree on
every input and in every chunking. Total work is linear in the output's length.

Reading is lenient where small models slip: markdown fences, arguments given as a JSON
string, a missing `</tool_call>`, several objects in one block, and the JSON slips that
`lenient_json` forgives (single quotes, trailing commas, Python literals, unclosed braces at
the end). A call that still cannot be read becomes a `ToolCallError` saying why; the good
calls beside it are kept.

Reasoning and content are returned without surrounding whitespace (the template adds the
newlines around `<think>` blocks and between calls itself).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Union

from agentkit.messages import (
    ContentDelta,
    ReasoningDelta,
    ToolCall,
    ToolCallError,
    ToolCallInvalid,
    ToolCallReady,
)
from agentkit.qwen3.lenient_json import read_value, read_values

__all__ = [
    "ParsedOutput",
    "ParserEvent",
    "StreamParser",
    "parse_output",
    "read_arguments",
    "read_call_block",
]

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"
END_TOKENS = ("<|im_end|>", "<|endoftext|>")


ParserEvent = Union[ReasoningDelta, ContentDelta, ToolCallReady, ToolCallInvalid]


@dataclass
class ParsedOutput:
    """One model output, taken apart.

    Attributes:
        reasoning: The text of the `<think>` block, or None when there was none.
        content: The answer text outside the think block and the tool calls.
        tool_calls: The calls that could be read, in output order.
        errors: One entry per `<tool_call>` block that could not be read, saying why.
        calls: Calls and errors together, in output order (tool results answer in it).
    """

    reasoning: str | None = None
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    errors: list[ToolCallError] = field(default_factory=list)
    calls: list[ToolCall | ToolCallError] = field(default_factory=list)


# Parser states. _FUNCTION: a bare `<function=NAME>...</function>` call (Qwen3-Coder's
# form, and llama.cpp's) outside any <tool_call>. _UNOPENED: in auto mode, output that did
# not open with <think>: reasoning if a </think> closes it, else the answer; held until the
# output tells which.
_START, _THINK, _CONTENT, _CALL, _FUNCTION, _DONE, _UNOPENED = range(7)

FUNCTION_OPENS = ("<function=", "<function ")
FUNCTION_CLOSE = "</function>"
_ALL_TAGS = (THINK_OPEN, THINK_CLOSE, CALL_OPEN, CALL_CLOSE, *FUNCTION_OPENS, FUNCTION_CLOSE, *END_TOKENS)


def _alternation(*tags: str) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(t) for t in tags))


_TAGS_BY_STATE = {
    _START: _alternation(THINK_OPEN, THINK_CLOSE, CALL_OPEN, *FUNCTION_OPENS, *END_TOKENS),
    _THINK: _alternation(THINK_OPEN, THINK_CLOSE, CALL_OPEN, *END_TOKENS),
    _CONTENT: _alternation(CALL_OPEN, *FUNCTION_OPENS, *END_TOKENS),
    _CALL: _alternation(CALL_CLOSE, CALL_OPEN, *END_TOKENS),
    _FUNCTION: _alternation(FUNCTION_CLOSE, CALL_OPEN, *END_TOKENS),
    _UNOPENED: _alternation(THINK_CLOSE, CALL_OPEN, *FUNCTION_OPENS, *END_TOKENS),
}
_LONGEST_TAG = max(len(t) for t in _ALL_TAGS)
# Text that may be a tag split across deltas: a tag's start, or (held until more text
# shows it is not some longer tag's start) a whole tag the state does not look for.
_TAG_STARTS = frozenset(tag[:n] for tag in _ALL_TAGS for n in range(1, len(tag) + 1))
# Starts that are no whole tag: while the held text is one of them, nothing can happen.
_PARTIAL_TAGS = _TAG_STARTS - frozenset(_ALL_TAGS)

# A failed block is read again from its first tag that was taken for text (see _CallBody);
# the rest may fail the same way. Past this many re-readings one inside the other, the
# error stands: else a long run of such tags takes quadratic time and overflows the stack.
_MAX_REREADS = 16

# An answer that opens like one of these is held back until the output ends: it may be a
# call a small model wrote without <tool_call> (bare or fenced JSON, other wrapper tags).
_UNTAGGED_OPENERS = ("{", "[", "`", "<")


class _Trimmed:
    """Text emitted without leading or trailing whitespace, in any chunking.

    Leading whitespace is dropped; a whitespace run is held back until more text follows it.
    """

    __slots__ = ("pending", "started")

    def __init__(self) -> None:
        self.started = False
        self.pending = ""

    def push(self, text: str) -> str:
        if self.started and not self.pending and not text[-1:].isspace():
            return text  # the common case, as below
        if not self.started:
            text = text.lstrip()
            if not text:
                return ""
            self.started = True
        body = text.rstrip()
        if not body:
            self.pending += text
            return ""
        out = self.pending + body if self.pending else body
        self.pending = text[len(body) :]
        return out


# A JSON string from its opening quote; group 1 is its closing quote, empty when the text
# ends inside it. Matched one string at a time, the scan runs at C speed.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*("?)', re.DOTALL)
_STRING_REST = re.compile(r'(?:[^"\\]|\\.)*("?)', re.DOTALL)  # the same, from inside the string


class _CallBody:
    """The text of the `<tool_call>` block being read.

    A `<tool_call>` or `</tool_call>` inside a JSON string is most likely text (an argument
    that talks about the format); it is kept in the body and noted, and only if the body
    then fails to read is it taken as a tag after all.
    """

    __slots__ = ("clean", "inside", "parts", "suspects")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.clean = 0  # the body up to here is known to end outside any string
        self.inside: int | None = None  # the body up to here ends inside a string
        self.suspects: list[tuple[int, str]] = []  # (offset, tag) of tags read as text

    def add(self, text: str) -> None:
        self.parts.append(text)

    @property
    def in_string(self) -> bool:
        """Whether the body so far ends inside a JSON string."""
        text = self.text()
        if self.inside is not None:  # go on reading the open string, not from its start again
            rest = _STRING_REST.match(text, self.inside)  # always matches, perhaps nothing
            if rest is not None:
                if not rest.group(1):
                    self.inside = rest.end()
                    return True
                self.clean, self.inside = rest.end(), None
        for match in _JSON_STRING.finditer(text, self.clean):
            if not match.group(1):
                self.inside = match.end()
                return True
            self.clean = match.end()
        return False

    def add_tag_as_text(self, tag: str) -> None:
        self.suspects.append((len(self.text()), tag))
        self.add(tag)

    def text(self) -> str:
        if len(self.parts) > 1:
            self.parts = ["".join(self.parts)]
        return self.parts[0] if self.parts else ""


class StreamParser:
    """Incremental parser of one Qwen3 output.

    Args:
        thinking: Whether the output starts inside a think block. None (the default) reads
            it from the output: a leading `<think>` opens one, as Qwen3 writes it in
            thinking mode, and text before a `</think>` that no `<think>` opened is reasoning
            too (a template that pre-fills `<think>`, such as Qwen3-Thinking-2507's). True
            suits prompts known to pre-fill `<think>` (text before `</think>` is reasoning);
            False reads everything outside calls as content.
        unopened: In auto mode (`thinking=None`), look for a `</think>` that no `<think>`
            opened. Such output is held back until a `</think>` (reasoning up to it), a tool
            call, or its end (the answer) tells which it is; False streams it as the answer
            at once, for prompts that closed the think block themselves.

    A `<tool_call>` inside a think block that is later closed is reasoning (the model was
    drafting). If the think block is never closed, a `<tool_call>` in it ends the reasoning
    and is read as a call: the model forgot `</think>`. Reasoning after such a block is held
    back until the output tells which case it is.

    Example:
        ```python
        parser = StreamParser()
        for delta in stream:
            for event in parser.feed(delta):
                ...
        events = parser.close()
        ```
    """

    def __init__(self, thinking: bool | None = None, *, unopened: bool = True) -> None:
        self._state = _THINK if thinking else _START if thinking is None else _CONTENT
        self._saw_think = bool(thinking)
        self._unopened: list[str] | None = [] if unopened else None  # text held in _UNOPENED
        self._buf = ""
        self._call = _CallBody()
        self._held: list[str] | None = None  # reasoning from a <tool_call> inside <think> on
        self._untagged: list[str] | None = None  # an answer that may be an untagged call
        self._function: list[str] = []  # a bare <function=...> block being read
        self._calls_seen = False
        self._rereads = 0  # re-readings of a failed block under way, one inside the other
        self._reasoning = _Trimmed()
        self._content = _Trimmed()

    @property
    def saw_think(self) -> bool:
        """Whether the output had a think block (an empty one counts)."""
        return self._saw_think

    @property
    def in_reasoning(self) -> bool:
        """Whether the text so far ends inside an unclosed think block."""
        return self._state == _THINK

    def feed(self, delta: str) -> list[ParserEvent]:
        """Read more output; return what became certain."""
        state = self._state
        if state == _DONE or not delta:
            return []
        if self._buf:
            text = self._buf + delta
            if text in _PARTIAL_TAGS:  # still only the start of a tag: nothing to do yet
                self._buf = text
                return []
            self._buf = ""
        elif "<" in delta or state == _START:
            text = delta
        # Every tag starts with "<": with none in sight, the delta is text of this state.
        elif state == _CALL:  # most of a tool-using output: as _CallBody.add
            self._call.parts.append(delta)
            return []
        else:
            events: list[ParserEvent] = []
            if state == _CONTENT and self._untagged is None and self._calls_seen:
                self._push_content(delta, events)  # as _content_text, past its checks
            elif state == _THINK:
                self._think_text(delta, events)
            else:
                self._text(delta, events)
            return events
        events = []
        self._scan(text, events, final=False)
        return events

    def close(self) -> list[ParserEvent]:
        """End of output: flush held text and read an unclosed final call."""
        events: list[ParserEvent] = []
        if self._state != _DONE:
            held, self._buf = self._buf, ""
            self._scan(held, events, final=True)
            self._end(events)
        return events

    # -- internals -------------------------------------------------------------------------

    def _scan(self, text: str, events: list[ParserEvent], *, final: bool) -> None:
        pos = 0
        while self._state != _DONE:
            state = self._state
            match = _TAGS_BY_STATE[state].search(text, pos)
            if match is None:
                break
            self._text(text[pos : match.start()], events)
            pos = match.start()
            if self._state != state:
                continue  # the text started the answer: read the tag in the new state
            self._tag(match.group(), events)
            pos = match.end()
        if self._state == _DONE:
            return
        cut = len(text)
        if not final:  # hold back a tail that may be the start of a tag split across deltas
            lt = text.rfind("<", max(pos, len(text) - _LONGEST_TAG + 1))
            if lt >= 0 and text[lt:] in _TAG_STARTS:
                cut = lt
                self._buf = text[lt:]
        self._text(text[pos:cut], events)

    def _text(self, text: str, events: list[ParserEvent]) -> None:
        if not text:
            return
        state = self._state
        if state == _CALL:
            self._call.add(text)
        elif state == _THINK:
            self._think_text(text, events)
        elif state == _START:
            if not text.strip():
                return  # leading whitespace: what comes next decides the state
            self._state = _CONTENT if self._unopened is None else _UNOPENED
            self._text(text, events)
        elif state == _UNOPENED:
            assert self._unopened is not None
            self._unopened.append(text)
        elif state == _FUNCTION:
            self._function.append(text)
        else:
            self._content_text(text, events)

    def _think_text(self, text: str, events: list[ParserEvent]) -> None:
        if self._held is not None:
            self._held.append(text)
        else:
            out = self._reasoning.push(text)
            if out:
                events.append(ReasoningDelta(out))

    def _content_text(self, text: str, events: list[ParserEvent]) -> None:
        if self._untagged is not None:
            self._untagged.append(text)
            return
        at = None if self._calls_seen else self._untagged_start(text)
        if at is None:
            self._push_content(text, events)
        else:
            self._push_content(text[:at], events)
            self._untagged = [text[at:]]

    def _untagged_start(self, text: str) -> int | None:
        """Where in `text` a call written without <tool_call> may begin: at the start of the
        answer (JSON, a fence, a tag), or at a line opening with "{" after some prose."""
        stripped = text.lstrip()
        if stripped and not self._content.started and stripped[0] in _UNTAGGED_OPENERS:
            return len(text) - len(stripped)
        if text[:1] == "{" and self._content.started and self._content.pending.endswith("\n"):
            return 0
        found = text.find("\n{")
        return found + 1 if found >= 0 else None

    def _push_content(self, text: str, events: list[ParserEvent]) -> None:
        out = self._content.push(text)
        if out:
            events.append(ContentDelta(out))

    def _release_untagged(self, events: list[ParserEvent]) -> None:
        """The held answer was text after all: emit it as content."""
        held, self._untagged = self._untagged, None
        if held:
            self._push_content("".join(held), events)

    def _tag(self, tag: str, events: list[ParserEvent]) -> None:
        if self._state == _UNOPENED:
            self._settle_unopened(events, reasoning=tag == THINK_CLOSE)
            if tag == THINK_CLOSE:
                return
        if tag in END_TOKENS:
            self._end(events)
        else:
            _TAG_HANDLERS[self._state](self, tag, events)

    # One handler a state, for the tags its pattern in _TAGS_BY_STATE finds (the end tokens
    # aside: they end the output in every state).

    def _tag_at_start(self, tag: str, events: list[ParserEvent]) -> None:
        if tag == THINK_OPEN:
            self._state, self._saw_think = _THINK, True
        elif tag == THINK_CLOSE:  # the prompt opened the think block
            self._state, self._saw_think = _CONTENT, True
        else:
            self._tag_in_content(tag, events)

    def _tag_in_think(self, tag: str, events: list[ParserEvent]) -> None:
        if tag == THINK_CLOSE:
            held, self._held = self._held, None
            if held:  # the calls were part of the reasoning after all
                self._text("".join(held), events)
            self._state = _CONTENT
        elif tag == CALL_OPEN and self._held is None:
            self._held = [tag]
        elif self._held is not None:
            self._held.append(tag)
        # a stray <think> inside reasoning is dropped

    def _tag_in_content(self, tag: str, events: list[ParserEvent]) -> None:
        """A `<tool_call>` or a bare `<function=...>` opens."""
        self._release_untagged(events)
        if tag == CALL_OPEN:
            self._state, self._call = _CALL, _CallBody()
        else:
            self._state, self._function = _FUNCTION, [tag]

    def _tag_in_call(self, tag: str, events: list[ParserEvent]) -> None:
        if self._call.in_string:
            self._call.add_tag_as_text(tag)
        elif tag == CALL_OPEN:  # a new call before the previous one was closed
            self._release_untagged(events)
            self._finish_call(events, CALL_OPEN)
        else:
            self._finish_call(events, CALL_CLOSE)

    def _tag_in_function(self, tag: str, events: list[ParserEvent]) -> None:
        """`</function>`, or a `<tool_call>` after an unclosed `<function=...>`."""
        self._finish_function(events)
        if tag == CALL_OPEN:
            self._state, self._call = _CALL, _CallBody()

    def _settle_unopened(self, events: list[ParserEvent], *, reasoning: bool) -> None:
        """The held output turned out to be reasoning (a `</think>` closed it) or the answer."""
        assert self._unopened is not None
        held, self._unopened = "".join(self._unopened), []
        if reasoning:
            self._state, self._saw_think = _THINK, True
            self._text(held, events)
        self._state = _CONTENT
        if not reasoning:
            self._text(held, events)

    def _end(self, events: list[ParserEvent]) -> None:
        if self._state == _UNOPENED:
            self._settle_unopened(events, reasoning=False)
        if self._held is not None:
            # The think block was never closed: its <tool_call> ended the reasoning.
            held, self._held = "".join(self._held), None
            self._state = _CONTENT
            self._scan(held, events, final=True)
            if self._state == _DONE:
                return
        if self._state == _CALL:
            self._finish_call(events, None)
        elif self._state == _FUNCTION:
            self._finish_function(events)
        if self._untagged is not None:
            held = "".join(self._untagged)
            calls = _untagged_calls(held)
            if calls:
                self._untagged = None
                _emit(events, calls)
            else:
                self._release_untagged(events)
        self._state = _DONE

    def _finish_function(self, events: list[ParserEvent]) -> None:
        text = "".join(self._function) + FUNCTION_CLOSE
        self._function = []
        self._calls_seen = True
        _emit(events, _read_xml_calls(text, text))
        self._state = _CONTENT

    def _finish_call(self, events: list[ParserEvent], end: str | None) -> None:
        """Read the block that `end` (a tag, or None for the end of output) closes."""
        call = self._call
        self._calls_seen = True
        body = call.text()
        items = read_call_block(body, raw=_raw(body, end), closed=end == CALL_CLOSE)
        if (
            call.suspects
            and self._rereads < _MAX_REREADS
            and any(isinstance(item, ToolCallError) for item in items)
        ):
            # Read as one block it fails: the first tag taken for text was a tag after all.
            cut, tag = call.suspects[0]
            _emit(events, read_call_block(body[:cut], raw=_raw(body[:cut], tag), closed=tag == CALL_CLOSE))
            self._state, self._call = (_CALL, _CallBody()) if tag == CALL_OPEN else (_CONTENT, _CallBody())
            self._rereads += 1
            self._scan(body[cut + len(tag) :] + (end or ""), events, final=end is None)
            if end is None and self._state == _CALL:
                self._finish_call(events, None)
            self._rereads -= 1
            return
        _emit(events, items)
        self._state = _CALL if end == CALL_OPEN else _CONTENT
        self._call = _CallBody()


_TAG_HANDLERS = {
    _START: StreamParser._tag_at_start,
    _THINK: StreamParser._tag_in_think,
    _CONTENT: StreamParser._tag_in_content,
    _CALL: StreamParser._tag_in_call,
    _FUNCTION: StreamParser._tag_in_function,
}


def _raw(body: str, end: str | None) -> str:
    return CALL_OPEN + body + (CALL_CLOSE if end == CALL_CLOSE else "")


# Greedy and without \s* around the group (callers strip it): linear on long whitespace runs.
_WRAPPER = re.compile(r"<(tool|tools|response|json|JSON|xml|function_call)>(.*)</\1>", re.DOTALL)


def _untagged_calls(text: str) -> list[ToolCall | ToolCallError] | None:
    """Calls in an answer written without <tool_call>: bare or fenced JSON objects with a
    "name" and "arguments" (or "parameters"), or one in another wrapper tag; else None."""
    body = text.strip()
    for pattern in (_FENCE, _WRAPPER, _FENCE):
        match = pattern.fullmatch(body)
        if match:
            body = match.group(match.lastindex or 1).strip()
    if body.startswith(FUNCTION_OPENS):
        found = _read_xml_calls(body, text)
        return found if all(isinstance(c, ToolCall) for c in found) else None
    try:
        objects = read_values(body)
    except ValueError:
        return None
    items = [item for obj in objects for item in (obj if isinstance(obj, list) else [obj])]
    if not items or not all(
        isinstance(item, dict)
        and isinstance(item.get("name"), str)
        and ("arguments" in item or "parameters" in item)
        for item in items
    ):
        return None
    calls = [_as_call(item, text) for item in items]
    return calls if all(isinstance(c, ToolCall) for c in calls) else None


def _emit(events: list[ParserEvent], items: list[ToolCall | ToolCallError]) -> None:
    for item in items:
        events.append(ToolCallReady(item) if isinstance(item, ToolCall) else ToolCallInvalid(item))


def parse_output(text: str, *, thinking: bool | None = None, unopened: bool = True) -> ParsedOutput:
    """Take a complete Qwen3 output apart.

    Args:
        text: The model's output (the text after the generation prompt).
        thinking: As for `StreamParser`.
        unopened: As for `StreamParser`.
    """
    parser = StreamParser(thinking, unopened=unopened)
    return collect(parser, [*parser.feed(text), *parser.close()])


def collect(parser: StreamParser, events: Iterable[ParserEvent]) -> ParsedOutput:
    """Assemble a `ParsedOutput` from all the events of one parser."""
    out = ParsedOutput()
    reasoning: list[str] = []
    content: list[str] = []
    for event in events:
        if isinstance(event, ReasoningDelta):
            reasoning.append(event.text)
        elif isinstance(event, ContentDelta):
            content.append(event.text)
        elif isinstance(event, ToolCallReady):
            out.tool_calls.append(event.call)
            out.calls.append(event.call)
        else:
            out.errors.append(event.error)
            out.calls.append(event.error)
    out.reasoning = "".join(reasoning) if parser.saw_think else None
    out.content = "".join(content)
    return out


# -- reading one <tool_call> block ---------------------------------------------------------

# The look-ahead fails fast on text that does not end in a fence; callers strip the group.
_FENCE = re.compile(r"^(?=.*```$)```[a-zA-Z]*(.*)```$", re.DOTALL)
_NAME_HINT = re.compile(r"""["']name["']\s*:\s*["']([^"']+)["']""")


def read_call_block(
    body: str, *, raw: str | None = None, closed: bool = True
) -> list[ToolCall | ToolCallError]:
    """Read the calls in the text between `<tool_call>` and `</tool_call>`.

    Args:
        body: The block's inner text.
        raw: The block as written, kept on the results.
        closed: Whether `</tool_call>` was seen (only affects error messages).

    Returns:
        One `ToolCall` per call in the block (usually one), or one `ToolCallError`.
    """
    raw = raw if raw is not None else CALL_OPEN + body + CALL_CLOSE
    text = body.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    if not text:
        return [ToolCallError(raw, "the <tool_call> block is empty.")]
    if text.startswith("<function"):
        return _read_xml_calls(text, raw)
    try:
        objects = read_values(text)
    except ValueError as exc:
        hint = _NAME_HINT.search(text)
        where = "" if closed else " (the block was never closed with </tool_call>)"
        return [
            ToolCallError(
                raw,
                f"its JSON is invalid{where}: {exc}.",
                name=hint.group(1) if hint else None,
            )
        ]
    calls = [item for obj in objects for item in (obj if isinstance(obj, list) else [obj])]
    if not calls:
        return [ToolCallError(raw, "the <tool_call> block holds an empty list.")]
    return [_as_call(obj, raw) for obj in calls]


def _as_call(obj: Any, raw: str) -> ToolCall | ToolCallError:
    if isinstance(obj, dict) and "name" not in obj and isinstance(obj.get("function"), dict):
        obj = obj["function"]  # {"type": "function", "function": {...}}
    if not isinstance(obj, dict):
        return ToolCallError(raw, f"expected a JSON object with name and arguments, got {obj!r}.")
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        return ToolCallError(raw, 'the call has no "name" (a string naming the tool).')
    name = name.strip()
    args = obj.get("arguments", obj.get("parameters", {}))
    if args is None:
        args = {}
    if isinstance(args, str):  # arguments given as a JSON string
        try:
            args = read_arguments(args)
        except ValueError as exc:
            return ToolCallError(raw, f'"arguments" is a string that is not a JSON object: {exc}.', name)
    if not isinstance(args, dict):
        return ToolCallError(raw, f'"arguments" must be a JSON object, got {type(args).__name__}.', name)
    return ToolCall(name=name, arguments=args, raw=raw)


# A name stops at "<": else each of many unfinished tags in a row would be read to the end.
_XML_FUNCTION = re.compile(r'<function(?:=([^>\s<]+)|\s+name="([^"]+)")\s*>(.*?)(?:</function>|$)', re.DOTALL)
_XML_PARAMETER = re.compile(r"<parameter=([^>\s<]+)\s*>(.*?)(?:</parameter>|(?=<parameter=)|$)", re.DOTALL)


def _read_xml_calls(text: str, raw: str) -> list[ToolCall | ToolCallError]:
    """Calls in the XML form of Qwen3-Coder (`<function=NAME><parameter=P>v</parameter>`),
    or `<function=NAME>{json}</function>`."""
    out: list[ToolCall | ToolCallError] = []
    for match in _XML_FUNCTION.finditer(text):
        name = (match.group(1) or match.group(2)).strip()
        inner = match.group(3)
        if "<parameter=" in inner:
            args = {key: _xml_value(value) for key, value in _XML_PARAMETER.findall(inner)}
            out.append(ToolCall(name=name, arguments=args, raw=raw))
            continue
        try:
            out.append(ToolCall(name=name, arguments=read_arguments(inner), raw=raw))
        except ValueError as exc:
            out.append(ToolCallError(raw, f"the arguments of {name} are not valid JSON: {exc}.", name))
    return out or [ToolCallError(raw, "the <function=...> block names no function.")]


def _xml_value(text: str) -> Any:
    value = text[1:] if text.startswith("\n") else text
    value = value[:-1] if value.endswith("\n") else value
    try:  # numbers, booleans, objects and arrays are written as JSON
        decoded = json.loads(value)
    except (ValueError, RecursionError):
        return value
    return value if isinstance(decoded, str) else decoded


def read_arguments(text: str) -> dict[str, Any]:
    """A call's arguments from JSON text, read leniently; empty text is `{}`.

    Raises:
        ValueError: The text is not a JSON object, saying where it went wrong.
    """
    if not text.strip():
        return {}
    value = read_value(text)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value
