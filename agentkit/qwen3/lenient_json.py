"""Lenient JSON: read the JSON a small model writes, slips and all.

Strict JSON is tried first (at C speed). Where it fails, a small reader forgives what models
commonly get wrong: single quotes, trailing commas, Python's `True`/`False`/`None`, bare
keys, and objects or arrays left open at the end of the text. What it still cannot read is
a `ValueError` saying what it expected and where (line and column). Nesting deeper than
`MAX_DEPTH` is such an error, not a stack overflow.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

__all__ = ["MAX_DEPTH", "read_value", "read_values"]

MAX_DEPTH = 200
"""Objects and arrays nested deeper than this are refused."""


def read_value(text: str) -> Any:
    """The one JSON value that `text` holds, read leniently.

    Raises:
        ValueError: The text is not a value, or more than whitespace follows it.
    """
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        value, pos = _Reader(text, 0).value_at_top()
        if pos < len(text.rstrip()):
            raise ValueError(f"unexpected text at character {pos}") from None
        return value


def read_values(text: str) -> list[Any]:
    """One or more JSON values in a row, read leniently.

    Values may be separated by whitespace, commas or semicolons; text after them that does
    not open another object or array (prose after a call) is ignored. Empty text is `[]`.

    Raises:
        ValueError: A value cannot be read, saying where.
    """
    try:
        return [json.loads(text)]
    except (ValueError, RecursionError):
        pass
    values: list[Any] = []
    pos = 0
    decoder = json.JSONDecoder()
    while pos < len(text):
        try:
            value, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            value, pos = _Reader(text, pos).value_at_top()
        values.append(value)
        pos = _skip_separators(text, pos)
        if values and pos < len(text) and text[pos] not in "{[":
            break  # trailing prose after the value(s): ignore it
    return values


def _skip_separators(text: str, pos: int) -> int:
    while pos < len(text) and (text[pos].isspace() or text[pos] in ",;"):
        pos += 1
    return pos


class _Reader:
    """Reads one value from `pos` on, forgiving the slips the module names."""

    _NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
    _WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
    _WORDS: ClassVar[dict[str, Any]] = {
        "true": True,
        "false": False,
        "null": None,
        "True": True,
        "False": False,
        "None": None,
    }
    _ESCAPES: ClassVar[dict[str, str]] = {
        "n": "\n",
        "t": "\t",
        "r": "\r",
        "b": "\b",
        "f": "\f",
        "/": "/",
        "\\": "\\",
    }

    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos
        self.depth = 0

    def value_at_top(self) -> tuple[Any, int]:
        """The value, and the position just after it."""
        value = self.value()
        return value, self.pos

    def fail(self, what: str) -> ValueError:
        line = self.text.count("\n", 0, self.pos) + 1
        col = self.pos - (self.text.rfind("\n", 0, self.pos) + 1) + 1
        return ValueError(f"{what} at line {line} column {col}")

    def ws(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos].isspace():
            pos += 1
        self.pos = pos

    def at_end(self) -> bool:
        self.ws()
        return self.pos >= len(self.text)

    def value(self) -> Any:
        self.ws()
        if self.pos >= len(self.text):
            raise self.fail("expected a value but the text ended")
        ch = self.text[self.pos]
        if ch in "{[":
            if self.depth == MAX_DEPTH:
                raise self.fail(f"objects and arrays are nested more than {MAX_DEPTH} deep")
            self.depth += 1
            value = self.obj() if ch == "{" else self.arr()
            self.depth -= 1
            return value
        if ch in "\"'":
            return self.string()
        number = self._NUMBER.match(self.text, self.pos)
        if number:
            self.pos = number.end()
            literal = number.group()
            return float(literal) if any(c in literal for c in ".eE") else int(literal)
        word = self._WORD.match(self.text, self.pos)
        if word and word.group() in self._WORDS:
            self.pos = word.end()
            return self._WORDS[word.group()]
        raise self.fail(f"unexpected character {ch!r}")

    def obj(self) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        while not self.closed("}"):
            key = self.key()
            self.ws()
            if self.pos >= len(self.text) or self.text[self.pos] != ":":
                raise self.fail(f"expected ':' after key {key!r}")
            self.pos += 1
            out[key] = self.value()
            self.after_item("}")
        return out

    def arr(self) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        while not self.closed("]"):
            out.append(self.value())
            self.after_item("]")
        return out

    def closed(self, close: str) -> bool:
        """Whether the object or array ends here: at `close` (read past it), or at the end
        of the text (left open: closed for the model)."""
        if self.at_end():
            return True
        if self.text[self.pos] == close:
            self.pos += 1
            return True
        return False

    def after_item(self, close: str) -> None:
        """Past the comma after an item; at `close` or the end of the text, stay."""
        if self.at_end():
            return
        ch = self.text[self.pos]
        if ch == ",":
            self.pos += 1
        elif ch != close:
            raise self.fail(f"expected ',' or {close!r}, found {ch!r}")

    def key(self) -> str:
        """An object's key: a string in either quotes, or a bare word."""
        if self.text[self.pos] in "\"'":
            return self.string()
        word = self._WORD.match(self.text, self.pos)
        if not word:
            raise self.fail(f"expected a key, found {self.text[self.pos]!r}")
        self.pos = word.end()
        return word.group()

    def string(self) -> str:
        text = self.text
        quote = text[self.pos]
        start = self.pos
        self.pos += 1
        parts: list[str] = []
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == quote:
                self.pos += 1
                return "".join(parts)
            if ch == "\\" and self.pos + 1 < len(text):
                nxt = text[self.pos + 1]
                if nxt == "u" and self.pos + 6 <= len(text):
                    try:
                        parts.append(chr(int(text[self.pos + 2 : self.pos + 6], 16)))
                        self.pos += 6
                        continue
                    except ValueError:
                        pass
                parts.append(self._ESCAPES.get(nxt, nxt))
                self.pos += 2
                continue
            parts.append(ch)
            self.pos += 1
        self.pos = start
        raise self.fail("a string is never closed")
