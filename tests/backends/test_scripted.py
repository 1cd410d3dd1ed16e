"""The scripted backend's script files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from agentkit.backends.base import ModelRequest, Turn
from agentkit.backends.scripted import Paced, ScriptedBackend, load_script
from agentkit.errors import ConfigError
from agentkit.messages import AssistantMessage, UserMessage


def test_a_script_holds_raw_text_paced_text_and_messages(tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps(["Hi.", {"raw": "Slow.", "delay": 0.2}, {"content": "Done."}]))
    first, paced, message = load_script(script)
    assert first == "Hi." and paced == Paced("Slow.", 0.2) and isinstance(message, AssistantMessage)


@pytest.mark.parametrize("turn", [{"raw": 3}, {"raw": "x", "delay": "slow"}, {"raw": "x", "delay": True}])
def test_a_paced_turn_needs_text_and_seconds(tmp_path: Path, turn: object) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps([turn]))
    with pytest.raises(ConfigError, match='turn 1 must give "raw" as text and "delay" as seconds'):
        load_script(script)


async def test_a_paced_turn_streams_at_its_own_pace() -> None:
    backend = ScriptedBackend([Paced("abcdefgh", 0.05), "ijklmnop"], chunk_size=2)
    request = ModelRequest([UserMessage("go")])
    started = time.monotonic()
    turns = [e async for e in backend.stream(request) if isinstance(e, Turn)]
    slow = time.monotonic() - started
    started = time.monotonic()
    turns += [e async for e in backend.stream(request) if isinstance(e, Turn)]
    fast = time.monotonic() - started
    assert [t.message.content for t in turns] == ["abcdefgh", "ijklmnop"]
    assert slow >= 4 * 0.05 and fast < 0.05
