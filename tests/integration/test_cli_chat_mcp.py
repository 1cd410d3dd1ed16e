"""`agentkit chat` with an MCP server: it starts once for the session, not once per turn."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from ..test_cli_chat import CTRL_D, Chat, say
from .conftest import ROOT

pytestmark = pytest.mark.integration


def children_running(parent: int, marker: str) -> list[int]:
    """Pids of live child processes of `parent` whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            fields = (entry / "stat").read_text().split(") ")[1].split()
        except (OSError, IndexError):
            continue
        if marker.encode() in cmdline and fields[0] != "Z" and int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


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
    term.expect("MCP server notes:")
    server = children_running(term.proc.pid, "notes_mcp_server.py")
    assert len(server) == 1
    say(term, "Note something.")
    term.expect("← notes__add_note")
    term.expect("Saved.")
    say(term, "What notes are there?")
    term.expect("← notes__list_notes")
    term.expect("One note.")
    assert children_running(term.proc.pid, "notes_mcp_server.py") == server  # the same process
    term.expect("›")
    term.type(CTRL_D)
    assert term.finish() == 0, term.seen
    assert (term.log + term.seen).count("MCP server notes:") == 1  # not started again for a turn
