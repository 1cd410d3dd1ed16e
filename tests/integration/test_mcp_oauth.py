"""OAuth against a real authorization server on loopback, through the CLI a person uses.

The server (`mcp_oauth_server.py`) is an MCP server that accepts only bearer tokens, and its own
authorization server built from the SDK's auth routes, approving every request at once. The
"browser" is a script named by `BROWSER` that follows the authorization URL back to agentkit's
loopback listener and logs each URL it was given. So discovery, dynamic registration, PKCE,
the token exchange, a tool call with the token, reuse of the stored token by the next command
(no browser) and refresh after expiry all happen for real.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from agentkit import Agent, ScriptedBackend
from agentkit.cli import app
from agentkit.mcp.config import load_mcp_config
from agentkit.mcp.oauth import login
from agentkit.mcp.session import McpServerError
from agentkit.mcp.toolset import McpToolset

from .conftest import free_port, http_server

HERE = Path(__file__).parent
SERVER = HERE / "mcp_oauth_server.py"
BROWSER = HERE / "oauth_browser.py"
ROOT = HERE.parents[1]
CLI_TIMEOUT = 60
runner = CliRunner()


@dataclass
class Setup:
    url: str
    config: Path
    env: dict[str, str]
    browser_log: Path
    oauth_dir: Path

    def browser_visits(self) -> list[str]:
        return self.browser_log.read_text().splitlines() if self.browser_log.exists() else []

    def browser_pages(self) -> list[str]:
        """The text of the page each visit ended on."""
        pages = Path(f"{self.browser_log}.pages")
        return pages.read_text().splitlines() if pages.exists() else []

    def token_file(self) -> Path:
        files = list(self.oauth_dir.glob("*.json"))
        assert len(files) == 1, files
        return files[0]


def setup_for(url: str, folder: Path, name: str = "notes", oauth: object = None) -> Setup:
    folder.mkdir(parents=True, exist_ok=True)
    browser = folder / "browser"
    browser.write_text(
        f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(BROWSER)!r}, run_name='__main__')\n"
    )
    browser.chmod(0o755)
    entry: dict[str, object] = {"url": url}
    if oauth is not None:
        entry["oauth"] = oauth
    config = folder / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {name: entry}}))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "XDG_CONFIG_HOME": str(folder / "config"),
        "BROWSER": str(browser),
        "OAUTH_TEST_BROWSER_LOG": str(folder / "browser.log"),
    }
    return Setup(url, config, env, folder / "browser.log", folder / "config" / "agentkit" / "oauth")


def cli(setup: Setup, *args: str) -> subprocess.CompletedProcess[str]:
    """`agentkit ...` with no terminal (a pipe for stdin, stdout and stderr)."""
    return subprocess.run(
        [sys.executable, "-m", "agentkit.cli", *args, "--mcp-config", str(setup.config)],
        env=setup.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


def cli_at_terminal(setup: Setup, *args: str) -> tuple[int, str]:
    """`agentkit ...` at a pseudo-terminal, as a person runs it; its exit code and output."""
    main, child = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentkit.cli", *args, "--mcp-config", str(setup.config)],
        env={**setup.env, "COLUMNS": "300"},
        stdin=child,
        stdout=child,
        stderr=child,
        close_fds=True,
    )
    os.close(child)
    output = b""
    deadline = time.monotonic() + CLI_TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
    return code, output.decode(errors="replace")


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """The guarded server and its authorization server, shared by this module's tests."""
    with http_server(SERVER) as url:
        yield url


def call(setup: Setup, *args: str) -> Result:
    """`agentkit ...` in this process (no terminal): quicker than a subprocess, for commands
    that open no browser."""
    return runner.invoke(app, [*args, "--mcp-config", str(setup.config)], env=setup.env)


def whoami(setup: Setup, name: str = "notes") -> dict[str, Any]:
    done = call(setup, "mcp", "call", name, "whoami")
    assert done.exit_code == 0, done.output
    return dict(json.loads(done.stdout))


def test_login_then_later_runs_and_the_api_reuse_and_refresh_the_tokens_without_a_browser(
    server_url: str, tmp_path: Path
) -> None:
    setup = setup_for(server_url, tmp_path)

    started = time.monotonic()
    refused = call(setup, "mcp", "call", "notes", "whoami")
    assert refused.exit_code != 0
    assert "agentkit mcp login notes" in refused.stderr and "no one is at a terminal" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert time.monotonic() - started < 10  # fails fast: no wait for a browser
    assert setup.browser_visits() == []

    done = cli(setup, "mcp", "login", "notes")
    assert done.returncode == 0, done.stderr
    assert "authorized notes" in done.stdout
    [page] = setup.browser_pages()
    assert "agentkit is authorized" in page
    [visit] = setup.browser_visits()
    assert visit.startswith(server_url.removesuffix("/mcp") + "/authorize?")
    assert "code_challenge_method=S256" in visit and "resource=" in visit and "scope=notes%3Aread" in visit
    assert "Authorize agentkit for MCP server 'notes'" in done.stderr and visit in done.stderr
    token_file = setup.token_file()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    stored = json.loads(token_file.read_text())
    assert stored["server_url"] == server_url

    assert whoami(setup) == {
        "client_id": stored["client_info"]["client_id"],
        "scopes": ["notes:read"],
        "grants": {"registrations": 1, "authorizations": 1, "code_exchanges": 1, "refreshes": 0},
    }
    assert len(setup.browser_visits()) == 1  # the stored token served the call

    stored["expires_at"] = time.time() - 1  # as if an hour had passed
    token_file.write_text(json.dumps(stored))
    grants = whoami(setup)["grants"]
    assert grants["refreshes"] == 1 and grants["authorizations"] == 1
    assert len(setup.browser_visits()) == 1
    refreshed = json.loads(token_file.read_text())
    assert refreshed["tokens"]["access_token"] != stored["tokens"]["access_token"]
    assert refreshed["expires_at"] > time.time() + 3000

    # The Python API: an agent's run calls the server with the stored token.
    script = ['<tool_call>\n{"name": "notes__whoami", "arguments": {}}\n</tool_call>', "done"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", setup.env["XDG_CONFIG_HOME"])
        agent = Agent(
            backend=ScriptedBackend(script), mcp=setup.config, workspace=tmp_path, transcripts=False
        )
        result = agent.run_sync("Who am I?")
    assert json.loads(result.steps[0].tool_results[0].content)["grants"]["authorizations"] == 1

    # Another config naming the same server (spelt with a trailing slash) shares the tokens.
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"servers": {"guarded": {"type": "http", "url": server_url + "/"}}}))
    assert whoami(replace(setup, config=other), "guarded")["grants"]["authorizations"] == 1

    logged_out = call(setup, "mcp", "logout", "notes")
    assert logged_out.exit_code == 0 and "forgot the tokens of notes" in logged_out.stdout
    assert not token_file.exists()


def test_a_command_at_a_terminal_authorizes_in_the_browser_itself(server_url: str, tmp_path: Path) -> None:
    setup = setup_for(server_url, tmp_path)
    code, output = cli_at_terminal(setup, "mcp", "call", "notes", "whoami")
    assert code == 0, output
    assert '"scopes": ["notes:read"]' in output
    assert len(setup.browser_visits()) == 1
    assert setup.token_file().exists()


def browser_for(setup: Setup) -> Callable[[str], bool]:
    """What `oauth_browser.py` does, as a function for `login(open_browser=...)`."""

    def browser(url: str) -> bool:
        with setup.browser_log.open("a", encoding="utf-8") as log:
            log.write(url + "\n")
        page = httpx.get(url, follow_redirects=True, timeout=60)
        with open(f"{setup.browser_log}.pages", "a", encoding="utf-8") as pages:
            pages.write(" ".join(page.text.split()) + "\n")
        return True

    return browser


async def api_login(setup: Setup, monkeypatch: pytest.MonkeyPatch, name: str = "notes") -> dict[str, Any]:
    """`agentkit.mcp.oauth.login` in this process, then the server's `whoami` through a toolset."""
    monkeypatch.setenv("XDG_CONFIG_HOME", setup.env["XDG_CONFIG_HOME"])
    config = load_mcp_config(setup.config)
    assert await login(name, config.servers[name], open_browser=browser_for(setup)) is True
    toolset = McpToolset(config)
    try:
        [report] = await toolset.start()
        assert report.ok, report.error
        result = await toolset.sessions[name].call_tool("whoami", {})
        return dict(json.loads(result.content[0].text))
    finally:
        await toolset.close()


async def test_a_refused_authorization_names_the_error(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = setup_for(server_url, tmp_path, oauth={"scope": "notes:admin"})  # not a scope it grants
    with pytest.raises(McpServerError) as info:
        await api_login(setup, monkeypatch)
    assert "refused access: invalid_scope" in str(info.value) and "agentkit mcp login notes" in str(
        info.value
    )
    assert len(setup.browser_visits()) == 1


async def test_an_sse_server_is_authorized_the_same_way(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = setup_for(server_url.removesuffix("/mcp") + "/sse", tmp_path)
    assert (await api_login(setup, monkeypatch))["scopes"] == ["notes:read"]
    assert len(setup.browser_visits()) == 1


async def preregister(server_url: str, client_id: str, secret: str, scope: str) -> int:
    """Register a client with a secret at the authorization server, as an administrator
    would; the loopback port of its redirect URI."""
    port = free_port()
    client = {
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uris": [f"http://127.0.0.1:{port}/callback"],
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": scope,
    }
    async with httpx.AsyncClient() as http:
        answer = await http.post(server_url.removesuffix("/mcp") + "/test/clients", json=client, timeout=10)
    assert answer.status_code == 201
    return port


async def test_a_client_registered_beforehand_logs_in_with_its_id_and_secret(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = await preregister(
        server_url, "agentkit-registered", "registered-secret-value", "notes:read notes:write"
    )
    monkeypatch.setenv("NOTES_SECRET", "registered-secret-value")
    oauth = {"client_id": "agentkit-registered", "client_secret": "${NOTES_SECRET}", "redirect_port": port}
    setup = setup_for(server_url, tmp_path, oauth=oauth)
    found = await api_login(setup, monkeypatch)
    assert found["client_id"] == "agentkit-registered"  # a registration would have made a new id
    assert f"redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fcallback" in setup.browser_visits()[0]
    stored = setup.token_file().read_text()
    assert "registered-secret-value" not in stored and "client_info" not in json.loads(stored)


async def test_a_refused_token_request_is_what_the_browser_page_says_too(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = await preregister(server_url, "agentkit-wrong-secret", "the-right-secret", "notes:read")
    oauth = {"client_id": "agentkit-wrong-secret", "client_secret": "a-wrong-secret", "redirect_port": port}
    setup = setup_for(server_url, tmp_path, oauth=oauth)
    with pytest.raises(McpServerError, match="refused the token request"):
        await api_login(setup, monkeypatch)
    for _ in range(100):  # the browser thread may still be writing it down (5 s at most)
        if setup.browser_pages():
            break
        await asyncio.sleep(0.05)
    [page] = setup.browser_pages()  # the token endpoint refused the code the browser brought
    assert "Not authorized" in page and "refused the token request" in page
    assert "is authorized" not in page and "a-wrong-secret" not in page


async def test_a_tool_needing_a_wider_scope_is_authorized_for_it(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = setup_for(server_url, tmp_path)
    assert (await api_login(setup, monkeypatch))["scopes"] == ["notes:read"]
    config = load_mcp_config(setup.config)

    # No one at a terminal: the step-up cannot happen, and the error says what to run.
    toolset = McpToolset(config)
    try:
        await toolset.start()
        with pytest.raises(McpServerError, match="agentkit mcp login notes"):
            await toolset.sessions["notes"].call_tool("write_note", {"text": "x"})
    finally:
        await toolset.close()
    assert len(setup.browser_visits()) == 1

    # The login that follows asks for the wider scope the server named.
    assert await login("notes", config.servers["notes"], open_browser=browser_for(setup))
    assert "scope=notes%3Aread+notes%3Awrite" in setup.browser_visits()[1]
    toolset = McpToolset(config)
    try:
        await toolset.start()
        written = await toolset.sessions["notes"].call_tool("write_note", {"text": "x"})
        assert json.loads(written.content[0].text)["scopes"] == ["notes:read", "notes:write"]
    finally:
        await toolset.close()

    # At a terminal a run steps up by itself, in the browser.
    setup.token_file().unlink()  # everything forgotten, the wider scope too
    assert (await api_login(setup, monkeypatch))["scopes"] == ["notes:read"]
    toolset = McpToolset(config)
    session = toolset.sessions["notes"]
    session.interactive, session.open_browser = True, browser_for(setup)
    try:
        await toolset.start()
        written = await session.call_tool("write_note", {"text": "y"})
        assert json.loads(written.content[0].text)["scopes"] == ["notes:read", "notes:write"]
    finally:
        await toolset.close()
    visits = setup.browser_visits()
    assert len(visits) == 4 and "scope=notes%3Aread+notes%3Awrite" in visits[3]
