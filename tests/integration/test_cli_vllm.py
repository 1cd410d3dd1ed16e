"""`agentkit serve` and `agentkit run` as processes, against a real vLLM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .conftest import VllmServer, free_port, processes_with
from .forcing import forced

AGENTKIT = [sys.executable, "-m", "agentkit.cli"]
TINY_ARGS = ["--enforce-eager", "--max-model-len", "2048", "--served-model-name", "tiny-qwen3"]


def _ctrl_c_heard() -> None:
    """In the child: Ctrl-C at its default, as at a terminal. A suite started in the background
    by a shell without job control inherits SIGINT ignored, and Python then never raises
    KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli_env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "VLLM_CPU_KVCACHE_SPACE": "1", "COLUMNS": "200"}


def run_forced(
    server: VllmServer, tokenizer: Any, answer: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """`agentkit run` against the server, the model forced to answer `answer` without thinking."""
    body = json.dumps(forced(answer, tokenizer))
    return subprocess.run(
        [
            *AGENTKIT,
            "run",
            "Say hello.",
            "--base-url",
            server.base_url,
            "--think",
            "off",
            "--extra-body",
            body,
            *extra,
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
    )


def test_agentkit_run_streams_a_forced_answer_from_the_server(
    vllm_server: VllmServer, tiny_tokenizer: Any
) -> None:
    proc = run_forced(vllm_server, tiny_tokenizer, "Hello from vLLM.")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Hello from vLLM."
    assert "step 1 · no thinking" in proc.stderr


def test_agentkit_run_json_events_from_the_server(vllm_server: VllmServer, tiny_tokenizer: Any) -> None:
    proc = run_forced(vllm_server, tiny_tokenizer, "Hi.", "--json")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    assert events[-1]["output"] == "Hi."
    assert events[-1]["usage"]["prompt_tokens"] > 0


def test_agentkit_serve_starts_answers_and_stops_on_ctrl_c(
    tiny_model_dir: Path, tmp_path: Path, report: Any
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [*AGENTKIT, "serve", "--model", str(tiny_model_dir), "--port", str(port),
         "--log", str(tmp_path / "serve.log"), "--", *TINY_ARGS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
        start_new_session=True,
        preexec_fn=_ctrl_c_heard,
    )  # fmt: skip
    try:
        started = time.monotonic()
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.strip() == f"http://127.0.0.1:{port}/v1", proc.stderr.read() if proc.stderr else ""
        report(
            "serve_start", f"agentkit serve: base URL printed {time.monotonic() - started:.1f} s after start"
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=10) as resp:
            assert json.load(resp)["data"][0]["id"] == "tiny-qwen3"
        assert processes_with(f"--port\0{port}\0")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        deadline = time.monotonic() + 10
        while processes_with(f"--port\0{port}\0") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert processes_with(f"--port\0{port}\0") == [], "vLLM processes outlived agentkit serve"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_agentkit_run_serve_starts_a_server_and_stops_it_after(
    tiny_model_dir: Path, tiny_tokenizer: Any
) -> None:
    port = free_port()
    body = json.dumps(forced("Served and done.", tiny_tokenizer))
    serve_args = [f"--serve-arg={a}" for a in TINY_ARGS]
    proc = subprocess.run(
        [*AGENTKIT, "run", "Hello?", "--serve", "--model", str(tiny_model_dir), "--base-url",
         f"http://127.0.0.1:{port}/v1", "--think", "off", "--extra-body", body, *serve_args],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Served and done."
    assert f"vLLM ready at http://127.0.0.1:{port}/v1" in proc.stderr
    assert processes_with(f"--port\0{port}\0") == []


def test_agentkit_run_serve_fails_within_seconds_without_weights(tmp_path: Path) -> None:
    pytest.importorskip("vllm")
    closed = free_port()
    env = {**cli_env(), "HF_ENDPOINT": f"http://127.0.0.1:{closed}", "HF_HUB_CACHE": str(tmp_path / "hub")}
    started = time.monotonic()
    proc = subprocess.run(
        [
            *AGENTKIT,
            "run",
            "hi",
            "--serve",
            "--model",
            "Qwen/Qwen3-4B",
            "--base-url",
            f"http://127.0.0.1:{free_port()}/v1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    took = time.monotonic() - started
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert "the weights of Qwen/Qwen3-4B are not on this machine" in last
    assert "hf download Qwen/Qwen3-4B" in last
    assert took < 15
