"""What a stdio server is started with, and how its start failures read (no server needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agentkit.mcp.config import ServerConfig
from agentkit.mcp.session import (
    PASSED_ENV,
    McpServerError,
    condense_npm_errors,
    connect_mode,
    not_found_hint,
    npm_prefix_hint,
    server_command,
    server_env,
)


def test_proxy_and_certificate_variables_are_passed_in_both_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "ssl_cert_file",
                 "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):  # fmt: skip
        assert name in PASSED_ENV
        monkeypatch.setenv(name, f"value of {name}")
    monkeypatch.setenv("AGENTKIT_TEST_SECRET", "x")
    env = server_env(ServerConfig(command="x"))
    assert (
        env["http_proxy"] == "value of http_proxy"
        and env["NODE_EXTRA_CA_CERTS"] == "value of NODE_EXTRA_CA_CERTS"
    )
    assert "AGENTKIT_TEST_SECRET" not in env


def test_inherit_env_and_the_configs_own_env_which_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTKIT_TEST_A", "a")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    everything = server_env(ServerConfig(command="x", inherit_env=True))
    assert everything["AGENTKIT_TEST_A"] == "a"
    listed = server_env(
        ServerConfig(
            command="x", inherit_env=["AGENTKIT_TEST_A", "AGENTKIT_TEST_UNSET"], env={"HTTPS_PROXY": ""}
        )
    )
    assert listed["AGENTKIT_TEST_A"] == "a" and "AGENTKIT_TEST_UNSET" not in listed
    assert listed["HTTPS_PROXY"] == ""  # `env` turns a passed variable off


@pytest.mark.parametrize(("command", "python"), [("python", True), ("python3", True), ("python3.9", False)])
def test_python_is_agentkits_own_interpreter(command: str, python: bool) -> None:
    assert (server_command(ServerConfig(command=command)) == sys.executable) is python


@pytest.mark.parametrize(
    ("command", "hint"),
    [
        ("uvx", "install uv, which provides it: https://docs.astral.sh/uv/"),
        ("/opt/bin/uv", "install uv: https://docs.astral.sh/uv/"),
        ("npx", "install Node.js, which provides it: https://nodejs.org/"),
        ("node", "install Node.js"),
        ("mcp-server-time", "`uvx mcp-server-time` or install it with `pip install mcp-server-time`; "
         "if an npm package, run it with `npx -y mcp-server-time`"),
        ("./server.py", "check the path (a relative one is read from the config file's folder)"),
    ],
)  # fmt: skip
def test_a_missing_command_says_what_to_install(command: str, hint: str) -> None:
    assert hint in not_found_hint(ServerConfig(command=command))


NPM_ENOENT = """\
npm error code ENOENT
npm error syscall lstat
npm error path /tmp/nonex-npm
npm error errno -2
npm error enoent ENOENT: no such file or directory, lstat '/tmp/nonex-npm'
npm error enoent This is related to npm not being able to find a file.
npm error enoent
npm error A complete log of this run can be found in: /root/.npm/_logs/2026-11-27T21_55_43_100Z-debug-0.log
""".splitlines()


@pytest.mark.parametrize(
    ("args", "package"),
    [
        (["--offline", "--prefix", "/tmp/nonex-npm", "mcp-server-filesystem", "."], "mcp-server-filesystem"),
        (["-y", "@modelcontextprotocol/server-memory"], "@modelcontextprotocol/server-memory"),
        (["--package", "pkg", "bin"], "pkg"),
        (["--package=pkg", "bin"], "pkg"),
    ],
)
def test_npm_errors_become_one_line_naming_the_package(args: list[str], package: str) -> None:
    (line,) = condense_npm_errors(NPM_ENOENT, args)
    assert line == (
        f"npm could not run the package {package!r} (npm error ENOENT: "
        "enoent ENOENT: no such file or directory, lstat '/tmp/nonex-npm')"
    )


def test_other_stderr_lines_are_kept_and_no_npm_lines_left_alone() -> None:
    assert condense_npm_errors(["a server line"], ["pkg"]) == ["a server line"]
    lines = condense_npm_errors(["before", "npm error code E404", "npm error 404 Not Found - GET x"], ["pkg"])
    assert lines == ["before", "npm could not run the package 'pkg' (npm error E404: 404 Not Found - GET x)"]


def test_a_command_not_on_path_is_found_beside_agentkits_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = tmp_path / "mcp-server-agentkit-test"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", "/nonexistent")
    assert server_command(ServerConfig(command="mcp-server-agentkit-test")) == str(program)
    assert server_command(ServerConfig(command="mcp-server-elsewhere")) == "mcp-server-elsewhere"
    monkeypatch.setenv("PATH", str(tmp_path))  # on PATH: started by its name, as written
    assert server_command(ServerConfig(command="mcp-server-agentkit-test")) == "mcp-server-agentkit-test"


def test_an_npx_prefix_without_the_install_says_what_to_install(tmp_path: Path) -> None:
    args = ["--offline", "--prefix", str(tmp_path / ".mcp-npm"), "mcp-server-filesystem", "."]
    assert npm_prefix_hint(args) == (
        f"{tmp_path / '.mcp-npm'} has no install of mcp-server-filesystem: run "
        f"`npm install --prefix {tmp_path / '.mcp-npm'} @modelcontextprotocol/server-filesystem`"
    )
    (tmp_path / ".mcp-npm" / "node_modules" / ".bin").mkdir(parents=True)
    (tmp_path / ".mcp-npm" / "node_modules" / ".bin" / "mcp-server-filesystem").touch()
    assert npm_prefix_hint(args) is None
    assert npm_prefix_hint(["-y", "pkg"]) is None


@pytest.mark.parametrize(
    ("protocol", "mode"),
    [
        ("auto", "auto"),
        ("legacy", "legacy"),
        ("2025-11-25", "legacy"),
        ("2025-03-26", "legacy"),
        ("2026-07-28", "2026-07-28"),
    ],
)
def test_the_protocol_key_chooses_the_sdks_connect_mode(protocol: str, mode: str) -> None:
    assert connect_mode(ServerConfig(command="x", protocol=protocol)) == mode
    assert connect_mode(ServerConfig(command="x")) == "auto"


def test_a_protocol_that_is_not_one_says_which_are() -> None:
    with pytest.raises(ValueError, match="unknown protocol 'old': use 'auto', 'legacy'"):
        ServerConfig(command="x", protocol="old")
    with pytest.raises(McpServerError, match="protocol '2031-01-01' is not one the MCP SDK speaks"):
        connect_mode(ServerConfig(command="x", protocol="2031-01-01"))
