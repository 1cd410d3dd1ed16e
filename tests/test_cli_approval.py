"""Approvals on the command line, answered through a real pseudo-terminal."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ARGUMENTS = '{"path": "hello.txt", "content": "hi there"}'
WRITE = f'<tool_call>\n{{"name": "write_file", "arguments": {ARGUMENTS}}}\n</tool_call>'


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    """A child process on a pty: read what it shows, type answers."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        self.master, slave = os.openpty()
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "TERM": "xterm", **(env or {})}
        self.proc = subprocess.Popen(
            args,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=env,
            close_fds=True,
            start_new_session=True,  # the pty becomes its controlling terminal: Ctrl-C is SIGINT
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} did not appear; the terminal shows:\n{self.seen}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"the program ended before {text!r}; it showed:\n{self.seen}")
                self.seen += ANSI.sub("", chunk.decode("utf-8", "replace"))

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self, timeout: float = 30) -> int:
        code = self.proc.wait(timeout=timeout)
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                break
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.seen += ANSI.sub("", chunk.decode("utf-8", "replace"))
        os.close(self.master)
        return code


def run_args(tmp_path: Path, turns: list[str], *extra: str) -> list[str]:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(turns))
    return [
        sys.executable, "-m", "agentkit.cli", "run", "Write a greeting.", "--backend", "scripted",
        "--script", str(script), "--builtin", "files", "--workspace", str(tmp_path / "ws"),
        "--runs-dir", str(tmp_path / "runs"), *extra,
    ]  # fmt: skip


@pytest.mark.parametrize(("answer", "written"), [("y", True), ("n", False)])
def test_a_write_waits_for_the_terminals_answer(tmp_path: Path, answer: str, written: bool) -> None:
    term = Terminal(run_args(tmp_path, [WRITE, "Done."]), tmp_path)
    term.expect("write_file wants to run:")
    term.expect("path: hello.txt")
    term.expect("content: hi there")
    term.expect("Allow it? [y]es / [n]o / [a]lways for this tool:")
    assert not (tmp_path / "ws" / "hello.txt").exists()  # nothing ran before the answer
    term.type(answer + "\n")
    assert term.finish() == 0, term.seen
    assert (tmp_path / "ws" / "hello.txt").exists() is written
    if written:
        assert "created hello.txt" in term.seen
    else:
        assert "the user did not allow this call to write_file" in term.seen


def test_always_approves_the_tool_for_the_rest_of_the_run(tmp_path: Path) -> None:
    again = WRITE.replace("hello.txt", "second.txt")
    term = Terminal(run_args(tmp_path, [WRITE, again, "Done."]), tmp_path)
    term.expect("Allow it?")
    term.type("a\n")
    assert term.finish() == 0, term.seen
    assert term.seen.count("Allow it?") == 1
    assert (tmp_path / "ws" / "second.txt").exists()


def test_an_answer_not_understood_is_asked_again_naming_the_answers(tmp_path: Path) -> None:
    term = Terminal(run_args(tmp_path, [WRITE, "Done."]), tmp_path)
    term.expect("Allow it? [y]es / [n]o / [a]lways for this tool:")
    term.type("sure\n")  # once taken for no
    term.expect("'sure' is not an answer here; type one of y (yes), n (no), a (always)")
    term.expect("Allow it?")
    term.type("yes\n")
    assert term.finish() == 0, term.seen
    assert (tmp_path / "ws" / "hello.txt").exists()


def test_yes_approves_without_asking_and_no_terminal_means_no(tmp_path: Path) -> None:
    done = subprocess.run(
        run_args(tmp_path, [WRITE, "Done."], "--yes"),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0 and (tmp_path / "ws" / "hello.txt").exists()
    (tmp_path / "ws" / "hello.txt").unlink()
    refused = subprocess.run(
        run_args(tmp_path, [WRITE, "Done."]), capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    assert refused.returncode == 0
    assert "write_file needs approval and there is no terminal to ask: pass --yes" in refused.stderr
    assert not (tmp_path / "ws" / "hello.txt").exists()


def test_deny_and_allow_flags(tmp_path: Path) -> None:
    denied = subprocess.run(
        run_args(tmp_path, [WRITE, "Done."], "--yes", "--deny", "write_*"), capture_output=True, text=True
    )
    assert "write_file is not allowed in this session" in denied.stderr
    assert not (tmp_path / "ws" / "hello.txt").exists()
    allowed = subprocess.run(
        run_args(tmp_path, [WRITE, "Done."], "--allow", "write_file"),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert allowed.returncode == 0 and (tmp_path / "ws" / "hello.txt").exists()


def call(name: str, **arguments: object) -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {json.dumps(arguments)}}}\n</tool_call>'


@pytest.fixture
def local_page(tmp_path: Path) -> Iterator[str]:
    """A page served on 127.0.0.1 (the fetch tool may reach it only when told to)."""
    import functools
    import http.server
    import threading

    site = tmp_path / "site"
    site.mkdir()
    (site / "page.html").write_text(
        "<html><head><title>Prices</title><script>track()</script></head>"
        "<body><h1>Fruit prices</h1><p>Apples cost 3 &euro; a kilo.</p></body></html>"
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/page.html"
    server.shutdown()


def test_a_scripted_run_writes_reads_runs_python_and_fetches_asking_before_risky_calls(
    tmp_path: Path, local_page: str
) -> None:
    turns = [
        call("write_file", path="data.txt", content="3\n4\n5\n"),
        call("read_file", path="data.txt"),
        call("run_python", code="total = sum(int(x) for x in open('data.txt').read().split())\ntotal * 2"),
        call("fetch_url", url=local_page),
        "The numbers add up to 12 (doubled: 24); apples cost 3 € a kilo.",
    ]
    args = run_args(tmp_path, turns, "--builtin", "python", "--builtin", "fetch", "--allow-private-fetch")
    term = Terminal(args, tmp_path)
    term.expect("write_file wants to run:")
    term.expect("Allow it?")
    term.type("y\n")
    term.expect("run_python wants to run:")
    term.expect("Allow it?")
    term.type("y\n")
    assert term.finish(timeout=60) == 0, term.seen
    assert term.seen.count("Allow it?") == 2  # reading and fetching did not ask
    assert "created data.txt" in term.seen
    assert "3\t3" not in term.seen and "data.txt (lines 1-3 of 3)" in term.seen
    assert "24" in term.seen
    # the start line names how the Python code is confined (CI has bubblewrap)
    assert "sandbox: auto: bubblewrap" in term.seen or "sandbox: auto, but none:" in term.seen
    assert (
        "# Fruit prices" in term.seen
        and "Apples cost 3 € a kilo." in term.seen
        and "track()" not in term.seen
    )
    assert "apples cost 3 € a kilo." in term.seen
    assert (tmp_path / "ws" / "data.txt").read_text() == "3\n4\n5\n"
