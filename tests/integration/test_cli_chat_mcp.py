"""`agentkit chat` with an MCP server: it starts once for the session, not once per turn."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from ..test_cli_chat import CTRL_D, Chat, say
from .conftest import ROOT, processes_with

pytestmark = pytest.mark.integration


def call(name: str, **arguments: object) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def test_the_mcp_servers_start_once_for_the_whole_chat(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    turns = [call("notes__add_note", title="a", text="x"), "Saved.", call("notes__list_notes"), "One note."]
    script.write_text(json.dumps(turns))
    env = {
        "PROMPT_TOOLKIT_NO_CPR": "1", "XDG_STATE_HOME": str(tmp_path / "state"),
        "NOTES_FILE": str(tmp_path / "notes.json"),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }  # fmt: skip
    args = [
        sys.executable, "-m", "agentkit.cli", "chat", "--backend", "scripted", "--script", str(script),
        "--mcp-config", str(ROOT / "mcp_configs" / "notes.json"), "--runs-dir", str(tmp_path / "runs"),
    ]  # fmt: skip
    term = Chat(args, ROOT, env)
    term.expect("MCP: notes ✓")
    server = processes_with("notes_mcp_server.py", parent=term.proc.pid)
    assert len(server) == 1
    say(term, "Note something.")
    term.expect("← notes__add_note")
    term.expect("Saved.")
    say(term, "What notes are there?")
    term.expect("← notes__list_notes")
    term.expect("One note.")
    assert processes_with("notes_mcp_server.py", parent=term.proc.pid) == server  # the same process
    term.expect("›")
    term.type(CTRL_D)
    assert term.finish() == 0, term.seen
    assert (term.log + term.seen).count("MCP: notes ✓") == 1  # not started again for a turn
