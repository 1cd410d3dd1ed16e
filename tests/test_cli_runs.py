"""The command line's side of reliable runs: `agentkit runs list/show/resume`, exit codes and
advice per stop reason, Ctrl-C and SIGTERM, bad input, and retries, used as a person would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agentkit.cli import app
from agentkit.events import ServerStatus, StepStarted, ToolCallStarted
from agentkit.messages import ToolCall, UserMessage
from agentkit.result import STOP_REASONS
from agentkit.store import TranscriptWriter, load_run, read_transcript
from agentkit.thinking import ThinkingDecision

from .fault_server import ANSWER, FaultServer, Status

runner = CliRunner()

ADD_TOOL = '''
from agentkit import tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b
'''

STEP_TOOL = '''
from agentkit import tool


@tool
def step(n: int) -> str:
    """Do step n."""
    return f"step {n} done"
'''

SLOW_STEP_TOOL = '''
import pathlib
import time

from agentkit import tool


@tool
def step(n: int) -> str:
    """Do step n, slowly."""
    pathlib.Path({mark!r}).write_text("started")
    time.sleep(5)
    return f"step {{n}} done"
'''

SLOW_ASYNC_STEP_TOOL = '''
import asyncio
import pathlib

from agentkit import tool


@tool
async def step(n: int) -> str:
    """Do step n, slowly."""
    pathlib.Path({mark!r}).write_text("started")
    await asyncio.sleep(30)  # cancelled long before
    return f"step {{n}} done"
'''

THINKING = "Add them.\nThen answer."
UNREADABLE = "<tool_call>\nthis is not JSON at all\n</tool_call>"


def add_call(a: int, b: int) -> str:
    return f'<tool_call>\n{{"name": "add", "arguments": {{"a": {a}, "b": {b}}}}}\n</tool_call>'


ADDITION = [f"<think>\n{THINKING}\n</think>\n\nLet me add them.\n{add_call(2, 40)}", "The answer is 42."]


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables and help lay out for 120 columns, whatever the terminal running the tests."""
    monkeypatch.setenv("COLUMNS", "120")


@pytest.fixture
def runs() -> Path:
    """The runs directory of this test (conftest points AGENTKIT_RUNS_DIR at a fresh one)."""
    return Path(os.environ["AGENTKIT_RUNS_DIR"])


@pytest.fixture
def add_tools(tmp_path: Path) -> Path:
    path = tmp_path / "add_tools.py"
    path.write_text(ADD_TOOL)
    return path


@pytest.fixture
def step_tools(tmp_path: Path) -> Path:
    path = tmp_path / "step_tools.py"
    path.write_text(STEP_TOOL)
    return path


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def run_scripted(
    tmp_path: Path, tools: Path, turns: list[str], *options: str, task: str = "What is 2+40?"
) -> Result:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(turns))
    return invoke(
        "run", task, "--backend", "scripted", "--script", str(script), "--tools", str(tools), *options
    )


def only_transcript(runs: Path) -> tuple[Path, str]:
    """The one transcript in `runs`, and its run's id."""
    (path,) = runs.glob("*.jsonl")
    return path, path.stem.rsplit("-", 1)[-1]


def assert_names_transcript_and_resume(line: str, runs: Path) -> None:
    path, run_id = only_transcript(runs)
    assert f" · transcript: {path}" in line, line
    assert f"agentkit runs resume {run_id}" in line, line


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def cli_env(runs: Path) -> dict[str, str]:
    return {**os.environ, "AGENTKIT_RUNS_DIR": str(runs), "NO_COLOR": "1"}


def agentkit(*args: str | bytes, runs: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`agentkit ARGS` in a process of its own (bounded: 60 s)."""
    return subprocess.run(
        [sys.executable, "-m", "agentkit.cli", *args],
        input=stdin, capture_output=True, text=True, encoding="utf-8", env=cli_env(runs), timeout=60,
    )  # fmt: skip


def wait_until(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {seconds} s")
        time.sleep(0.02)


# -- runs list


def test_runs_list_shows_a_run_with_its_id_status_steps_tokens_and_task(step_tools: Path) -> None:
    with FaultServer(calls=1).in_thread() as server:
        done = invoke("run", "Do one step.", "--base-url", server.base_url, "--tools", str(step_tools))
    assert done.exit_code == 0, done.output
    listed = invoke("runs", "list")
    assert listed.exit_code == 0, listed.output
    (row,) = [json.loads(line) for line in invoke("runs", "list", "--json").stdout.splitlines()]
    assert row["status"] == "answer" and row["steps"] == 2 and row["tokens"] > 0
    header, line = listed.stdout.strip().splitlines()
    assert header.split() == ["id", "started", "status", "steps", "tokens", "task"]
    assert line.split()[0] == row["id"]
    assert line.split()[3:] == ["answer", "2", f"{row['tokens']:,}", "Do", "one", "step."]


def test_runs_list_json_prints_one_object_per_line_latest_last(
    tmp_path: Path, add_tools: Path, runs: Path
) -> None:
    for task in ("first task", "second task"):
        assert run_scripted(tmp_path, add_tools, ADDITION, task=task).exit_code == 0
    listed = invoke("runs", "list", "--json")
    assert listed.exit_code == 0
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["task"] for r in rows] == ["first task", "second task"]
    assert set(rows[0]) == {"id", "started", "status", "steps", "tokens", "task", "path"}
    assert {Path(r["path"]) for r in rows} == set(runs.glob("*.jsonl"))
    latest = [
        json.loads(line) for line in invoke("runs", "list", "--json", "--limit", "1").stdout.splitlines()
    ]
    assert latest == rows[-1:]


def test_runs_list_of_an_empty_runs_dir_says_so(runs: Path) -> None:
    listed = invoke("runs", "list")
    assert listed.exit_code == 0
    assert listed.stdout == "" and listed.stderr.strip() == f"no runs in {runs}"
    assert invoke("runs", "list", "--json").stdout == ""


# -- runs show


def normalized(text: str) -> list[str]:
    """Lines with durations (`0.10s`) as `Ts` and finish reasons as `F`."""
    lines = [re.sub(r"\d+\.\d\ds", "Ts", line) for line in text.splitlines()]
    return [re.sub(r"(tokens · )\w+$", r"\1F", line) for line in lines]


def test_runs_show_prints_the_steps_in_reading_order(tmp_path: Path, add_tools: Path, runs: Path) -> None:
    assert run_scripted(tmp_path, add_tools, ADDITION).exit_code == 0
    _, run_id = only_transcript(runs)
    shown = invoke("runs", "show", run_id)
    assert shown.exit_code == 0, shown.output
    lines = normalized(shown.stdout)
    assert lines[0].startswith(f"run {run_id} · answer · started ")
    assert lines[1:] == [
        "scripted",
        "task: What is 2+40?",
        "",
        "● step 1 · thinking (auto: first step of the user turn)",
        f"Add them. … ({len(THINKING)} characters; --thinking shows all)",
        "Let me add them.",
        '→ add {"a": 2, "b": 40}',
        "← add Ts 42",
        "  Ts · 0+0 tokens · F",
        "",
        "● step 2 · no thinking (auto: continuing after tool results)",
        "The answer is 42.",
        "  Ts · 0+0 tokens · F",
        "",
        "answer after 2 step(s)",
    ]


def test_runs_show_shows_a_call_started_in_a_turn_that_never_ended(runs: Path) -> None:
    """A stream interrupted after a call began to run, before the model's turn ended: the
    transcript has the call's start and no turn; `runs show` still names the call."""
    writer = TranscriptWriter(runs, "cut0ff000000")
    writer.begin("cut0ff000000", "Do one step.", [UserMessage("Do one step.")], {"backend": "completions"})
    writer.write(StepStarted(1, ThinkingDecision(True, reason="auto: first step of the user turn")))
    writer.write(ToolCallStarted(1, ToolCall("step", {"n": 1}, "call-1")))
    writer.interrupted("SIGTERM")
    writer.close()
    shown = invoke("runs", "show", "cut0ff000000")
    assert shown.exit_code == 0, shown.output
    assert normalized(shown.stdout)[3:] == [
        "",
        "● step 1 · thinking (auto: first step of the user turn)",
        '→ step {"n": 1}',
        "✗ never finished (the run stopped while it ran)",
        "",
        "interrupted (SIGTERM)",
        "go on with: agentkit runs resume cut0ff000000",
    ]


OLD_SERVER_STATUS = [
    {"time": 1795834076.465, "type": "server_status", "name": "time", "target": "uvx mcp-server-time",
     "ok": True, "tools": ["time__now"], "seconds": 0.4, "error": None},
    {"time": 1795834076.466, "type": "server_status", "name": "gone", "target": "/nonexistent/server",
     "ok": False, "tools": [], "seconds": 0.0, "error": "command not found: /nonexistent/server"},
]  # fmt: skip
"""`server_status` records as transcripts written before `ServerReport` became `ServerStatus`
hold them."""


def test_a_transcripts_server_status_records_read_as_before(runs: Path) -> None:
    writer = TranscriptWriter(runs, "5e7e75000000")
    writer.begin(
        "5e7e75000000", "Tell the time.", [UserMessage("Tell the time.")], {"backend": "completions"}
    )
    writer.write(ServerStatus("time", "uvx mcp-server-time", True, ("time__now",), 0.4, None))
    writer.write(
        ServerStatus("gone", "/nonexistent/server", False, error="command not found: /nonexistent/server")
    )
    writer.interrupted("SIGTERM")
    writer.close()
    path = writer.path
    records = read_transcript(path)
    written = [r | {"time": 0} for r in records if r["type"] == "server_status"]
    assert written == [r | {"time": 0} for r in OLD_SERVER_STATUS]
    # a transcript of before, its records written as they were then, loads and shows the same
    old = runs / "01d000000000.jsonl"
    lines = path.read_text().splitlines()
    old.write_text("\n".join([lines[0], *(json.dumps(r) for r in OLD_SERVER_STATUS), lines[-1]]) + "\n")
    assert load_run(old).messages == load_run(path).messages
    shown = [
        invoke("runs", "show", run_id).stdout.splitlines()[3:] for run_id in ("5e7e75000000", "01d000000000")
    ]
    assert shown[0] == shown[1]
    assert shown[0][:2] == [
        "MCP server time: ready",
        "MCP server gone: failed: command not found: /nonexistent/server",
    ]


def test_runs_show_thinking_shows_the_whole_thinking(tmp_path: Path, add_tools: Path, runs: Path) -> None:
    assert run_scripted(tmp_path, add_tools, ADDITION).exit_code == 0
    shown = invoke("runs", "show", only_transcript(runs)[1], "--thinking")
    assert shown.exit_code == 0
    assert f"\n{THINKING}\nLet me add them.\n" in shown.stdout
    assert "--thinking shows all" not in shown.stdout


def test_runs_show_json_prints_the_transcript_records(tmp_path: Path, add_tools: Path, runs: Path) -> None:
    assert run_scripted(tmp_path, add_tools, ADDITION).exit_code == 0
    path, run_id = only_transcript(runs)
    shown = invoke("runs", "show", run_id, "--json")
    assert shown.exit_code == 0
    records = [json.loads(line) for line in shown.stdout.splitlines()]
    assert records == read_transcript(path)
    assert records[0]["type"] == "run" and records[-1]["type"] == "run_finished"


def test_runs_show_accepts_a_unique_start_of_the_id(tmp_path: Path, add_tools: Path, runs: Path) -> None:
    assert run_scripted(tmp_path, add_tools, ADDITION).exit_code == 0
    _, run_id = only_transcript(runs)
    shown = invoke("runs", "show", run_id[:4])
    assert shown.exit_code == 0 and shown.stdout.startswith(f"run {run_id} · answer")


def test_runs_show_of_an_unknown_id_exits_2_naming_runs_list(runs: Path) -> None:
    shown = invoke("runs", "show", "nosuchrun")
    assert shown.exit_code == 2
    assert shown.stderr.strip().startswith(
        f"agentkit: no run 'nosuchrun' in {runs}; `agentkit runs list` shows"
    )


# -- Ctrl-C and SIGTERM


@pytest.mark.parametrize(
    ("signum", "word", "code", "tool_source"),
    [
        pytest.param(signal.SIGTERM, "SIGTERM", 143, SLOW_STEP_TOOL, id="SIGTERM-function-tool"),
        pytest.param(signal.SIGINT, "Ctrl-C", 130, SLOW_ASYNC_STEP_TOOL, id="SIGINT-async-tool"),
    ],
)
def test_a_signal_during_a_tool_call_is_recorded_and_the_run_resumes(
    tmp_path: Path, signum: signal.Signals, word: str, code: int, tool_source: str
) -> None:
    mark = tmp_path / "started"
    tools = tmp_path / "slow_tools.py"
    tools.write_text(tool_source.format(mark=str(mark)))
    runs = tmp_path / "runs"
    with FaultServer(calls=1).in_thread() as server:
        argv = [sys.executable, "-m", "agentkit.cli", "run", "Do one step.", "--base-url", server.base_url,
                "--tools", str(tools)]  # fmt: skip
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(runs)
        )
        try:
            wait_until(lambda: mark.exists() or proc.poll() is not None, 30)
            assert proc.poll() is None, proc.communicate()
            sent, since = time.time(), time.monotonic()
            proc.send_signal(signum)
            out, err = proc.communicate(timeout=30)
            took = time.monotonic() - since
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
        assert proc.returncode == code, err
        assert out == ""
        last = last_line(err)
        assert last.startswith(f"agentkit: stopped by {word} · "), last
        assert_names_transcript_and_resume(last, runs)
        path, run_id = only_transcript(runs)
        records = read_transcript(path)
        assert records[-1]["type"] == "run_interrupted" and records[-1]["reason"] == signum.name
        assert records[-1]["time"] - sent < 3  # at once, not when the tool is done
        assert took < 4, f"exited {took:.1f} s after {signum.name}"  # the tool sleeps 5 s: not waited for

        shown = invoke("runs", "show", run_id, "--runs-dir", str(runs))
        assert shown.exit_code == 0
        assert shown.stdout.startswith(f"run {run_id} · interrupted · ")
        assert '→ step {"n": 1}\n✗ never finished (the run stopped while it ran)\n' in shown.stdout
        assert shown.stdout.endswith(
            f"\ninterrupted ({signum.name})\ngo on with: agentkit runs resume {run_id}\n"
        )

        mark.unlink()
        resumed = agentkit("runs", "resume", run_id, runs=runs)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == ANSWER
    assert not mark.exists()  # the interrupted call did not run again
    (answer,) = [r["result"] for r in read_transcript(path) if r["type"] == "tool_call_finished"]
    assert answer["is_error"] and "this call to step was interrupted" in answer["content"]
    assert "✗ step" in resumed.stderr and "was interrupted" in resumed.stderr


# -- stop reasons


@pytest.mark.parametrize(
    ("reason", "code", "turns", "options", "advice"),
    [
        pytest.param(
            "max_steps",
            3,
            [add_call(n, 1) for n in range(5)],
            ["--max-steps", "2"],
            "agentkit: stopped after 2 steps without an answer. If the model was getting somewhere, go on "
            "with more steps: agentkit runs resume {run_id} --max-steps 12;",
            id="max_steps",
        ),
        pytest.param(
            "repetition",
            6,
            [add_call(1, 1)] * 8,
            [],
            "agentkit: stopped: the model called add with the same arguments again and again and got the "
            "same result each time; it is stuck.",
            id="repetition",
        ),
        pytest.param(
            "malformed_output",
            7,
            [UNREADABLE] * 5,
            [],
            "agentkit: stopped: the model wrote tool calls that could not be read, 3 steps running. "
            "Try --think on or a larger model.",
            id="malformed_output",
        ),
    ],
)
def test_a_stop_reason_exits_with_its_code_and_one_line_of_advice(
    tmp_path: Path,
    add_tools: Path,
    runs: Path,
    reason: str,
    code: int,
    turns: list[str],
    options: list[str],
    advice: str,
) -> None:
    result = run_scripted(tmp_path, add_tools, turns, *options)
    assert result.exit_code == STOP_REASONS[reason][0] == code
    _, run_id = only_transcript(runs)
    last = last_line(result.stderr)
    assert last.startswith(advice.format(run_id=run_id)), last
    assert_names_transcript_and_resume(last, runs)
    assert [line for line in result.stderr.splitlines() if line.startswith("agentkit:")] == [last]
    (row,) = [json.loads(line) for line in invoke("runs", "list", "--json").stdout.splitlines()]
    assert row["status"] == reason


def test_the_runs_token_limit_exits_4_and_a_transcript_from_before_its_rename_reads_the_same(
    step_tools: Path, runs: Path
) -> None:
    with FaultServer(calls=3).in_thread() as server:
        stopped = invoke("run", "Do steps.", "--base-url", server.base_url, "--tools", str(step_tools),
                         "--max-run-tokens", "1")  # fmt: skip
        assert stopped.exit_code == STOP_REASONS["max_run_tokens"][0] == 4, stopped.output
        path, run_id = only_transcript(runs)
        assert last_line(stopped.stderr).startswith(
            "agentkit: stopped at the run's token limit (1 token) without an answer; go on with a larger "
            f"one: agentkit runs resume {run_id} --max-run-tokens 2"
        )
        lines = path.read_text().splitlines()
        assert '"stop_reason": "max_run_tokens"' in lines[-1]
        old = lines[-1].replace('"max_run_tokens"', '"max_tokens"')  # as agentkit wrote it before
        path.write_text("\n".join([*lines[:-1], old]) + "\n")

        (row,) = [json.loads(line) for line in invoke("runs", "list", "--json").stdout.splitlines()]
        assert row["status"] == "max_run_tokens"
        shown = invoke("runs", "show", run_id)
        assert shown.exit_code == 0 and "max_run_tokens after 1 step(s)" in shown.stdout, shown.stdout
        resumed = invoke("runs", "resume", run_id, "--base-url", server.base_url)
    assert resumed.exit_code == 4, resumed.output  # the limit holds for the whole run, resumed too
    assert '"stop_reason": "max_run_tokens"' in path.read_text().splitlines()[-1]


def test_the_time_limit_exits_5_advising_a_resume_with_a_longer_limit(tmp_path: Path, runs: Path) -> None:
    tools = tmp_path / "slow_tools.py"
    tools.write_text(SLOW_ASYNC_STEP_TOOL.format(mark=str(tmp_path / "started")))
    step = '<tool_call>\n{"name": "step", "arguments": {"n": 1}}\n</tool_call>'
    result = run_scripted(tmp_path, tools, [step, "Done."], "--timeout", "0.5")
    assert result.exit_code == STOP_REASONS["timeout"][0] == 5
    _, run_id = only_transcript(runs)
    last = last_line(result.stderr)
    assert last.startswith(
        "agentkit: stopped at the time limit (0.5 s) without an answer; go on with: "
        f"agentkit runs resume {run_id} --timeout 1 · transcript: "
    ), last
    assert_names_transcript_and_resume(last, runs)


def test_a_server_refusing_the_request_exits_9_naming_transcript_and_resume(runs: Path) -> None:
    with FaultServer(plan=[Status(400)]).in_thread() as server:
        result = invoke("run", "hi", "--base-url", server.base_url, "--retries", "1")
    assert result.exit_code == 9
    last = last_line(result.stderr)
    assert last.startswith(f"agentkit: the server at {server.base_url}/completions answered HTTP 400"), last
    assert_names_transcript_and_resume(last, runs)


# -- bad input


@pytest.mark.parametrize("task", ["", "   "])
def test_an_empty_task_exits_2(task: str, runs: Path) -> None:
    result = invoke("run", task, "--backend", "scripted", "--script", "unused.json")
    assert result.exit_code == 2
    assert result.stderr.strip() == "agentkit: the task is empty; say what the agent should do"
    assert not list(runs.glob("*.jsonl"))


def test_a_dash_reads_the_task_from_stdin(tmp_path: Path, add_tools: Path, runs: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(ADDITION))
    proc = agentkit("run", "-", "--backend", "scripted", "--script", str(script), "--tools", str(add_tools),
                    runs=runs, stdin="What is 2+40, from stdin?\n")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith("The answer is 42.\n")
    path, _ = only_transcript(runs)
    assert read_transcript(path)[0]["task"].strip() == "What is 2+40, from stdin?"


def test_a_utf8_task_file_is_the_task(tmp_path: Path, add_tools: Path, runs: Path) -> None:
    task = tmp_path / "task.txt"
    task.write_text("Café ☕: what is 2+40?\n", encoding="utf-8")
    script = tmp_path / "script.json"
    script.write_text(json.dumps(ADDITION))
    result = invoke("run", "--task-file", str(task), "--backend", "scripted", "--script", str(script),
                    "--tools", str(add_tools))  # fmt: skip
    assert result.exit_code == 0, result.output
    path, _ = only_transcript(runs)
    assert read_transcript(path)[0]["task"] == "Café ☕: what is 2+40?\n"


def test_a_latin1_task_file_exits_2_naming_the_byte(tmp_path: Path, runs: Path) -> None:
    task = tmp_path / "latin1.txt"
    task.write_bytes("café au lait".encode("latin-1"))
    result = invoke("run", "--task-file", str(task))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"agentkit: --task-file {task} is not UTF-8 text (byte 4 is 0xe9); convert it first (iconv -t UTF-8)"
    )
    assert not list(runs.glob("*.jsonl"))


def test_a_base_url_without_a_scheme_exits_2_suggesting_http(runs: Path) -> None:
    result = invoke("run", "hi", "--base-url", "127.0.0.1:8000/v1")
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert message.startswith("agentkit: the base URL '127.0.0.1:8000/v1' has no http:// or https:// scheme")
    assert "did you mean --base-url http://127.0.0.1:8000/v1?" in message
    assert not list(runs.glob("*.jsonl"))


def test_a_401_names_the_api_key_option_and_variable(monkeypatch: pytest.MonkeyPatch, runs: Path) -> None:
    monkeypatch.delenv("AGENTKIT_API_KEY", raising=False)
    with FaultServer(plan=[Status(401)]).in_thread() as server:
        result = invoke("run", "hi", "--base-url", server.base_url)
    assert result.exit_code == 9
    last = last_line(result.stderr)
    assert "answered HTTP 401" in last and "pass --api-key KEY or set AGENTKIT_API_KEY" in last, last
    assert_names_transcript_and_resume(last, runs)


def test_a_task_argument_that_is_not_utf8_exits_2_in_one_line(runs: Path) -> None:
    proc = agentkit("run", b"caf\xe9", "--backend", "scripted", "--script", "unused.json", runs=runs)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "agentkit: the task is not valid UTF-8 text: character 4 is the byte 0xe9, which is not UTF-8; "
        "it may come from a file in another encoding: convert it to UTF-8 first (iconv -t UTF-8)"
    ]
    assert not list(runs.glob("*.jsonl"))


# -- retries


def test_a_retried_503_shows_one_dimmed_line_and_the_run_answers(
    monkeypatch: pytest.MonkeyPatch, step_tools: Path
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    with FaultServer(plan=[Status(503)]).in_thread() as server:
        result = invoke("run", "Do one step.", "--base-url", server.base_url, "--tools", str(step_tools),
                        "--retries", "3", "--retry-time", "10")  # fmt: skip
    assert result.exit_code == 0, result.output
    # Forced colour makes stdout a terminal: the answer is drawn as Markdown (cursor codes, padding).
    last_drawn = result.stdout.rsplit("\x1b[2K", 1)[-1]
    assert re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", last_drawn).strip() == ANSWER
    (retry,) = [line for line in result.stderr.splitlines() if "↻" in line]
    assert retry.startswith("\x1b[2m↻ ")  # dimmed
    plain = re.sub(r"\x1b\[[0-9;]*m", "", retry)
    found = re.fullmatch(
        rf"↻ the server at {re.escape(server.base_url)}/completions answered HTTP 503: Service Unavailable "
        r"· retrying in (\d\.\d)s \(attempt 2\)",
        plain,
    )
    assert found, plain
    assert float(found[1]) <= 0.5  # full jitter: the first wait is drawn from [0, 0.5 s]


# -- runs resume


def test_resume_of_a_run_stopped_at_max_steps_with_more_steps_answers(
    tmp_path: Path, add_tools: Path, runs: Path
) -> None:
    turns = [add_call(n, 1) for n in range(3)] + ["All added."]
    assert run_scripted(tmp_path, add_tools, turns, "--max-steps", "2").exit_code == 3
    _, run_id = only_transcript(runs)
    resumed = invoke("runs", "resume", run_id, "--max-steps", "10")
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stdout.strip() == "All added."
    assert resumed.stderr.startswith(f"resuming run {run_id} at step 3\n")
    (row,) = [json.loads(line) for line in invoke("runs", "list", "--json").stdout.splitlines()]
    assert row["id"] == run_id and row["status"] == "answer"


def test_resume_of_an_answered_run_exits_2_saying_it_answered(
    tmp_path: Path, add_tools: Path, runs: Path
) -> None:
    assert run_scripted(tmp_path, add_tools, ADDITION).exit_code == 0
    _, run_id = only_transcript(runs)
    resumed = invoke("runs", "resume", run_id)
    assert resumed.exit_code == 2
    assert resumed.stderr.strip() == (
        f"agentkit: run {run_id} already answered; `agentkit runs show {run_id}` shows it, and "
        "`agentkit run` starts a new task"
    )


# -- help (tests/test_cli.py checks that --help works on run, serve and mcp)


def test_run_help_names_the_limits_the_runs_dir_and_the_exit_codes() -> None:
    result = invoke("run", "--help")
    assert result.exit_code == 0
    for option in ("--timeout", "--connect-timeout", "--idle-timeout", "--retries", "--retry-time",
                   "--context-window", "--runs-dir"):  # fmt: skip
        assert option in result.stdout
    assert "Exit codes: 0 answered · 2 bad input · 3 step limit" in result.stdout
    assert "(no limit)" in result.stdout  # a default in words, not eaten as markup


@pytest.mark.parametrize(
    ("command", "shows"),
    [
        (["runs"], ["list", "show", "resume"]),
        (["runs", "list"], ["--json", "--limit", "--runs-dir"]),
        (["runs", "show"], ["--thinking", "--full", "--json"]),
        (["runs", "resume"], ["--max-steps", "--base-url", "--api-key", "--timeout", "--yes", "--json"]),
    ],
)
def test_help_of_the_runs_commands(command: list[str], shows: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.stdout
    for word in shows:
        assert word in result.stdout


def test_an_answer_cut_off_at_the_per_call_token_cap_is_flagged(step_tools: Path, runs: Path) -> None:
    with FaultServer(calls=3).in_thread() as server:
        cut = invoke("run", "Do steps.", "--base-url", server.base_url, "--tools", str(step_tools),
                     "--max-tokens", "5")  # fmt: skip
    assert cut.exit_code == 0, cut.output
    assert "the answer was cut off: its model call reached the per-call token cap" in cut.stderr
    with FaultServer(calls=1).in_thread() as server:
        whole = invoke("run", "Do steps.", "--base-url", server.base_url, "--tools", str(step_tools))
    assert whole.exit_code == 0 and "cut off" not in whole.stderr, whole.output


def test_runs_list_names_the_files_it_cannot_read_instead_of_losing_them_silently(
    tmp_path: Path, add_tools: Path, runs: Path
) -> None:
    assert run_scripted(tmp_path, add_tools, ADDITION, task="a good run").exit_code == 0
    (runs / "20260101-000000-cut.jsonl").write_text('{"type": "run", "run_id": "cu')
    (runs / "20260101-000001-binary.jsonl").write_bytes(b"\x00\xff\xfe binary")
    (runs / "results.jsonl").write_text('{"id": 1, "output": "42"}\n')  # JSON, not a run: not a fault
    (runs / "20260101-000002-new.jsonl").write_text("")  # a run just starting
    listed = invoke("runs", "list")
    assert listed.exit_code == 0
    assert "a good run" in listed.stdout
    note = " ".join(listed.stderr.split())
    assert note.startswith(f"2 file(s) in {runs.resolve()} are not transcripts agentkit can read")
    assert note.endswith("left out: 20260101-000000-cut.jsonl, 20260101-000001-binary.jsonl")
