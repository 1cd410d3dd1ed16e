"""`agentkit chat` through a real pseudo-terminal: turns, commands, Ctrl-C, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from agentkit.store import list_runs, load_run, read_transcript

from .fault_server import FaultServer
from .test_cli_approval import Terminal

ROOT = Path(__file__).resolve().parent.parent
CALCULATOR = ROOT / "tools" / "calculator.py"
MULTIPLY = (
    "<think>\nUse the tool.\n</think>\n\n"
    '<tool_call>\n{"name": "multiply", "arguments": {"a": 17, "b": 23}}\n</tool_call>'
)
STORY = {"raw": "Once upon a time " * 40, "delay": 0.5}  # 50 s: Ctrl-C comes long before its end
CTRL_C, CTRL_D = "\x03", "\x04"


class Chat(Terminal):
    """A terminal whose `expect` consumes what it waited for: the next `expect` looks only
    at what came after (so a prompt redrawn with the typed line is not taken for the next)."""

    log = ""  # what the earlier expects consumed

    def expect(self, text: str, timeout: float = 30) -> None:
        super().expect(text, timeout)
        cut = self.seen.index(text) + len(text)
        self.log, self.seen = self.log + self.seen[:cut], self.seen[cut:]


def chat(tmp_path: Path, turns: Sequence[object], *extra: str) -> Chat:
    script = tmp_path / f"script{len(list(tmp_path.glob('script*.json')))}.json"
    script.write_text(json.dumps(turns))
    args = [
        sys.executable, "-m", "agentkit.cli", "chat", "--backend", "scripted", "--script", str(script),
        "--tools", str(CALCULATOR), "--runs-dir", str(tmp_path / "runs"), *extra,
    ]  # fmt: skip
    env = {"PROMPT_TOOLKIT_NO_CPR": "1", "XDG_STATE_HOME": str(tmp_path / "state")}
    return Chat(args, tmp_path, env)


def say(term: Terminal, line: str) -> None:
    """Type a line at the next prompt."""
    term.expect("›")
    term.type(line + "\r")


def test_a_session_of_turns_commands_soft_switches_and_ctrl_c(tmp_path: Path) -> None:
    turns = [MULTIPLY, "17 × 23 = 391.", "Twice that is 782.", STORY, "<think>\nOn.\n</think>\n\nThe end."]
    term = chat(tmp_path, turns)
    term.expect("/help for commands")
    say(term, "What is 17 * 23?")
    term.expect("→ multiply")
    term.expect("← multiply")
    term.expect("391")
    say(term, "/tools")
    term.expect("multiply  Multiply two numbers exactly.")
    term.expect("sqrt  Square root")
    say(term, "/no_think And twice that?")
    term.expect("step 1 · no thinking (/no_think in the conversation)")
    term.expect("782")
    say(term, "/thinking")
    term.expect("thinking: auto · /no_think in the conversation wins")
    say(term, "/thinking off")
    term.expect("thinking: off")
    say(term, "/frobnicate")
    term.expect("unknown command /frobnicate; the commands: /help, /tools, /thinking, /reset, /save, /exit")
    say(term, "/help")
    term.expect("/save [FILE]")
    term.expect("A line that starts with /think or /no_think is a message")
    say(term, "Tell me a long story.")
    term.expect("Once upon a time Once")
    term.type(CTRL_C)
    term.expect("stopped (what had finished is kept)")
    say(term, "/think Go on.")  # the session goes on; the switch beats the policy set above
    term.expect("step 1 · thinking (/think in the conversation)")
    term.expect("The end.")
    say(term, "/save talk.md")
    term.expect("saved to talk.md")
    term.expect("›")
    term.type("half a line")
    term.type(CTRL_C)  # clears the line
    term.type(CTRL_C)  # on an empty line: a hint
    term.expect("(Ctrl-C again or Ctrl-D to leave)")
    term.type(CTRL_C)
    term.expect("go on with: agentkit chat --resume")
    assert term.finish() == 0, term.seen

    (info,) = list_runs(tmp_path / "runs")
    saved = load_run(info.path)
    users = [m.content for m in saved.messages if m.role == "user"]
    assert users == [
        "What is 17 * 23?",
        "/no_think And twice that?",
        "Tell me a long story.",
        "/think Go on.",
    ]
    roles = [m.role for m in saved.messages]  # the story stopped: its user message stays, no answer
    assert roles == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
        "user",
        "user",
        "assistant",
    ]
    reasons = [r["decision"]["reason"] for r in saved.records if r["type"] == "step_started"]
    # The story's steps: policy off, and the earlier /no_think still holds.
    assert reasons == [
        "auto: first step of the user turn",
        "auto: continuing after tool results",
        "/no_think in the conversation",
        "/no_think in the conversation",
        "/think in the conversation",
    ]
    assert "run_interrupted" in [r["type"] for r in saved.records] and info.status == "answer"
    text = (tmp_path / "talk.md").read_text()
    assert "## User\n\n/no_think And twice that?" in text and text.rstrip().endswith("The end.")


def test_resume_goes_on_with_the_whole_conversation(tmp_path: Path) -> None:
    term = chat(tmp_path, [MULTIPLY, "17 × 23 = 391."])
    say(term, "What is 17 * 23?")
    term.expect("391")
    term.expect("›")
    term.type(CTRL_D)
    assert term.finish() == 0, term.seen
    (first,) = list_runs(tmp_path / "runs")

    term = chat(tmp_path, ["You asked about 17 × 23."], "--resume", first.run_id)
    term.expect(f"chat {first.run_id}: 1 turn(s) so far")
    say(term, "What did I ask?")
    term.expect("You asked about 17 × 23.")
    term.expect("›")
    term.type(CTRL_D)
    assert term.finish() == 0, term.seen
    (again,) = list_runs(tmp_path / "runs")
    saved = load_run(again.path)
    assert again.run_id == first.run_id and saved.turns == 2 and again.status == "answer"
    assert [m.role for m in saved.messages] == ["user", "assistant", "tool", "assistant", "user", "assistant"]
    assert read_transcript(again.path)[0]["config"]["chat"] is True


def test_thinking_set_with_the_command_is_restored_on_resume(tmp_path: Path) -> None:
    term = chat(tmp_path, ["Hello."], "--budget", "64")
    say(term, "Hi?")
    term.expect("Hello.")
    say(term, "/thinking on")
    term.expect("thinking: on")
    term.expect("›")
    term.type(CTRL_D)
    assert term.finish() == 0, term.seen
    (first,) = list_runs(tmp_path / "runs")

    term = chat(tmp_path, ["Again."], "--resume", first.run_id, "--budget", "64")
    say(term, "/thinking")
    term.expect("thinking: on")
    say(term, "Once more?")
    term.expect("Again.")
    term.expect("›")
    term.type(CTRL_D)
    assert term.finish() == 0, term.seen
    steps = [r for r in read_transcript(first.path) if r["type"] == "step_started"]
    assert steps[0]["decision"]["reason"].startswith("auto:")  # --think auto, the default
    assert steps[-1]["decision"] == {"think": True, "budget": 64, "reason": "policy: on"}  # with --budget


def test_a_chat_killed_mid_turn_finishes_that_turn_on_resume(tmp_path: Path) -> None:
    term = chat(tmp_path, [MULTIPLY, STORY])
    say(term, "What is 17 * 23?")
    term.expect("← multiply")
    term.expect("Once upon a time Once")
    term.proc.send_signal(signal.SIGKILL)
    term.finish()
    (killed,) = list_runs(tmp_path / "runs")
    assert killed.status == "killed"

    term = chat(tmp_path, ["It is 391."], "--resume", killed.run_id)
    term.expect("the last turn was cut off; going on with it")
    term.expect(f"resuming run {killed.run_id} at step 2")
    term.expect("It is 391.")
    term.expect("›")
    term.type("/exit\r")
    assert term.finish() == 0, term.seen
    records = read_transcript(killed.path)
    assert sum(r["type"] == "tool_call_finished" for r in records) == 1  # the call did not run again
    assert list_runs(tmp_path / "runs")[0].status == "answer"


def test_approval_is_asked_at_the_chat_prompt(tmp_path: Path) -> None:
    write = (
        '<tool_call>\n{"name": "write_file", "arguments": {"path": "a.txt", "content": "hi"}}\n</tool_call>'
    )
    term = chat(tmp_path, [write, "Written."], "--builtin", "files", "--workspace", str(tmp_path / "ws"))
    say(term, "Write a.txt.")
    term.expect("Allow it? [y]es / [n]o / [a]lways for this tool:")
    assert not (tmp_path / "ws" / "a.txt").exists()
    term.type("y\r")
    term.expect("Written.")
    term.expect("›")
    term.type(CTRL_D)
    assert term.finish() == 0, term.seen
    assert (tmp_path / "ws" / "a.txt").read_text() == "hi"


def test_ctrl_c_at_an_approval_question_stops_the_step_and_the_chat_goes_on(tmp_path: Path) -> None:
    write = (
        '<tool_call>\n{"name": "write_file", "arguments": {"path": "b.txt", "content": "no"}}\n</tool_call>'
    )
    term = chat(tmp_path, [write, "Hello."], "--builtin", "files", "--workspace", str(tmp_path / "ws"))
    say(term, "Write b.txt.")
    term.expect("Allow it?")
    term.type(CTRL_C)
    term.expect("stopped (what had finished is kept)")
    say(term, "Hi.")
    term.expect("Hello.")
    term.expect("›")
    term.type(CTRL_D)
    assert term.finish() == 0, term.seen
    assert not (tmp_path / "ws" / "b.txt").exists()
    (info,) = list_runs(tmp_path / "runs")
    assert [m.role for m in load_run(info.path).messages] == ["user", "user", "assistant"]
    resume = [sys.executable, "-m", "agentkit.cli", "runs", "resume", info.run_id]
    with_run = subprocess.run(
        [*resume, "--runs-dir", str(tmp_path / "runs")], capture_output=True, text=True, timeout=60
    )
    assert with_run.returncode == 2 and f"agentkit chat --resume {info.run_id}" in with_run.stderr


def test_the_soft_switch_reaches_the_rendered_prompt(tmp_path: Path) -> None:
    with FaultServer(calls=0).in_thread() as server:
        args = [
            sys.executable, "-m", "agentkit.cli", "chat", "--base-url", server.base_url,
            "--runs-dir", str(tmp_path / "runs"),
        ]  # fmt: skip
        env = {"PROMPT_TOOLKIT_NO_CPR": "1", "XDG_STATE_HOME": str(tmp_path / "state")}
        term = Chat(args, tmp_path, env)
        say(term, "How many r's in blueberries? /no_think")
        term.expect("step 1 · no thinking")
        say(term, "Really? /think")
        term.expect("step 1 · thinking")
        term.expect("›")
        term.type(CTRL_D)
        assert term.finish() == 0, term.seen
        first, second = (body["prompt"] for body in server.bodies("/completions"))
    assert first.endswith(
        "<|im_start|>user\nHow many r's in blueberries? /no_think<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )
    assert second.startswith(first.removesuffix("<think>\n\n</think>\n\n"))
    assert second.endswith("<|im_start|>user\nReally? /think<|im_end|>\n<|im_start|>assistant\n")
    assert os.path.isfile(tmp_path / "state" / "agentkit" / "chat_history")
    assert "Really? /think" in (tmp_path / "state" / "agentkit" / "chat_history").read_text()


def test_a_mistyped_command_gets_the_closest_one(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from agentkit.cli import app

    script = tmp_path / "script.json"
    script.write_text('["hello"]')
    result = CliRunner().invoke(
        app,
        ["chat", "--backend", "scripted", "--script", str(script), "--runs-dir", str(tmp_path / "runs")],
        input="/tols\n/nothink hi\n",
    )
    assert result.exit_code == 0, result.output
    assert "unknown command /tols; did you mean /tools?" in result.stderr
    assert "unknown command /nothink; did you mean /no_think?" in result.stderr
