"""`agentkit mcp call` and media results, against an SDK-built stdio server written here:
approval at a terminal and with --yes, --json, errors for a person, and images and audio
saved as files, both on the command line and in a run of the agent."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, ScriptedBackend
from agentkit.events import ToolCallFinished
from agentkit.mcp.config import parse_mcp_config

from ..test_cli_approval import Terminal
from .conftest import ROOT, processes_with

AGENTKIT = [sys.executable, "-m", "agentkit.cli"]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
WAV = b"RIFF$\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0@\x1f\0\0\x80>\0\0\x02\0\x10\0data\0\0\0\0"

SERVER = f'''
import sys
from mcp.server.mcpserver import Audio, Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

server = MCPServer("media", log_level="WARNING")

@server.tool()
def chart() -> list:
    """A chart and its sonification."""
    return ["the chart and its sound", Image(data={PNG!r}, format="png"), Audio(data={WAV!r}, format="wav")]

@server.tool()
def forecast(city: str, days: int = 3) -> str:
    """The weather of a city."""
    return f"{{city}}: sunny for {{days}} days"

@server.tool(annotations=ToolAnnotations(destructive_hint=True))
def wipe(target: str) -> str:
    """Delete everything at target."""
    return f"wiped {{target}}"

@server.tool()
def broken() -> str:
    """Always fails."""
    raise ToolError("the sensor is offline")

server.run()
'''


@pytest.fixture
def config(tmp_path: Path) -> Path:
    script = tmp_path / "media_server.py"
    script.write_text(SERVER)
    path = tmp_path / "media.json"
    path.write_text(json.dumps({"mcpServers": {"media": {"command": sys.executable, "args": [str(script)]}}}))
    return path


def mcp_call(config: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [*AGENTKIT, "mcp", "call", "media", *args, "--mcp-config", str(config)],
        capture_output=True, text=True, cwd=cwd, env=env, stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip


def test_mcp_call_saves_images_and_audio_in_the_current_folder_or_out(config: Path, tmp_path: Path) -> None:
    done = mcp_call(config, tmp_path, "chart")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "the chart and its sound",
        "[image: image/png, 70 B, saved as chart.png]",
        f"[audio: audio/wav, {len(WAV)} B, saved as chart.wav]",
    ]
    assert (tmp_path / "chart.png").read_bytes() == PNG and (tmp_path / "chart.wav").read_bytes() == WAV
    again = mcp_call(config, tmp_path, "chart", "--out", "media")
    assert (
        "saved as media/chart.png" in again.stdout and (tmp_path / "media" / "chart.wav").read_bytes() == WAV
    )


def test_mcp_call_json_prints_the_raw_result(config: Path, tmp_path: Path) -> None:
    done = mcp_call(config, tmp_path, "chart", "--json")
    assert done.returncode == 0, done.stderr
    raw = json.loads(done.stdout)
    assert [b["type"] for b in raw["content"]] == ["text", "image", "audio"]
    assert base64.b64decode(raw["content"][1]["data"]) == PNG and raw["content"][2]["mimeType"] == "audio/wav"
    assert raw["isError"] is False
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "media.json",
        "media_server.py",
    ]  # no files without --out
    saved = mcp_call(config, tmp_path, "chart", "--json", "--out", "media")
    assert json.loads(saved.stdout)["content"][1]["data"] == raw["content"][1]["data"]
    assert "saved media/chart.png (image/png)" in saved.stderr
    assert (tmp_path / "media" / "chart.png").read_bytes() == PNG
    forecast = json.loads(mcp_call(config, tmp_path, "forecast", '{"city": "Oslo"}', "--json").stdout)
    assert forecast["structuredContent"] == {"result": "Oslo: sunny for 3 days"}
    failed = mcp_call(config, tmp_path, "broken", "--json")
    assert failed.returncode == 1 and json.loads(failed.stdout)["isError"] is True


def test_mcp_call_errors_are_worded_for_a_person(config: Path, tmp_path: Path) -> None:
    wrong = mcp_call(config, tmp_path, "forecast", '{"days": "two"}')
    assert wrong.returncode == 2 and wrong.stdout == ""
    message = " ".join(wrong.stderr.split())
    assert "the arguments do not fit the input schema of forecast:" in message
    assert "'city' is a required property" in message and "days: 'two' is not of type 'integer'" in message
    assert "It takes {city: string (required), days: integer}." in message
    assert (
        f'For example: agentkit mcp call media forecast \'{{"city": "text"}}\' --mcp-config {config}'
        in message
    )
    assert "again with corrected arguments" not in message  # the model's wording stays out
    typo = mcp_call(config, tmp_path, "forcast", "{}")
    assert typo.returncode == 2 and "has no tool 'forcast'. Did you mean 'forecast'?" in typo.stderr
    not_json = mcp_call(config, tmp_path, "forecast", "{city: Oslo}")
    assert not_json.returncode == 2 and "not valid JSON" in not_json.stderr
    failed = mcp_call(config, tmp_path, "broken")
    assert failed.returncode == 1 and "the sensor is offline" in failed.stdout


def test_mcp_call_approval_with_yes_and_without_a_terminal(config: Path, tmp_path: Path) -> None:
    refused = mcp_call(config, tmp_path, "wipe", '{"target": "/tmp/x"}')
    assert refused.returncode == 3, refused.stderr
    assert "needs approval and there is no terminal to ask: pass --yes" in refused.stderr
    assert "wipe was not approved, so it did not run" in refused.stderr and refused.stdout == ""
    approved = mcp_call(config, tmp_path, "wipe", '{"target": "/tmp/x"}', "--yes")
    assert approved.returncode == 0 and approved.stdout.strip() == "wiped /tmp/x"


@pytest.mark.parametrize(("answer", "code"), [("y", 0), ("n", 3)])
def test_mcp_call_asks_at_a_terminal(config: Path, tmp_path: Path, answer: str, code: int) -> None:
    args = [*AGENTKIT, "mcp", "call", "media", "wipe", '{"target": "/tmp/x"}', "--mcp-config", str(config)]
    terminal = Terminal(args, tmp_path, env={"PYTHONPATH": str(ROOT)})
    terminal.expect("Allow it? [y]es / [n]o / [a]lways for this tool:", timeout=60)
    assert "media__wipe wants to run:" in terminal.seen and "target: /tmp/x" in terminal.seen
    terminal.type(answer + "\n")
    assert terminal.finish(timeout=60) == code
    assert ("wiped /tmp/x" in terminal.seen) == (answer == "y")


async def test_a_run_saves_images_and_audio_in_its_workspace(config: Path, tmp_path: Path) -> None:
    servers = json.loads(config.read_text())
    script = ['<tool_call>\n{"name": "media__chart", "arguments": {}}\n</tool_call>', "Here is the chart."]
    agent = Agent(backend=ScriptedBackend(script), mcp=parse_mcp_config(servers), workspace=tmp_path / "ws")
    events: list[Any] = [e async for e in agent.stream("Draw the chart.")]
    (finished,) = [e for e in events if isinstance(e, ToolCallFinished)]
    assert finished.result.content.splitlines() == [
        "the chart and its sound",
        "[image: image/png, 70 B, saved as chart.png]",
        f"[audio: audio/wav, {len(WAV)} B, saved as chart.wav]",
    ]
    assert (tmp_path / "ws" / "chart.png").read_bytes() == PNG
    assert (tmp_path / "ws" / "chart.wav").read_bytes() == WAV
    assert processes_with(str(config.parent / "media_server.py")) == []


async def test_a_run_without_a_workspace_names_the_one_made_for_it(config: Path) -> None:
    servers = json.loads(config.read_text())
    script = ['<tool_call>\n{"name": "media__chart", "arguments": {}}\n</tool_call>', "Done."]
    agent = Agent(backend=ScriptedBackend(script), mcp=parse_mcp_config(servers))
    events: list[Any] = [e async for e in agent.stream("Draw the chart.")]
    (finished,) = [e for e in events if isinstance(e, ToolCallFinished)]
    line = finished.result.content.splitlines()[1]
    prefix = "[image: image/png, 70 B, saved as chart.png in the run's workspace "
    assert line.startswith(prefix)
    workspace = Path(line[len(prefix) : -1])
    assert workspace.name.startswith("agentkit-workspace-") and (workspace / "chart.png").read_bytes() == PNG
