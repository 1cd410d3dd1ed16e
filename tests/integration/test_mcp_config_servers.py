"""MCP configs meeting real servers: the environment a stdio server gets, `python` and
relative paths resolved, and what a person reads when a command or a server is missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from agentkit.mcp.config import McpConfig, ServerConfig, load_mcp_config
from agentkit.mcp.toolset import McpToolset
from agentkit.tools.tool import ToolContext

from .conftest import free_port

ENV_SERVER = '''
import json, os
from mcp.server.mcpserver import MCPServer

server = MCPServer("env", log_level="WARNING")


@server.tool()
def environment() -> str:
    """The server's environment and working directory, as JSON."""
    return json.dumps({"env": dict(os.environ), "cwd": os.getcwd()})


server.run()
'''

PASSED = {
    "HTTPS_PROXY": "http://127.0.0.1:3128",
    "https_proxy": "http://127.0.0.1:3128",
    "NO_PROXY": "localhost",
    "SSL_CERT_FILE": "/etc/ssl/agentkit-test.pem",
    "REQUESTS_CA_BUNDLE": "/etc/ssl/agentkit-test.pem",
    "NODE_EXTRA_CA_CERTS": "/etc/ssl/agentkit-test.pem",
}


async def server_environment(config: McpConfig) -> dict[str, object]:
    toolset = McpToolset(config)
    try:
        (status,) = await toolset.start()
        assert status.ok, status.error
        (tool,) = toolset.tools()
        result = await tool.call({}, ToolContext())
        assert not result.is_error, result.content
        return dict(json.loads(str(result.content)))
    finally:
        await toolset.close()


@pytest.fixture
def env_server(tmp_path: Path) -> Path:
    path = tmp_path / "env_server.py"
    path.write_text(ENV_SERVER)
    return path


async def test_stdio_server_gets_proxy_and_certificate_variables_not_the_rest(
    env_server: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in PASSED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AGENTKIT_TEST_PRIVATE", "kept from the server")
    config = McpConfig(servers={"env": ServerConfig(command=sys.executable, args=[str(env_server)])})
    env = server_environment_env(await server_environment(config))
    assert {name: env.get(name) for name in PASSED} == PASSED
    assert "AGENTKIT_TEST_PRIVATE" not in env
    assert "PATH" in env  # the SDK's safe set still comes


def server_environment_env(report: dict[str, object]) -> dict[str, str]:
    env = report["env"]
    assert isinstance(env, dict)
    return env


@pytest.mark.parametrize(
    ("inherit", "expected"),
    [(True, {"AGENTKIT_TEST_A", "AGENTKIT_TEST_B"}), (["AGENTKIT_TEST_B"], {"AGENTKIT_TEST_B"})],
)
async def test_inherit_env_passes_everything_or_the_names_listed(
    env_server: Path, monkeypatch: pytest.MonkeyPatch, inherit: bool | list[str], expected: set[str]
) -> None:
    monkeypatch.setenv("AGENTKIT_TEST_A", "a")
    monkeypatch.setenv("AGENTKIT_TEST_B", "b")
    server = ServerConfig(
        command=sys.executable,
        args=[str(env_server)],
        inherit_env=inherit,
        env={"AGENTKIT_TEST_C": SecretStr("c")},
    )
    env = server_environment_env(await server_environment(McpConfig(servers={"env": server})))
    assert {name for name in env if name.startswith("AGENTKIT_TEST_")} == expected | {"AGENTKIT_TEST_C"}


async def test_python_and_relative_paths_work_from_any_folder(
    env_server: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = env_server.parent
    (folder / "data").mkdir()
    config_file = folder / "mcp.json"
    config_file.write_text(
        json.dumps({"mcpServers": {"env": {"command": "python3", "args": ["env_server.py"], "cwd": "data"}}})
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("PATH", "/nonexistent")  # no python3 on it: agentkit's own is used
    report = await server_environment(load_mcp_config(config_file))
    assert Path(str(report["cwd"])).resolve() == (folder / "data").resolve()


async def test_a_missing_command_names_what_to_install() -> None:
    config = McpConfig(
        servers={
            "time": ServerConfig(command="mcp-server-agentkit-missing"),
            "fetch": ServerConfig(command="/nonexistent/uvx", args=["mcp-server-fetch"]),
        }
    )
    toolset = McpToolset(config)
    try:
        reports = {report.name: report for report in await toolset.start()}
    finally:
        await toolset.close()
    assert "uvx mcp-server-agentkit-missing" in str(reports["time"].error)
    assert "pip install mcp-server-agentkit-missing" in str(reports["time"].error)
    assert "install uv" in str(reports["fetch"].error) and "docs.astral.sh/uv" in str(reports["fetch"].error)


async def test_npm_failure_is_one_line_naming_the_package(tmp_path: Path) -> None:
    import shutil

    if shutil.which("npx") is None:
        pytest.skip("needs npx (Node.js)")
    prefix = tmp_path / "no-such-prefix"
    server = ServerConfig(
        command="npx", args=["--offline", "--prefix", str(prefix), "mcp-server-agentkit-missing"], timeout=60
    )
    toolset = McpToolset(McpConfig(servers={"npm": server}))
    try:
        (report,) = await toolset.start()
    finally:
        await toolset.close()
    error = str(report.error)
    assert "npm could not run the package 'mcp-server-agentkit-missing' (npm error ENOENT" in error
    assert error.count("npm error") == 1 and "complete log" not in error


async def test_an_http_server_that_is_not_running_says_to_start_it() -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    toolset = McpToolset(McpConfig(servers={"web": ServerConfig(url=url, timeout=10)}))
    try:
        (report,) = await toolset.start()
    finally:
        await toolset.close()
    assert f"nothing answers at {url}: start the server there" in str(report.error)
