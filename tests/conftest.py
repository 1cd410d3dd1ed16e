"""Fixtures shared by all tests."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _runs_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Transcripts of test runs go to a temporary runs directory, never the user's; and no
    default MCP config of the user's reaches the tests' agents (tests of it set their own); nor
    do the user's stored OAuth tokens (the config folder is a fresh one)."""
    monkeypatch.setenv("AGENTKIT_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))
    monkeypatch.setenv("AGENTKIT_MCP_CONFIG", "")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
