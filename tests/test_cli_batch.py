"""`agentkit batch`: a tasks file over one or several servers, results on disk, a restart
that goes on, progress on stderr, exit codes, Ctrl-C; used as a person would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from agentkit.cli import app

from .fault_server import ANSWER, FaultServer

runner = CliRunner()

COUNTING_STEP_TOOL = '''
import pathlib
import time

from agentkit import tool


@tool
def step(n: int) -> str:
    """Do step n; the third call of all is slow."""
    count = pathlib.Path({count!r})
    calls = int(count.read_text() or 0) + 1 if count.exists() else 1
    count.write_text(str(calls))
    if calls == 3:
        time.sleep(5)
    return f"step {{n}} done"
'''


def tasks_file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def results_of(path: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in map(json.loads, path.read_text().splitlines())}


def test_a_batch_over_two_servers_writes_a_result_per_task_and_a_restart_skips_them(tmp_path: Path) -> None:
    tasks = tasks_file(
        tmp_path,
        "first task",
        '{"id": "b", "task": "second", "max_steps": 1}',
        '"third"',
        '{"id": "e", "task": " "}',
    )
    out = tmp_path / "out.jsonl"
    env = {"AGENTKIT_RUNS_DIR": str(tmp_path / "runs")}
    with FaultServer(calls=1).in_thread() as a, FaultServer(calls=1).in_thread() as b:
        argv = [
            "batch",
            str(tasks),
            "-o",
            str(out),
            "--base-url",
            a.base_url,
            "--base-url",
            b.base_url,
            "-c",
            "3",
        ]
        first = runner.invoke(app, argv, env=env)
        served = {len(a.bodies("/completions")) > 0, len(b.bodies("/completions")) > 0}
        again = runner.invoke(app, [*argv, "--json"], env=env)
    assert first.exit_code == 1, first.output  # one failed, one stopped at its step limit
    assert served == {True}  # both servers took runs
    results = results_of(out)
    assert len(results) == 4 and results["b"]["stop_reason"] == "max_steps"
    assert results["e"]["error_type"] == "ConfigError"
    answered = [r for r in results.values() if r["stop_reason"] == "answer"]
    assert [r["output"] for r in answered] == [ANSWER, ANSWER] and all(r["run_id"] for r in answered)
    assert first.stdout == ""  # the results are in the file; stderr has the progress
    lines = first.stderr.splitlines()
    assert sum(line.startswith("[") and "/4] " in line for line in lines) == 4  # a plain line per task
    assert "4 tasks: 2 answered, 1 stopped without an answer, 1 failed · ran 4 in" in first.stderr
    assert "✗ e: the task is empty" in first.stderr and "--retry-failed" in first.stderr
    assert again.exit_code == 1 and again.stdout == ""  # nothing run again: no result line printed
    assert "ran 0 in" in again.stderr and "4 done before" in again.stderr
    assert len(out.read_text().splitlines()) == 4


def test_every_task_answered_exits_0_and_json_prints_each_result(tmp_path: Path) -> None:
    tasks = tasks_file(tmp_path, "one", "two", "three")
    with FaultServer(calls=0).in_thread() as server:
        done = runner.invoke(
            app, ["batch", str(tasks), "--base-url", server.base_url, "--json"],
            env={"AGENTKIT_RUNS_DIR": str(tmp_path / "runs")},
        )  # fmt: skip
    assert done.exit_code == 0, done.output
    printed = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(r["task"] for r in printed) == ["one", "three", "two"]
    assert results_of(tmp_path / "tasks.results.jsonl").keys() == {r["id"] for r in printed}  # default -o


def test_a_bad_tasks_file_exits_2_naming_the_line(tmp_path: Path) -> None:
    tasks = tasks_file(tmp_path, "fine", '{"task": "x", "max_step": 2}')
    bad = runner.invoke(app, ["batch", str(tasks)])
    assert bad.exit_code == 2
    assert "tasks.jsonl, line 2: unknown key 'max_step'; did you mean 'max_steps'?" in bad.stderr
    dup = runner.invoke(
        app, ["batch", str(tasks_file(tmp_path, '{"id": 1, "task": "a"}', '{"id": "1", "task": "b"}'))]
    )
    assert dup.exit_code == 2 and "the same id '1'" in dup.stderr
    fine = tasks_file(tmp_path, "fine")
    same = runner.invoke(app, ["batch", str(fine), "-o", str(fine)])
    assert same.exit_code == 2 and "is the tasks file itself" in same.stderr


def test_ctrl_c_keeps_the_finished_results_and_the_same_command_goes_on(tmp_path: Path) -> None:
    count = tmp_path / "calls"
    tools = tmp_path / "tools.py"
    tools.write_text(COUNTING_STEP_TOOL.format(count=str(count)))
    tasks = tasks_file(tmp_path, "task one", "task two", "task three")
    out = tmp_path / "out.jsonl"
    root = str(Path(__file__).parents[1])
    env = {**os.environ, "AGENTKIT_RUNS_DIR": str(tmp_path / "runs"), "PYTHONPATH": root}
    with FaultServer(calls=1).in_thread() as server:
        argv = [sys.executable, "-m", "agentkit.cli", "batch", str(tasks), "-o", str(out), "-c", "1",
                "--base-url", server.base_url, "--tools", str(tools)]  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            deadline = time.monotonic() + 30
            while not (count.exists() and count.read_text() == "3") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert proc.poll() is None, proc.communicate()
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
        assert proc.returncode == 130, err
        assert "stopped by Ctrl-C: 2 of 3 tasks done" in err and "the same command goes on" in err
        assert len(results_of(out)) == 2
        again = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert again.returncode == 0, again.stderr
    assert sorted(r["task"] for r in results_of(out).values()) == ["task one", "task three", "task two"]
    # Neither the two finished tasks nor the call the stopped run had finished ran again:
    # that run went on from its last finished step.
    assert count.read_text() == "3"
    assert "1 taken up where it stopped" in again.stderr


def test_in_a_terminal_a_progress_bar_shows_the_counts_and_rates(tmp_path: Path) -> None:
    from .test_cli_approval import Terminal

    script = tmp_path / "script.json"
    script.write_text(json.dumps(["one", "two", "three"]))
    tasks = tasks_file(tmp_path, "a", "b", "c")
    terminal = Terminal(
        [sys.executable, "-m", "agentkit.cli", "batch", str(tasks), "--backend", "scripted", "--script",
         str(script), "--runs-dir", str(tmp_path / "runs"), "-c", "1"],
        tmp_path,
    )  # fmt: skip
    terminal.expect("3 tasks: 3 answered")
    assert terminal.finish() == 0
    bar = [line for line in terminal.seen.replace("\r", "\n").splitlines() if line.startswith("batch")][-1]
    assert "3/3" in bar and "0 failed · 0 running ·" in bar and "steps/s" in bar and "tok/s" in bar
    assert "ETA 0s" in bar
    assert "[1/3]" not in terminal.seen  # no plain lines in a terminal
