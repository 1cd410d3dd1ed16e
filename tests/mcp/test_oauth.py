"""OAuth for remote MCP servers: the `oauth` config key, the token files, the browser login."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl

from agentkit.errors import ConfigError
from agentkit.mcp.config import OAuthConfig, ServerConfig, parse_mcp_config
from agentkit.mcp.oauth import (
    BrowserLogin,
    OAuthLoginError,
    TokenFile,
    logout,
    oauth_auth,
    oauth_dir,
    server_key,
    token_path,
)


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's config folder, in the test's own folder."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


def server(**entry: Any) -> ServerConfig:
    return parse_mcp_config({"mcpServers": {"s": entry}}).servers["s"]


# -- config -----------------------------------------------------------------------------------


def test_the_oauth_key_takes_a_registered_client_scope_and_settings() -> None:
    config = server(
        url="https://mcp.example.com/mcp",
        oauth={
            "client_id": "agentkit",
            "client_secret": "s3cret-value",
            "scope": "read write",
            "redirect_port": 33418,
        },
    )
    settings = config.oauth_settings()
    assert settings is not None
    assert (settings.client_id, settings.scope, settings.redirect_port) == ("agentkit", "read write", 33418)
    assert settings.client_secret is not None and settings.client_secret.get_secret_value() == "s3cret-value"


def test_a_remote_server_authorizes_on_demand_unless_told_not_to() -> None:
    assert server(url="https://a.example/mcp").oauth_settings() == OAuthConfig()
    assert server(url="https://a.example/mcp", oauth=True).oauth_settings() == OAuthConfig()
    assert server(url="https://a.example/mcp", oauth=False).oauth_settings() is None
    assert server(command="srv").oauth_settings() is None


def test_an_authorization_header_means_no_oauth_unless_oauth_is_asked_for() -> None:
    headers = {"Authorization": "Bearer static-token"}
    assert server(url="https://a.example/mcp", headers=headers).oauth_settings() is None
    assert server(url="https://a.example/mcp", headers=headers, oauth=True).oauth_settings() == OAuthConfig()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"command": "srv", "oauth": True}, "'oauth' is for remote servers"),
        ({"url": "https://a.example/mcp", "oauth": {"clientId": "x"}}, "clientId"),
        ({"url": "https://a.example/mcp", "oauth": {"client_secret": "x"}}, "needs the 'client_id'"),
        (
            {"url": "https://a.example/mcp", "oauth": {"client_metadata_url": "http://a.example/c"}},
            "https:// URL",
        ),
        ({"url": "https://a.example/mcp", "oauth": {"redirect_port": 0}}, "redirect_port"),
        ({"url": "https://a.example/mcp", "oauth": {"login_timeout": -1}}, "login_timeout"),
    ],
)
def test_a_wrong_oauth_entry_names_the_key_and_the_fix(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        server(**entry)


def test_the_client_secret_is_hidden_in_reprs_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTH_SECRET", "a-very-secret-value")
    config = server(url="https://a.example/mcp", oauth={"client_id": "c", "client_secret": "${OAUTH_SECRET}"})
    assert "a-very-secret-value" not in repr(config)
    assert config.redact("token exchange failed for a-very-secret-value") == "token exchange failed for ***"


# -- token files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "same",
    ["https://MCP.example.com/mcp", "https://mcp.example.com:443/mcp", "https://mcp.example.com/mcp/"],
)
def test_one_server_one_token_file_whatever_the_spelling(same: str) -> None:
    assert token_path(same) == token_path("https://mcp.example.com/mcp")
    assert server_key(same) == "https://mcp.example.com/mcp"


def test_different_servers_have_different_files_in_the_user_config_folder(config_home: Path) -> None:
    first, second = token_path("https://a.example/mcp"), token_path("https://a.example/other")
    assert first != second
    assert first.parent == oauth_dir() == config_home / "agentkit" / "oauth"
    assert first.name.startswith("a.example_mcp-") and first.suffix == ".json"


async def test_tokens_and_client_are_kept_readable_by_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "oauth" / "server.json"
    stored = TokenFile(path, "https://a.example/mcp")
    await stored.set_client_info(OAuthClientInformationFull(client_id="c1", redirect_uris=None))
    await stored.set_tokens(OAuthToken(access_token="at", refresh_token="rt", expires_in=60))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = TokenFile(path, "https://a.example/mcp")
    tokens, client = await again.get_tokens(), await again.get_client_info()
    assert tokens is not None and (tokens.access_token, tokens.refresh_token) == ("at", "rt")
    assert client is not None and client.client_id == "c1"
    assert again.expires_at is not None and 0 < again.expires_at - time.time() <= 60
    assert json.loads(path.read_text())["server_url"] == "https://a.example/mcp"


async def test_forgetting_tokens_keeps_the_registration(tmp_path: Path) -> None:
    stored = TokenFile(tmp_path / "s.json", "https://a.example/mcp")
    await stored.set_client_info(OAuthClientInformationFull(client_id="c1"))
    await stored.set_tokens(OAuthToken(access_token="at"))
    stored.forget_tokens()
    again = TokenFile(tmp_path / "s.json", "https://a.example/mcp")
    assert await again.get_tokens() is None
    assert (await again.get_client_info()) is not None


async def test_a_registered_client_from_the_config_wins_over_a_stored_one(tmp_path: Path) -> None:
    stored = TokenFile(tmp_path / "s.json", "https://a.example/mcp")
    await stored.set_client_info(OAuthClientInformationFull(client_id="registered-dynamically"))
    stored.client = OAuthClientInformationFull(client_id="from-config")
    client = await stored.get_client_info()
    assert client is not None and client.client_id == "from-config"


async def test_tokens_are_read_afresh_when_another_run_refreshed_them(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    mine, other = TokenFile(path, "u"), TokenFile(path, "u")
    await other.set_tokens(OAuthToken(access_token="newer", expires_in=600))
    tokens = await mine.get_tokens()
    assert tokens is not None and tokens.access_token == "newer"
    assert mine.expires_at == other.expires_at


def test_an_unreadable_token_file_says_to_delete_it(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("{not json")
    with pytest.raises(OAuthLoginError, match=r"s\.json.*agentkit mcp logout"):
        TokenFile(path, "https://a.example/mcp")


async def test_logout_forgets_the_server_and_says_whether_there_was_anything() -> None:
    config = server(url="https://a.example/mcp")
    await TokenFile(token_path("https://a.example/mcp"), "https://a.example/mcp").set_tokens(
        OAuthToken(access_token="at")
    )
    assert logout(config) is True
    assert not token_path("https://a.example/mcp").exists()
    assert logout(config) is False


async def test_a_stored_expiry_and_registration_port_reach_the_next_run() -> None:
    url = "https://a.example/mcp"
    stored = TokenFile(token_path(url), url)
    await stored.set_client_info(
        OAuthClientInformationFull(client_id="c1", redirect_uris=[AnyUrl("http://127.0.0.1:41234/callback")])
    )
    await stored.set_tokens(OAuthToken(access_token="at", refresh_token="rt", expires_in=-5))
    auth = oauth_auth("s", server(url=url), interactive=False)
    assert auth is not None
    provider, login = auth
    assert login.port == 41234  # the registered redirect URI still matches
    assert provider.context.token_expiry_time == stored.expires_at  # stale: refreshed, not sent


def test_no_oauth_for_a_server_that_opted_out() -> None:
    assert oauth_auth("s", server(url="https://a.example/mcp", oauth=False)) is None


# -- the browser login ------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def login_with(
    query: dict[str, str] | None,
    timeout: float = 5.0,
    interactive: bool = True,
    pages: list[str] | None = None,
) -> tuple[BrowserLogin, list[str]]:
    """A login whose "browser" sends the redirect `query` (its `state` filled in from the
    authorization URL unless given) to the listener, waiting for the page (its text goes to
    `pages`); None: the browser never comes back."""
    opened: list[str] = []

    def browser(url: str) -> bool:
        opened.append(url)
        if query is not None:
            state = httpx.URL(url).params["state"]
            params = {"state": state, **query}
            page = httpx.get(f"http://127.0.0.1:{login.port}/callback", params=params, timeout=5)
            (pages if pages is not None else []).append(page.text)
        return True

    login = BrowserLogin("notes", free_port(), timeout, interactive, open_browser=browser, exchange_timeout=2)
    return login, opened


async def page_shown(pages: list[str]) -> str:
    for _ in range(100):  # 5 s at most
        if pages:
            return pages[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the browser got no page")


AUTHORIZE = "https://as.example/authorize?client_id=c&state=the-state&code_challenge=x"


async def test_the_redirect_brings_the_code_and_state_back() -> None:
    pages: list[str] = []
    login, opened = login_with({"code": "the-code"}, pages=pages)
    await login.redirect(AUTHORIZE)
    result = await login.callback()
    assert (result.code, result.state) == ("the-code", "the-state")
    assert opened == [AUTHORIZE]
    await asyncio.sleep(0.3)
    assert pages == []  # no page before the code was exchanged for tokens
    login.exchanged(None)
    assert "agentkit is authorized" in await page_shown(pages)


async def test_the_page_says_when_the_token_exchange_failed_or_is_not_over() -> None:
    pages: list[str] = []
    login, _ = login_with({"code": "the-code"}, pages=pages)
    await login.redirect(AUTHORIZE)
    await login.callback()
    login.exchanged("the authorization server refused the token request")
    page = await page_shown(pages)
    assert "Not authorized" in page and "refused the token request" in page and "is authorized" not in page
    pages.clear()
    login, _ = login_with({"code": "the-code"}, pages=pages)
    login.exchange_timeout = 0.2
    await login.redirect(AUTHORIZE)
    await login.callback()
    page = await page_shown(pages)
    assert "no tokens yet; the terminal tells how it ends" in page and "is authorized" not in page


async def test_a_declined_consent_says_so_and_how_to_retry() -> None:
    login, _ = login_with({"error": "access_denied", "error_description": "the user said no"})
    await login.redirect(AUTHORIZE)
    with pytest.raises(
        OAuthLoginError, match=r"refused access: access_denied \(the user said no\).*mcp login notes"
    ):
        await login.callback()


async def test_a_redirect_with_another_state_is_refused() -> None:
    login, _ = login_with({"code": "c", "state": "forged"})
    await login.redirect(AUTHORIZE)
    with pytest.raises(OAuthLoginError, match="different state"):
        await login.callback()


async def test_no_redirect_within_the_timeout_says_how_to_wait_longer() -> None:
    login, _ = login_with(None, timeout=0.2)
    await login.redirect(AUTHORIZE)
    with pytest.raises(OAuthLoginError, match=r"within 0\.2 s.*--timeout"):
        await login.callback()
    with pytest.raises(OSError):  # the listener is closed
        await asyncio.open_connection("127.0.0.1", login.port)


async def test_without_a_person_the_login_fails_at_once_naming_the_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    login, opened = login_with({"code": "c"}, interactive=False)
    with pytest.raises(OAuthLoginError, match=r"run `agentkit mcp login notes`"):
        await login.redirect(AUTHORIZE)
    assert opened == []


async def test_the_url_is_printed_and_a_missing_browser_is_reported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def failing(url: str) -> bool:
        raise OSError("no display")

    for browser in (lambda url: False, failing):
        login = BrowserLogin("notes", free_port(), 0.1, True, open_browser=browser)
        await login.redirect(AUTHORIZE)
        with pytest.raises(OAuthLoginError):
            await login.callback()
        err = capsys.readouterr().err
        assert AUTHORIZE in err and "No browser could be started" in err and "BROWSER" in err


async def test_a_busy_port_names_the_setting_to_change() -> None:
    holder = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = holder.sockets[0].getsockname()[1]
    try:
        login = BrowserLogin("notes", port, 1.0, True, open_browser=lambda url: True)
        with pytest.raises(OAuthLoginError, match="redirect_port"):
            await login.redirect(AUTHORIZE)
    finally:
        holder.close()


async def test_the_connect_timeout_does_not_run_while_a_person_authorizes() -> None:
    from agentkit.mcp.session import McpSession

    session = McpSession("notes", server(url="https://a.example/mcp", timeout=0.3))
    loop = asyncio.get_running_loop()
    late: asyncio.Future[None] = loop.create_future()
    loop.call_later(0.8, late.set_result, None)
    with pytest.raises(asyncio.TimeoutError):  # no one authorizing: the timeout holds
        await session._until_ready(late)
    session.oauth_login = login = BrowserLogin("notes", free_port(), 5.0, True, open_browser=lambda url: True)
    await login.redirect(AUTHORIZE)  # the person is now in the browser
    later: asyncio.Future[None] = loop.create_future()
    loop.call_later(0.8, later.set_result, None)
    try:
        await session._until_ready(later)
    finally:
        await login.close()
    assert later.done()


def test_authorization_failures_say_what_to_do() -> None:
    from mcp.client.auth import OAuthFlowError, OAuthRegistrationError, OAuthTokenError

    from agentkit.mcp.oauth import oauth_problem

    registration = oauth_problem("notes", [OAuthRegistrationError("Registration failed: 403")])
    assert registration is not None and '"client_id"' in registration and "403" in registration
    token = oauth_problem("notes", [ValueError("x"), OAuthTokenError("Token exchange failed (400)")])
    assert token is not None and "agentkit mcp login notes" in token and "(400)" in token
    flow = oauth_problem("notes", [OAuthFlowError("Protected resource metadata request failed: HTTP 503")])
    assert flow is not None and "HTTP 503" in flow
    assert oauth_problem("notes", [ConnectionError("reset")]) is None


# -- the commands -----------------------------------------------------------------------------


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "mcp.json"
    servers = {"local": {"command": "srv"}, "remote": {"url": "https://a.example/mcp"}}
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


def test_login_and_logout_refuse_a_local_server_alike_as_bad_usage(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from agentkit.cli import app

    login, logout = (
        CliRunner().invoke(app, ["mcp", command, "local", "--mcp-config", str(write_config(tmp_path))])
        for command in ("login", "logout")
    )
    assert login.exit_code == logout.exit_code == 2
    assert login.stderr == logout.stderr
    assert "MCP server 'local' is a local server (it runs srv): OAuth is for remote servers" in login.stderr


def test_logout_says_whether_there_was_anything_to_forget(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from agentkit.cli import app

    config = write_config(tmp_path)
    runner = CliRunner()
    nothing = runner.invoke(app, ["mcp", "logout", "remote", "--mcp-config", str(config)])
    assert nothing.exit_code == 0 and "nothing to forget" in nothing.stdout
    asyncio.run(TokenFile(token_path("https://a.example/mcp"), "x").set_tokens(OAuthToken(access_token="at")))
    forgot = runner.invoke(app, ["mcp", "logout", "remote", "--mcp-config", str(config)])
    assert forgot.exit_code == 0 and "forgot the tokens of remote" in forgot.stdout
    assert not token_path("https://a.example/mcp").exists()
    unknown = runner.invoke(app, ["mcp", "logout", "nope", "--mcp-config", str(config)])
    assert unknown.exit_code == 2 and "no MCP server named 'nope'" in unknown.stderr


def test_ipv6_and_default_ports_make_one_key() -> None:
    assert server_key("http://[::1]:80/mcp/") == "http://[::1]/mcp"
    assert server_key("http://[::1]:8080/mcp") == "http://[::1]:8080/mcp"
    assert server_key("https://a.example/mcp?key=secret#x") == "https://a.example/mcp"  # no secrets on disk


async def test_the_page_shown_escapes_what_the_redirect_carried() -> None:
    pages: list[str] = []

    def browser(url: str) -> bool:
        state = httpx.URL(url).params["state"]
        query = {"state": state, "error": "server_error", "error_description": "<script>x</script>"}
        pages.append(httpx.get(f"http://127.0.0.1:{login.port}/callback", params=query, timeout=5).text)
        return True

    login = BrowserLogin("notes", free_port(), 5.0, True, open_browser=browser)
    await login.redirect(AUTHORIZE)
    with pytest.raises(OAuthLoginError, match="server_error"):
        await login.callback()
    page = await page_shown(pages)  # redirect() went on when the redirect came, not the page
    assert "<script>" not in page and "&lt;script&gt;" in page


async def test_a_client_metadata_document_and_a_registered_client_reach_the_provider() -> None:
    document = "https://agentkit.example/client.json"
    auth = oauth_auth("s", server(url="https://a.example/mcp", oauth={"client_metadata_url": document}))
    assert auth is not None and auth[0].context.client_metadata_url == document
    oauth = {"client_id": "c", "client_secret": "s3cret-value", "redirect_port": 40111}
    auth = oauth_auth("s", server(url="https://a.example/mcp", oauth=oauth), interactive=False)
    assert auth is not None
    provider, login = auth
    client = await provider.context.storage.get_client_info()
    assert client is not None and (client.client_id, client.client_secret) == ("c", "s3cret-value")
    assert client.token_endpoint_auth_method == "client_secret_basic"
    assert [str(uri) for uri in client.redirect_uris or []] == [login.redirect_uri]
    assert login.redirect_uri == "http://127.0.0.1:40111/callback"
