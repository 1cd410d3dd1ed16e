"""README.md's MCP resources, prompts, sampling and elicitation examples, run as written
against the example server they name (mcp_configs/docs.json, tools/docs_mcp_server.py).

The one change: where a command or a Python block needs a model, the fault server plays it
(`--base-url` added to a run command; the Python blocks' `http://127.0.0.1:8000/v1` replaced
by its address).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agentkit.cli import app
from tools.docs_mcp_server import ANSWER_STYLE, PAGES

from ..fault_server import FaultServer, Reply, State

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
DEFAULT_URL = "http://127.0.0.1:8000/v1"
TIMEOUT = 120
runner = CliRunner()


def block(after: str, language: str) -> str:
    """The first `language` block of README.md after the text `after`."""
    text = README.read_text(encoding="utf-8")
    start = text.index(after)
    found = re.search(rf"```{language}\n(.*?)```", text[start:], re.DOTALL)
    assert found is not None, f"no {language} block after {after!r}"
    return found.group(1)


def commands(after: str) -> list[list[str]]:
    """The agentkit commands of the bash block after `after`, as arguments after `agentkit`."""
    lines = [line.split("  #")[0].strip() for line in block(after, "bash").splitlines()]
    return [shlex.split(line)[1:] for line in lines if line]


def agentkit(args: list[str], monkeypatch: pytest.MonkeyPatch) -> Result:
    """`agentkit ARGS` run from the clone's root, in this process (no terminal)."""
    monkeypatch.chdir(ROOT)
    return runner.invoke(app, args, env={"NO_COLOR": "1", "COLUMNS": "300"})


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "300"}
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL
    )


def clone(tmp_path: Path) -> Path:
    """A folder that looks like the clone's root to the examples (its configs and tools)."""
    for name in ("mcp_configs", "tools"):
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


def test_the_resources_and_prompts_commands_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources, prompts, attach, prompt = commands("People see what servers")
    listed = agentkit(resources, monkeypatch)
    assert listed.exit_code == 0, listed.stderr
    for uri in ("docs:docs://pages/mcp.md", "docs:docs://pages/agents.md", "docs:docs://search/{word}"):
        assert uri in listed.stdout
    shown = agentkit(prompts, monkeypatch)
    assert shown.exit_code == 0, shown.stderr
    assert "docs/summarize" in shown.stdout and "topic (required), style" in shown.stdout

    with FaultServer(calls=0, answer="A summary.").in_thread() as model:
        model_args = ["--base-url", model.base_url, "--runs-dir", str(tmp_path / "runs")]
        for args in (attach, prompt):
            done = agentkit([*args, *model_args], monkeypatch)
            assert done.exit_code == 0, done.stderr
            assert "A summary." in done.stdout
        first, second = (body["prompt"] for body in model.bodies("/completions"))
    assert PAGES["mcp.md"].splitlines()[-1] in first and PAGES["agents.md"].splitlines()[-1] in first
    assert "Summarize what the documentation says about MCP, in a short way" in second


def test_the_prompts_python_example_runs_as_written(tmp_path: Path) -> None:
    code = block("In Python, inside `async with agent:`", "python")
    with FaultServer(calls=0, answer="MCP, summarized.").in_thread() as model:
        done = run([sys.executable, "-c", code.replace(DEFAULT_URL, model.base_url)], clone(tmp_path))
        (body,) = model.bodies("/completions")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "MCP, summarized."
    assert "Summarize what the documentation says about MCP" in body["prompt"]
    assert '<resource server="docs" uri="docs://pages/mcp.md">' in body["prompt"]


def test_the_sampling_and_elicitation_python_example_runs_as_written(tmp_path: Path) -> None:
    def model_turn(state: State) -> Reply:
        prompt = str(state.body.get("prompt", ""))
        if ANSWER_STYLE in prompt:  # the server's sampling request
            return Reply(answer="MCP connects models to tools and data.")
        plan = [
            Reply(tool="docs__ask_model", arguments={"question": "What is MCP?"}),
            Reply(tool="docs__feedback"),
        ]
        return plan[state.step] if state.step < len(plan) else Reply(answer="Asked both.")

    code = block("The example server (`mcp_configs/docs.json`) has a tool of each", "python")
    with FaultServer(reply=model_turn).in_thread() as model:
        done = run([sys.executable, "-c", code.replace(DEFAULT_URL, model.base_url)], clone(tmp_path))
        last = model.bodies("/completions")[-1]["prompt"]
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Asked both."
    results = re.findall(r"<tool_response>\n(.*?)\n</tool_response>", last, re.DOTALL)
    assert json.loads(results[0]) == {
        "question": "What is MCP?",
        "model_answer": "MCP connects models to tools and data.",
    }
    assert json.loads(results[1]) == {"action": "accept", "feedback": {"rating": 5, "comment": ""}}


def test_the_sampling_and_elicitation_commands_run_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    ask_model, feedback, _ = commands("The example server (`mcp_configs/docs.json`) has a tool of each")
    with FaultServer(calls=0, answer="A protocol for tools.").in_thread() as model:
        done = agentkit([arg.replace(DEFAULT_URL, model.base_url) for arg in ask_model], monkeypatch)
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout) == {"question": "What is MCP?", "model_answer": "A protocol for tools."}
    declined = agentkit(feedback, monkeypatch)  # no terminal: a form lacking defaults is declined
    assert declined.exit_code == 0, declined.stderr
    assert json.loads(declined.stdout) == {"action": "decline", "feedback": None}
