"""MCP servers for real: agentkit's own over stdio and HTTP, third-party ones from PyPI and npm,
and servers that fail in every way a server can."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from agentkit.mcp.config import McpConfig, ServerConfig, load_mcp_config, parse_mcp_config
from agentkit.mcp.toolset import McpToolset
from agentkit.tools.scope import RunScope
from agentkit.tools.tool import ToolContext

from .conftest import NOTES, NPM_PREFIX, ROOT, free_port, processes_with

FAULTS = Path(__file__).with_name("mcp_fault_server.py")


def fault_server(*flags: str, **options: Any) -> tuple[ServerConfig, str]:
    tag = uuid.uuid4().hex
    config = ServerConfig(command=sys.executable, args=[str(FAULTS), "--tag", tag, *flags], **options)
    return config, tag


async def call(
    toolset: McpToolset, name: str, arguments: dict[str, Any], progress: list[Any] | None = None
) -> Any:
    tool = {t.name: t for t in toolset.tools()}[name]
    context = ToolContext(
        on_progress=lambda ctx, done, total, msg: (
            progress.append((done, total, msg)) if progress is not None else None
        )
    )
    return await tool.call(arguments, context)


# -- agentkit's own server ---------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_own_server_tools_results_progress_and_errors(
    transport: str, notes_file: Path, request: pytest.FixtureRequest, report: Any
) -> None:
    if transport == "stdio":
        server = ServerConfig(
            command=sys.executable, args=[str(NOTES)], env={"NOTES_FILE": SecretStr(str(notes_file))}
        )
    else:
        server = ServerConfig(
            url=request.getfixturevalue("notes_http"), headers={"Authorization": SecretStr("Bearer t0ken")}
        )
    toolset = McpToolset(McpConfig(servers={"notes": server}))
    try:
        (status,) = await toolset.start()
        assert status.ok, status.error
        assert set(status.tools) >= {"notes__add_note", "notes__list_notes", "notes__delete_note"}
        tools = {t.name: t for t in toolset.tools()}
        assert tools["notes__list_notes"].read_only and tools["notes__delete_note"].destructive
        assert not tools["notes__add_note"].destructive
        assert tools["notes__add_note"].parameters["required"] == ["title", "text"]

        saved = await call(toolset, "notes__add_note", {"title": "tea", "text": "green, 80°C"})
        assert saved.content == "saved note 'tea' (11 characters)" and not saved.is_error
        listed = await call(toolset, "notes__list_notes", {})
        assert json.loads(listed.content) == {"notes": [{"title": "tea", "text": "green, 80°C"}]}
        progress: list[Any] = []
        summary = await call(toolset, "notes__summarize_notes", {"delay": 0.01}, progress)
        assert summary.content == "1 notes, 2 words" and progress == [(1.0, 1.0, "read 'tea'")]
        missing = await call(toolset, "notes__delete_note", {"title": "coffee"})
        assert missing.is_error and "there is no note titled 'coffee'" in missing.content
        report(
            f"mcp_start_own_{transport}",
            f"MCP start to ready, agentkit's notes server over {transport}: {status.seconds:.2f} s",
        )
    finally:
        await toolset.close()


async def test_tool_list_changes_are_followed(notes_file: Path) -> None:
    config, tag = fault_server()
    changes: list[int] = []
    toolset = McpToolset(
        McpConfig(servers={"faults": config}), on_change=lambda ts: changes.append(len(ts.tools()))
    )
    try:
        await toolset.start()
        before = len(toolset.tools())
        assert (await call(toolset, "faults__grow", {})).content == "grown"
        for _ in range(50):
            if changes:
                break
            await asyncio.sleep(0.05)
        assert changes == [before + 1]
        assert (await call(toolset, "faults__extra", {})).content == "extra!"
    finally:
        await toolset.close()
    assert processes_with(tag) == []


async def test_images_are_saved_in_the_workspace_and_named_with_type_and_size(tmp_path: Path) -> None:
    config, _ = fault_server()
    async with McpToolset(McpConfig(servers={"faults": config})) as toolset:
        tool = {t.name: t for t in toolset.tools()}["faults__picture"]
        picture = await tool.call({}, ToolContext(scope=RunScope(tmp_path)))
    assert picture.content == "[image: image/png, 70 B, saved as picture.png]"
    assert (tmp_path / "picture.png").read_bytes().startswith(b"\x89PNG")


# -- third-party servers -------------------------------------------------------------------------


async def test_mcp_server_time_from_pypi(report: Any) -> None:
    pytest.importorskip("mcp_server_time")
    async with McpToolset(ROOT / "mcp_configs" / "time.json") as toolset:
        (status,) = toolset.reports
        assert status.ok, status.error
        result = await call(toolset, "time__get_current_time", {"timezone": "Asia/Tokyo"})
    assert json.loads(result.content)["timezone"] == "Asia/Tokyo"
    report("mcp_start_time", f"MCP start to ready, mcp-server-time (PyPI, stdio): {status.seconds:.2f} s")


async def test_mcp_server_git_from_pypi(report: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mcp_server_git")
    monkeypatch.setenv("GIT_REPOSITORY", str(ROOT))
    async with McpToolset(ROOT / "mcp_configs" / "git.json") as toolset:
        (status,) = toolset.reports
        assert status.ok, status.error
        assert "git__git_reset" not in status.tools  # exclude_tools in the config
        log = await call(toolset, "git__git_log", {"repo_path": str(ROOT), "max_count": 1})
    assert not log.is_error and "Commit" in log.content
    report("mcp_start_git", f"MCP start to ready, mcp-server-git (PyPI, stdio): {status.seconds:.2f} s")


async def test_filesystem_server_from_npm(
    tmp_path: Path, report: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not (NPM_PREFIX / "node_modules" / ".bin" / "mcp-server-filesystem").exists():
        pytest.skip("npm install --prefix .mcp-npm @modelcontextprotocol/server-filesystem has not run")
    monkeypatch.setenv("FS_ROOT", str(tmp_path))
    monkeypatch.setenv("AGENTKIT_NPM_PREFIX", str(NPM_PREFIX))
    async with McpToolset(ROOT / "mcp_configs" / "filesystem.json") as toolset:
        (status,) = toolset.reports
        assert status.ok, status.error
        wrote = await call(
            toolset, "filesystem__write_file", {"path": str(tmp_path / "a.txt"), "content": "hé"}
        )
        read = await call(toolset, "filesystem__read_text_file", {"path": str(tmp_path / "a.txt")})
    assert not wrote.is_error and read.content == "hé"
    report(
        "mcp_start_npm",
        f"MCP start to ready, @modelcontextprotocol/server-filesystem (npm, npx): {status.seconds:.2f} s",
    )


# -- faults ----------------------------------------------------------------------------------------


async def test_a_command_that_does_not_exist(report: Any) -> None:
    toolset = McpToolset(McpConfig(servers={"ghost": ServerConfig(command="agentkit-no-such-server")}))
    started = time.monotonic()
    (status,) = await toolset.start()
    took = time.monotonic() - started
    await toolset.close()
    assert not status.ok and "command not found: agentkit-no-such-server" in (status.error or "")
    assert "MCP server 'ghost' (agentkit-no-such-server)" in (status.error or "")
    report("fault_missing", f"fault: command not found surfaced in {took:.2f} s")


async def test_a_server_that_never_answers_initialize(report: Any) -> None:
    marker = f"1000.{uuid.uuid4().int % 10**9}"
    toolset = McpToolset(
        McpConfig(servers={"silent": ServerConfig(command="sleep", args=[marker], timeout=2)})
    )
    started = time.monotonic()
    (status,) = await toolset.start()
    took = time.monotonic() - started
    assert not status.ok and "did not answer within 2 s" in (status.error or "")
    assert took < 2.5
    await toolset.close()
    assert processes_with(marker) == []
    report("fault_silent", f"fault: a server silent at initialize (timeout 2 s) surfaced in {took:.2f} s")


async def test_a_server_that_exits_at_start_is_quoted(report: Any) -> None:
    config, _ = fault_server("--exit-at-start")
    toolset = McpToolset(McpConfig(servers={"broken": config}))
    started = time.monotonic()
    (status,) = await toolset.start()
    took = time.monotonic() - started
    await toolset.close()
    assert not status.ok and "missing FAULT_TOKEN, cannot start" in (status.error or "")
    report("fault_exit", f"fault: a server that exits at start surfaced (with its stderr) in {took:.2f} s")


async def test_strict_mode_fails_on_a_server_that_does_not_start() -> None:
    from agentkit.mcp.session import McpServerError

    good, tag = fault_server()
    bad = ServerConfig(command="agentkit-no-such-server")
    toolset = McpToolset(McpConfig(servers={"good": good, "bad": bad}), strict=True)
    with pytest.raises(McpServerError, match="command not found"):
        await toolset.start()
    assert processes_with(tag) == []


async def test_a_server_killed_mid_call_is_answered_and_restarted_once(report: Any) -> None:
    config, tag = fault_server()
    toolset = McpToolset(McpConfig(servers={"faults": config}))
    try:
        await toolset.start()
        first_pid = int((await call(toolset, "faults__whoami", {})).content)
        started = time.monotonic()
        crashed = await call(toolset, "faults__crash", {})
        took = time.monotonic() - started
        assert crashed.is_error and "stopped during the call" in crashed.content
        assert "fault server: crashing now" in crashed.content  # its last stderr line
        assert "being restarted" in crashed.content
        again = await call(toolset, "faults__whoami", {})
        assert not again.is_error and int(again.content) != first_pid
        # Killed from outside this time, while a call waits.
        pending = asyncio.ensure_future(call(toolset, "faults__sleep", {"seconds": 30}))
        await asyncio.sleep(0.5)
        os.kill(int(again.content), signal.SIGKILL)
        killed = await asyncio.wait_for(pending, 5)
        assert killed.is_error and "not restarted again" in killed.content
        after = await call(toolset, "faults__echo", {"text": "hi"})
        assert after.is_error and "is not running" in after.content
    finally:
        await toolset.close()
    assert processes_with(tag) == []
    report("fault_crash", f"fault: a server dying mid-call surfaced in {took:.2f} s")


async def test_a_server_that_ignores_sigterm_is_killed(report: Any) -> None:
    config, tag = fault_server("--ignore-sigterm")
    toolset = McpToolset(McpConfig(servers={"stubborn": config}))
    await toolset.start()
    pid = int((await call(toolset, "stubborn__whoami", {})).content)
    started = time.monotonic()
    await toolset.close()
    took = time.monotonic() - started
    assert processes_with(tag) == [] and not Path(f"/proc/{pid}").exists()
    assert took < 10
    report("fault_sigterm", f"fault: a server ignoring SIGTERM was gone {took:.2f} s after close")


async def test_a_tool_that_raises_is_an_error_result() -> None:
    config, _ = fault_server()
    async with McpToolset(McpConfig(servers={"faults": config})) as toolset:
        result = await call(toolset, "faults__fail", {"reason": "disk full"})
    assert result.is_error and "disk full" in result.content


async def test_a_tool_slower_than_its_timeout(report: Any) -> None:
    config, _ = fault_server(tool_timeout=1)
    async with McpToolset(McpConfig(servers={"faults": config})) as toolset:
        started = time.monotonic()
        result = await call(toolset, "faults__sleep", {"seconds": 30})
        took = time.monotonic() - started
        assert result.is_error and "did not finish within 1 s" in result.content
        assert (await call(toolset, "faults__echo", {"text": "still here"})).content == "still here"
    assert took < 3
    report("fault_slow", f"fault: a tool slower than its 1 s timeout surfaced in {took:.2f} s")


async def test_an_unreachable_http_server(report: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    toolset = McpToolset(McpConfig(servers={"remote": ServerConfig(url=url)}))
    started = time.monotonic()
    (status,) = await toolset.start()
    took = time.monotonic() - started
    await toolset.close()
    assert (
        not status.ok
        and url in (status.error or "")
        and "nothing answers at " + url + ": start the server there" in (status.error or "")
    )
    report("fault_unreachable", f"fault: an unreachable HTTP server surfaced in {took:.2f} s")


async def test_secrets_stay_out_of_reports_and_reprs(notes_http: str) -> None:
    secrets: dict[str, Any] = {  # plain strings, as a user writes them: they become SecretStr
        "headers": {"Authorization": "Bearer sk-very-secret"},
        "env": {"TOKEN": "sk-env-secret"},
    }
    server = ServerConfig(url=notes_http, **secrets)
    toolset = McpToolset(McpConfig(servers={"notes": server}))
    try:
        reports = await toolset.start()
        text = repr(toolset.config) + repr(reports) + str(reports) + repr(toolset.tools())
    finally:
        await toolset.close()
    assert "sk-very-secret" not in text and "sk-env-secret" not in text


async def test_variables_in_args_and_urls_stay_out_of_reports_and_errors(
    notes_file: Path, notes_http: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-var-secret-4711"
    monkeypatch.setenv("AGENTKIT_TEST_SECRET", secret)
    base = notes_http.removesuffix("/mcp")
    config = parse_mcp_config(
        {
            "mcpServers": {
                "local": {
                    "command": sys.executable,
                    "args": [str(NOTES), "--host", "${AGENTKIT_TEST_SECRET}"],
                    "env": {"NOTES_FILE": str(notes_file)},
                },
                "bad_arg": {
                    "command": sys.executable,
                    "args": [str(NOTES), "--port", "${AGENTKIT_TEST_SECRET}"],
                },
                "no_command": {"command": "/nonexistent/${AGENTKIT_TEST_SECRET}/server"},
                "remote": {"url": notes_http + "?key=${AGENTKIT_TEST_SECRET}"},
                "remote_404": {"url": base + "/nope?key=${AGENTKIT_TEST_SECRET}", "type": "sse"},
            }
        }
    )
    toolset = McpToolset(config)
    try:
        local, bad_arg, no_command, remote, remote_404 = await toolset.start()
        text = (
            repr(toolset.config)
            + repr([local, bad_arg, no_command, remote, remote_404])
            + repr(toolset.tools())
        )
    finally:
        await toolset.close()
    assert local.ok and local.target == f"{sys.executable} {NOTES} --host ***"
    assert remote.ok and remote.target == f"{notes_http}?key=*** (streamable-http)"
    # The servers got the real values, and what they said about them is quoted with *** instead.
    assert "argument --port: invalid int value: '***'" in (bad_arg.error or "")
    assert "command not found: /nonexistent/***/server" in (no_command.error or "")
    assert f"404 Not Found' for url '{base}/nope?key=***'" in (remote_404.error or "")
    assert secret not in text


def test_every_shipped_config_loads() -> None:
    configs = sorted((ROOT / "mcp_configs").glob("*.json"))
    assert len(configs) >= 5
    for path in configs:
        assert load_mcp_config(path).servers
