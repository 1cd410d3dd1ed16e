"""The scripted backend: deterministic turns, no network.

It runs the real loop for tests and offline demos. A turn is raw Qwen3 output text (parsed
by agentkit's parser, streamed in small chunks as a server would), such text `Paced` at its
own speed, or an `AssistantMessage`. Turns come from a list, from a function of the request,
or from a list per task: then each run takes the turns of its own task (its first user
message) in order, so that runs at once (a batch) each follow their own script.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union, cast

from agentkit.backends.base import ModelEvent, ModelRequest, TurnBuilder
from agentkit.errors import ConfigError, ModelError
from agentkit.messages import (
    AssistantMessage,
    ContentDelta,
    ReasoningDelta,
    ToolCall,
    ToolCallReady,
    UserMessage,
    from_openai,
)
from agentkit.qwen3.parser import StreamParser

__all__ = ["Paced", "ScriptedBackend", "ScriptedTurn", "load_script"]


@dataclass(frozen=True)
class Paced:
    """Raw output text streamed at its own pace (a slow model, to try Ctrl-C on).

    Attributes:
        text: The raw Qwen3 output.
        delay: Seconds between streamed chunks, over the backend's own `delay`.
    """

    text: str
    delay: float


ScriptedTurn = Union[str, Paced, AssistantMessage]
TurnSource = Union[
    Sequence[ScriptedTurn],
    Mapping[str, Sequence[ScriptedTurn]],
    Callable[[ModelRequest], Union[ScriptedTurn, Awaitable[ScriptedTurn]]],
]
ScriptFileTurns = Mapping[str, Mapping[str, Sequence[ScriptedTurn]]]  # a script file's {"tasks": {...}}

_CURSOR = "scripted_turn"  # in a run's memo: how many of its task's turns it has taken


class ScriptedBackend:
    """A model that says what it is told.

    Args:
        turns: The turns in order; a mapping of task to its turns in order (a run takes
            those of its first user message, counted in its own memo; a script file's
            `{"tasks": {...}}` is taken too); or a function `(request) -> turn` (sync or async).
        chunk_size: Characters per streamed delta for text turns.
        delay: Seconds to wait between deltas (for demos).

    Attributes:
        requests: Every request received, for tests to inspect.
    """

    name = "scripted"

    def __init__(
        self, turns: Union[TurnSource, ScriptFileTurns], *, chunk_size: int = 7, delay: float = 0.0
    ) -> None:
        if isinstance(turns, Mapping) and isinstance(turns.get("tasks"), Mapping) and len(turns) == 1:
            turns = turns["tasks"]  # a script file's form, {"tasks": {task: [turns]}}, taken as it is
        self._turns = cast(TurnSource, turns)  # the {"tasks": ...} form is unwrapped above
        self._next = 0
        self._taken: dict[str, dict[str, Any]] = {}  # per task, for requests without a run's memo
        self.chunk_size = max(1, chunk_size)
        self.delay = delay
        self.requests: list[ModelRequest] = []

    async def _turn_for(self, request: ModelRequest) -> ScriptedTurn:
        if callable(self._turns):
            answer = self._turns(request)
            return await answer if inspect.isawaitable(answer) else answer
        if isinstance(self._turns, Mapping):
            return self._task_turn(self._turns, request)
        if self._next >= len(self._turns):
            raise ModelError(
                f"the scripted backend ran out of turns: it was given {len(self._turns)} and "
                f"asked for turn {self._next + 1}; add turns to the script"
            )
        turn = self._turns[self._next]
        self._next += 1
        return turn

    def _task_turn(self, script: Mapping[str, Sequence[ScriptedTurn]], request: ModelRequest) -> ScriptedTurn:
        task = next((m.content for m in request.messages if isinstance(m, UserMessage)), "")
        turns = script.get(task)
        if turns is None:
            known = "; ".join(repr(t) for t in list(script)[:3]) + ("; ..." if len(script) > 3 else "")
            raise ModelError(
                f"the script has no turns for the task {task!r}; it has turns for {known}. Give the "
                "task exactly as the script writes it, or add it to the script"
            )
        taken = request.memo if request.memo is not None else self._taken.setdefault(task, {})
        n: int = taken.get(_CURSOR, 0)
        if n >= len(turns):
            raise ModelError(
                f"the scripted backend ran out of turns for the task {task!r}: the script gives it "
                f"{len(turns)} and the run asked for turn {n + 1}; add turns to the script"
            )
        taken[_CURSOR] = n + 1
        return turns[n]

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        self.requests.append(request)
        scripted = await self._turn_for(request)
        turn = TurnBuilder()
        if isinstance(scripted, AssistantMessage):
            if scripted.reasoning is not None:
                turn.saw_reasoning = True
                if scripted.reasoning:
                    yield turn.add(ReasoningDelta(scripted.reasoning))
            if scripted.content:
                yield turn.add(ContentDelta(scripted.content))
            for call in scripted.tool_calls:
                yield turn.add(ToolCallReady(ToolCall(call.name, dict(call.arguments), call.id, call.raw)))
            yield turn.turn(finish_reason="tool_calls" if scripted.tool_calls else "stop")
            return
        text, delay = (
            (scripted.text, scripted.delay) if isinstance(scripted, Paced) else (scripted, self.delay)
        )
        parser = StreamParser(unopened="</think>" in text)  # else the answer streams at once
        for i in range(0, len(text), self.chunk_size):
            if delay:
                await asyncio.sleep(delay)
            for event in parser.feed(text[i : i + self.chunk_size]):
                yield turn.add(event)
        for event in parser.close():
            yield turn.add(event)
        turn.saw_reasoning = parser.saw_think
        yield turn.turn(finish_reason="stop", raw=text)

    async def aclose(self) -> None:
        return None


def load_script(path: str | Path) -> list[ScriptedTurn] | dict[str, list[ScriptedTurn]]:
    """Turns from a JSON file: a list of raw output strings, raw output at its own pace
    (`{"raw": ..., "delay": seconds between chunks}`), or assistant-message objects
    (`{"content": ..., "reasoning": ..., "tool_calls": [{"name": ..., "arguments": {...}}]}`);
    or such a list per task, `{"tasks": {"the task": [turns], ...}}`."""
    file = Path(path)
    try:
        data: Any = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such script file") from None
    except ValueError as exc:
        raise ConfigError(f"{file}: not valid JSON ({exc}); a script is a JSON list of turns") from None
    if isinstance(data, dict) and "tasks" in data:
        tasks = data["tasks"]
        if not isinstance(tasks, dict) or not tasks:
            raise ConfigError(
                f'{file}: "tasks" maps each task to its turns, e.g. {{"tasks": {{"What is 2 + 2?": ["4"]}}}}'
            )
        return {task: _turns(f"{file}, task {task!r}", turns) for task, turns in tasks.items()}
    if isinstance(data, dict) and "turns" in data:
        data = data["turns"]
    return _turns(str(file), data)


def _turns(where: str, data: Any) -> list[ScriptedTurn]:
    """A script's list of turns, read; `where` names it in errors."""
    if not isinstance(data, list):
        raise ConfigError(f"{where}: a script is a JSON list of turns, got {type(data).__name__}")
    turns: list[ScriptedTurn] = []
    for i, item in enumerate(data):
        if isinstance(item, str):
            turns.append(item)
        elif isinstance(item, dict) and "raw" in item:
            raw, delay = item["raw"], item.get("delay", 0)
            if not isinstance(raw, str) or isinstance(delay, bool) or not isinstance(delay, (int, float)):
                raise ConfigError(
                    f'{where}: turn {i + 1} must give "raw" as text and "delay" as seconds, e.g. '
                    '{"raw": "Hello.", "delay": 0.1}'
                )
            turns.append(Paced(raw, max(0.0, float(delay))))
        elif isinstance(item, dict):
            message = from_openai({"role": "assistant", **item})
            assert isinstance(message, AssistantMessage)
            turns.append(message)
        else:
            raise ConfigError(
                f"{where}: turn {i + 1} must be a string (raw model output) or an object, "
                f"got {type(item).__name__}"
            )
    return turns
