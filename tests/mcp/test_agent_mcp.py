"""`Agent(mcp=...)`: a dict, the default config, False, and servers that are switched off."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from agentkit import Agent, ScriptedBackend
from agentkit.errors import ConfigError
from agentkit.mcp.config import CONFIG_ENV_VAR, parse_mcp_config
from agentkit.mcp.toolset import McpToolset


def agent(**options: object) -> Agent:
    return Agent(backend=ScriptedBackend(["done"]), **options)  # type: ignore[arg-type]


def test_a_dict_in_the_config_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    built = agent(mcp={"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}}})
    assert built.mcp is not None and built.mcp.config.servers["time"].args == ["mcp-server-time"]


def test_a_bad_dict_is_named_as_the_agents_argument() -> None:
    with pytest.raises(ConfigError, match=r"Agent\(mcp=\{\.\.\.\}\): expected a JSON object"):
        agent(mcp={"mcp_servers": {}})


def test_the_default_config_is_used_when_none_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"servers": {"time": {"type": "stdio", "command": "uvx"}}}))
    monkeypatch.setenv(CONFIG_ENV_VAR, str(path))
    default = agent()
    assert default.mcp is not None and list(default.mcp.config.servers) == ["time"]
    assert agent(mcp=False).mcp is None  # turned off in the API
    monkeypatch.setenv(CONFIG_ENV_VAR, "")
    assert agent().mcp is None  # turned off for every run


def test_a_default_config_that_is_missing_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV_VAR, str(tmp_path / "absent.json"))
    with pytest.raises(ConfigError, match=r"absent\.json: no such MCP config file"):
        agent()


@pytest.mark.parametrize("switch", [{"enabled": False}, {"disabled": True}])
async def test_a_switched_off_server_is_not_started(tmp_path: Path, switch: dict[str, bool]) -> None:
    marker = tmp_path / "started"
    server = {"command": sys.executable, "args": ["-c", f"open({str(marker)!r}, 'w')"], "timeout": 5}
    off = McpToolset(parse_mcp_config({"mcpServers": {"off": {**server, **switch}}}))
    try:
        assert await off.start() == [] and off.tools() == []
    finally:
        await off.close()
    assert not marker.exists()
    on = McpToolset(parse_mcp_config({"mcpServers": {"on": server}}))  # the same entry switched on
    try:
        (report,) = await on.start()
    finally:
        await on.close()
    assert not report.ok and marker.exists()


BROKEN = {"command": sys.executable, "args": ["-c", "import sys; sys.exit('no notes folder')"], "timeout": 20}
"""An MCP server that exits at once, saying why on stderr."""


async def test_start_servers_tells_each_servers_start_as_a_run_does_and_keeps_them() -> None:
    from agentkit.events import Event, ServerStarting, ServerStatus

    started = agent(mcp={"mcpServers": {"notes": BROKEN}})
    heard: list[Event] = []
    try:
        statuses = await started.start_servers(heard.append)
        assert [type(e) for e in heard] == [ServerStarting, ServerStatus]
        assert heard[0] == ServerStarting("notes", started.mcp.config.servers["notes"].describe())  # type: ignore[union-attr]
        assert statuses == heard[1:] and not statuses[0].ok
        assert "no notes folder" in (statuses[0].error or "")
        again: list[Event] = []
        await started.start_servers(again.append)  # running: nothing to tell
        assert again == []
        result = await started.run("x")  # the run does not start (or stop) them again
        assert result.ok and started.server_status() == statuses
    finally:
        await started.aclose()


async def test_start_servers_in_strict_mode_raises_after_telling_the_failure() -> None:
    from agentkit.events import Event, ServerStatus
    from agentkit.mcp.session import McpServerError

    strict = agent(mcp={"mcpServers": {"notes": BROKEN}}, mcp_strict=True)
    heard: list[Event] = []
    try:
        with pytest.raises(McpServerError, match="no notes folder"):
            await strict.start_servers(heard.append)
    finally:
        await strict.aclose()
    assert isinstance(heard[-1], ServerStatus) and not heard[-1].ok
