"""`agentkit runs view` as a person uses it: the address printed, the page served at it until
Ctrl-C, and bad input refused before anything listens."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from agentkit.cli import app

from .runs import answered_run

runner = CliRunner()


def _ctrl_c_heard() -> None:
    """A test suite started in the background passes SIGINT on ignored: give it back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def read_line(proc: subprocess.Popen[str], seconds: float) -> str:
    """The next line of the process's stdout, within `seconds`."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    assert ready, f"no line on stdout within {seconds:g} s"
    return proc.stdout.readline().strip()


async def test_it_prints_the_address_serves_the_runs_there_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    runs = Path(os.environ["AGENTKIT_RUNS_DIR"])
    info = await answered_run(runs)
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentkit.cli", "runs", "view", info.run_id[:5], "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        preexec_fn=_ctrl_c_heard,
    )
    try:
        url = read_line(proc, 30)
        assert url.startswith("http://127.0.0.1:") and "/?token=" in url
        assert url.endswith(f"#/run/{info.run_id}")  # the whole id, from the start given
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200 and b"viewer.js" in page.read()
        api = url.split("/?")[0] + "/api/runs?token=" + url.split("token=")[1].split("#")[0]
        with urllib.request.urlopen(api, timeout=10) as answer:
            assert info.run_id.encode() in answer.read()
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        _, err = proc.communicate(timeout=15)
        assert proc.returncode == 0 and "viewer stopped" in err and time.monotonic() - started < 10
        try:
            urllib.request.urlopen(api, timeout=2)
            raise AssertionError("the viewer still answers after Ctrl-C")
        except urllib.error.URLError:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def test_an_unknown_run_is_refused_before_anything_listens() -> None:
    result = runner.invoke(app, ["runs", "view", "nosuchrun", "--no-browser"])
    assert result.exit_code == 2
    assert "no run 'nosuchrun'" in result.output and "agentkit runs list" in result.output


def test_a_taken_port_is_refused_naming_the_fix() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["runs", "view", "--no-browser", "--port", str(port)])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "--port" in result.output
