"""`as_plain` turns dataclasses into what `dataclasses.asdict` makes of them."""

from __future__ import annotations

import collections
import dataclasses
from typing import Any, NamedTuple

from agentkit._plain import as_plain
from agentkit.events import Compacted, McpLog, ToolCallFinished, TurnFinished
from agentkit.messages import AssistantMessage, ToolCall, ToolCallError, ToolMessage, Usage


class _Point(NamedTuple):
    x: int
    y: list[int]


@dataclasses.dataclass
class _Odd:
    pair: _Point
    ordered: collections.OrderedDict[str, Any]
    items: tuple[Any, ...]
    thing: Any = None


def test_events_come_out_as_asdict_makes_them() -> None:
    call = ToolCall("step", {"n": [1, {"deep": "ü"}]}, raw='{"name": "step"}')
    bad = ToolCallError("<tool_call>{", "not JSON", "step")
    message = AssistantMessage("", "thinking", [call], "<think>\nthinking\n</think>")
    events: list[Any] = [
        TurnFinished(1, message, (call, bad), Usage(10, 20, 3, 1), "stop"),
        ToolCallFinished(1, call, ToolMessage("done", call.id, "step", full_content="done!"), 0.25),
        Compacted(2, 100, 50, 3, 1, ({"kind": "result", "index": 4},)),
        McpLog("server", "info", None, {"nested": [1.5, None, True]}),
    ]
    for event in events:
        assert as_plain(event) == dataclasses.asdict(event)


def test_containers_keep_their_types_and_are_copies() -> None:
    odd = _Odd(_Point(1, [2]), collections.OrderedDict(b=[3]), ({"c": 4}, [5]), object())
    plain = as_plain(odd)
    expected = dataclasses.asdict(odd)
    assert plain.keys() == expected.keys()
    for key in ("pair", "ordered", "items"):
        assert plain[key] == expected[key] and type(plain[key]) is type(expected[key])
    assert plain["pair"].y is not odd.pair.y
    assert plain["ordered"]["b"] is not odd.ordered["b"]
    assert plain["items"][0] is not odd.items[0]
    assert plain["thing"] is not odd.thing  # copied, as asdict copies what it does not know


def test_a_defaultdict_keeps_its_factory() -> None:
    counts: collections.defaultdict[str, list[int]] = collections.defaultdict(list, {"a": [1]})
    plain = as_plain(counts)
    assert plain == counts and plain.default_factory is list and plain["a"] is not counts["a"]
