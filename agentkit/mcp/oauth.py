"""OAuth for remote MCP servers, as the MCP authorization spec has it.

The `mcp` SDK's `OAuthClientProvider` does the protocol: on a 401 it discovers the server's
protected-resource metadata and its authorization server (with the spec's fallbacks),
registers a client (dynamic registration, or a client ID metadata document), picks the
scopes, runs the authorization-code grant with PKCE, refreshes expired tokens and steps up
on 403 `insufficient_scope`. agentkit adds what a person and a machine need around it:

- `TokenFile`: tokens and client registration kept per server URL in the user's config
  folder (`~/.config/agentkit/oauth/` on Linux), readable by the owner only, so a second
  run (or a second config naming the same URL) reuses them, refreshing when they expired;
  and the scopes asked for so far, so that `agentkit mcp login` after a run that met a
  step-up without a person asks for the wider scope.
- `BrowserLogin`: the authorization page opened with `webbrowser` (which honours
  `BROWSER`; the URL is printed too), and a listener on 127.0.0.1 that receives the
  redirect, checks its `state` and answers the browser once the code is exchanged for
  tokens (so the page says whether that worked). It waits `OAUTH_LOGIN_TIMEOUT`.
- Without a person at a terminal, a server that needs authorization fails at once with
  what to run: `agentkit mcp login NAME`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import json
import os
import re
import sys
import tempfile
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from agentkit.defaults import DEFAULT_MCP_START_TIMEOUT, OAUTH_LOGIN_TIMEOUT
from agentkit.errors import AgentkitError
from agentkit.mcp.config import ServerConfig, user_config_folder

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    import httpx2
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthToken

__all__ = [
    "BrowserLogin",
    "OAuthLoginError",
    "TokenFile",
    "can_ask_person",
    "login",
    "logout",
    "oauth_auth",
    "oauth_dir",
    "token_path",
]

CALLBACK_PATH = "/callback"
"""Where on the loopback listener the authorization server sends the browser back."""

_REQUEST_LIMIT = 16384
"""Bytes of a request's head the loopback listener reads at most (a browser's GET is far less)."""

_READ_TIMEOUT = 10.0
"""Seconds the loopback listener waits for a connected browser to send its request."""


class OAuthLoginError(AgentkitError):
    """Authorizing with an MCP server failed or cannot happen here; the message says what to do."""


def can_ask_person() -> bool:
    """Whether a person can authorize now: agentkit runs at a terminal."""
    return sys.stdin.isatty() and sys.stderr.isatty()


# -- storage ----------------------------------------------------------------------------------


def oauth_dir() -> Path:
    """The folder of the token files: `oauth` in agentkit's user config folder."""
    return user_config_folder() / "oauth"


def server_key(url: str) -> str:
    """The URL tokens are kept under: scheme and host in lower case, no default port, no
    trailing slash, query or fragment. Two configs naming the same server share it."""
    parts = urlsplit(url.strip())
    scheme, host, port = parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    if ":" in host:  # IPv6
        host = f"[{host}]"
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def token_path(url: str, folder: Path | None = None) -> Path:
    """The token file of the server at `url`: a readable name and a hash of the key."""
    key = server_key(url)
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", key.split("://", 1)[-1]).strip("_")[:60]
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return (folder or oauth_dir()) / f"{readable}-{digest}.json"


class TokenFile:
    """One server's tokens and client registration in a JSON file only its owner can read
    (the SDK's `TokenStorage`).

    Beside them it keeps when the access token expires and the metadata discovered on the
    way, so that a later run knows a token is stale and where to refresh it.

    Args:
        path: The file (created with mode 0600, its folder with 0700).
        server_url: The server's URL, recorded in the file.
        client: A client registered beforehand (from the config): returned as the client
            registration instead of a stored one.
    """

    def __init__(self, path: Path, server_url: str, client: OAuthClientInformationFull | None = None) -> None:
        self.path = path
        self.server_url = server_url
        self.client = client
        self.on_saved: Callable[[], None] | None = None
        """Told when new tokens were saved (the code was exchanged, or tokens refreshed)."""
        self._context: Any = None
        self._data = self._read()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise OAuthLoginError(
                f"cannot read the OAuth token file {self.path} ({getattr(exc, 'strerror', None) or exc}); "
                "delete it (or run `agentkit mcp logout NAME`) and authorize again"
            ) from None
        return data if isinstance(data, dict) else {}

    def _write(self) -> None:
        folder = self.path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump({"server_url": self.server_url, **self._data}, file, indent=1)
            os.replace(name, self.path)  # whole or not at all, for a run reading it meanwhile
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    @property
    def expires_at(self) -> float | None:
        """When the stored access token expires (seconds since the epoch), if known."""
        value = self._data.get("expires_at")
        return float(value) if isinstance(value, (int, float)) else None

    async def get_tokens(self) -> OAuthToken | None:
        """The stored tokens, read afresh: another run may have refreshed them meanwhile."""
        from mcp.shared.auth import OAuthToken

        self._data = self._read()
        if self._context is not None:
            self._context.token_expiry_time = self.expires_at
        tokens = self._data.get("tokens")
        try:
            return OAuthToken.model_validate(tokens) if isinstance(tokens, dict) else None
        except ValueError:  # not tokens agentkit wrote: authorize again
            return None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self._data["tokens"] = tokens.model_dump(mode="json", exclude_none=True)
        self._data["expires_at"] = time.time() + tokens.expires_in if tokens.expires_in is not None else None
        if self._context is not None:
            self._remember_metadata(self._context)
        self._write()
        if self.on_saved is not None:
            self.on_saved()

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        from mcp.shared.auth import OAuthClientInformationFull

        if self.client is not None:
            return self.client
        info = self._data.get("client_info")
        return OAuthClientInformationFull.model_validate(info) if isinstance(info, dict) else None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self._data["client_info"] = client_info.model_dump(mode="json", exclude_none=True)
        self._write()

    @property
    def wanted_scope(self) -> str | None:
        """The scopes authorizations of this server asked for so far (space-separated)."""
        scope = self._data.get("scope")
        return scope if isinstance(scope, str) and scope else None

    def want_scope(self, scope: str) -> None:
        """Remember that an authorization asked for `scope`, besides what earlier ones did."""
        wanted = " ".join(dict.fromkeys([*(self.wanted_scope or "").split(), *scope.split()]))
        if wanted and wanted != self.wanted_scope:
            self._data["scope"] = wanted
            self._write()

    def stored_client(self) -> dict[str, Any] | None:
        """The stored registration as JSON, if any."""
        info = self._data.get("client_info")
        return info if isinstance(info, dict) else None

    def forget_tokens(self) -> None:
        """Drop the tokens, keeping the client registration (a fresh login reuses it)."""
        if self._data.pop("tokens", None) is not None:
            self._data.pop("expires_at", None)
            self._write()

    def _remember_metadata(self, context: Any) -> None:
        """Keep what the provider discovered (its `OAuthContext`), for the next run's refresh."""
        for key, value in (
            ("resource_metadata", context.protected_resource_metadata),
            ("server_metadata", context.oauth_metadata),
        ):
            if value is not None:
                self._data[key] = value.model_dump(mode="json", exclude_none=True)
        if context.auth_server_url:
            self._data["authorization_server"] = context.auth_server_url

    def attach(self, context: Any) -> None:
        """Serve a provider (its `OAuthContext`): give it what an earlier run learnt (when the
        token expires, so a stale one is refreshed rather than sent; the metadata, so the
        refresh goes to the authorization server's token endpoint), and keep what it
        discovers along with the tokens it gets."""
        self._context = context
        from mcp.shared.auth import OAuthMetadata, ProtectedResourceMetadata

        context.token_expiry_time = self.expires_at
        with contextlib.suppress(ValueError):  # metadata a newer SDK no longer reads: discovered again
            if isinstance(self._data.get("resource_metadata"), dict):
                context.protected_resource_metadata = ProtectedResourceMetadata.model_validate(
                    self._data["resource_metadata"]
                )
            if isinstance(self._data.get("server_metadata"), dict):
                context.oauth_metadata = OAuthMetadata.model_validate(self._data["server_metadata"])
            if isinstance(self._data.get("authorization_server"), str):
                context.auth_server_url = self._data["authorization_server"]


def logout(config: ServerConfig) -> bool:
    """Forget the tokens and client registration kept for a server; whether there were any."""
    path = token_path(config.url or "")
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


# -- the person in the browser ---------------------------------------------------------------


_PAGE = """<!doctype html><meta charset="utf-8"><title>agentkit</title>
<body style="font-family: sans-serif; margin: 3em"><h2>{title}</h2><p>{text}</p></body>"""


class BrowserLogin:
    """Sends the person to the authorization page and receives the redirect back.

    The SDK calls `redirect` with the authorization URL, then `callback` for the code. The
    listener on `127.0.0.1:port` runs from the first to the end of the second. The browser's
    redirect is answered once the code was exchanged for tokens (`exchanged`), or after
    `exchange_timeout`, so that the page does not say "authorized" before agentkit is.

    Args:
        name: The server's name in the config (for messages).
        port: The loopback port of the redirect URI.
        timeout: Seconds to wait for the person.
        interactive: Whether a person can authorize now; if not, `redirect` fails with
            what to run instead.
        open_browser: Opens a URL in a browser; False if none could be started
            (`webbrowser.open`, which honours `BROWSER`).
        exchange_timeout: Seconds the page waits for the token exchange to end.
    """

    def __init__(
        self,
        name: str,
        port: int,
        timeout: float,
        interactive: bool,
        open_browser: Callable[[str], bool] = webbrowser.open,
        exchange_timeout: float = DEFAULT_MCP_START_TIMEOUT,
    ) -> None:
        self.name = name
        self.exchange_timeout = exchange_timeout
        self.open_browser = open_browser
        self.port = port
        self.timeout = timeout
        self.interactive = interactive
        self.opened: str | None = None
        self.failure: OAuthLoginError | None = None
        self._server: asyncio.Server | None = None
        self._result: asyncio.Future[AuthorizationCodeResult] | None = None
        self._exchange: asyncio.Future[str | None] | None = None  # None, or why it failed
        self._opening: asyncio.Future[bool] | None = None
        self._deadline = 0.0
        self._state: str | None = None
        self._waited = 0.0
        self._waiting_since: float | None = None

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    def person_time(self) -> tuple[float, bool]:
        """Seconds spent waiting on the person since the last call, and whether that wait
        goes on (a connect timeout does not count them)."""
        now = time.monotonic()
        waited, self._waited = self._waited, 0.0
        if self._waiting_since is not None:
            waited += now - self._waiting_since
            self._waiting_since = now
        return waited, self._waiting_since is not None

    async def redirect(self, url: str) -> None:
        """Start the listener and open the authorization page (the SDK's redirect handler).

        Raises:
            OAuthLoginError: No one can authorize here, or the port is taken.
        """
        try:
            await self._redirect(url)
        except OAuthLoginError as exc:
            self.failure = exc
            raise

    async def _redirect(self, url: str) -> None:
        if not self.interactive:
            raise OAuthLoginError(
                "it needs authorization, and no one is at a terminal to give it in a browser: run "
                f"`agentkit mcp login {self.name}` (with the same --mcp-config) first, then run again"
            )
        self._state = parse_qs(urlsplit(url).query).get("state", [""])[0] or None
        self._result = asyncio.get_running_loop().create_future()
        try:
            self._server = await asyncio.start_server(
                self._answer, "127.0.0.1", self.port, limit=_REQUEST_LIMIT
            )
        except OSError as exc:
            raise OAuthLoginError(
                f"cannot receive the authorization on 127.0.0.1:{self.port} "
                f"({exc.strerror or exc}): free that port, or run `agentkit mcp logout {self.name}` and "
                'log in again to register with another (a client registered beforehand: set "redirect_port" '
                'in the server\'s "oauth" to the port of its redirect URI)'
            ) from None
        self._waiting_since = time.monotonic()
        print(
            f"Authorize agentkit for MCP server {self.name!r} in your browser. If none opens, open:\n  {url}",
            file=sys.stderr,
            flush=True,
        )
        self.opened = url
        self._deadline = time.monotonic() + self.timeout
        self._opening = asyncio.ensure_future(asyncio.to_thread(self._open, url))
        # A browser that waits for the page (one in the terminal, a `BROWSER` script) gets it
        # only after the exchange, which follows this: go on once the code is back.
        either: set[asyncio.Future[Any]] = {self._opening, self._result}
        await asyncio.wait(either, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
        if self._opening.done() and not self._opening.result():
            print(
                "No browser could be started here (set BROWSER to one): open the address above "
                f"yourself, on this machine; waiting {self.timeout:g} s.",
                file=sys.stderr,
                flush=True,
            )

    def _open(self, url: str) -> bool:
        try:
            return bool(self.open_browser(url))
        except Exception:  # a browser that failed to start is one that did not open
            return False

    def exchanged(self, error: str | None = None) -> None:
        """Tell the page waiting in the browser how the token exchange ended: None, tokens
        were saved; else why not (the page shows it)."""
        if self._exchange is not None and not self._exchange.done():
            self._exchange.set_result(error)

    async def callback(self) -> AuthorizationCodeResult:
        """Wait for the redirect (the SDK's callback handler).

        Raises:
            OAuthLoginError: The person declined, the redirect's `state` is not the one sent,
                or no redirect came within the timeout.
        """
        assert self._result is not None, "redirect() comes first"
        try:
            left = max(0.0, self._deadline - time.monotonic()) if self._deadline else self.timeout
            return await asyncio.wait_for(asyncio.shield(self._result), left)
        except OAuthLoginError as exc:
            self.failure = exc
            raise
        except asyncio.TimeoutError:
            self.failure = OAuthLoginError(
                f"no authorization came back from the browser within {self.timeout:g} s: "
                f"run `agentkit mcp login {self.name}` and finish in the browser sooner, or give more "
                'time with --timeout (or "login_timeout" in the server\'s "oauth")'
            )
            raise self.failure from None
        finally:
            self._stop_listening()  # the page may wait on: for the exchange, which follows

    async def close(self) -> None:
        """Stop the listener and the person clock."""
        server = self._stop_listening()
        if server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), _READ_TIMEOUT)

    def _stop_listening(self) -> asyncio.Server | None:
        """Accept no more connections, and stop the person clock; the listener stopped."""
        if self._waiting_since is not None:
            self._waited += time.monotonic() - self._waiting_since
            self._waiting_since = None
        server, self._server = self._server, None
        if server is not None:
            server.close()
        return server

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One request to the listener: the redirect, or something else (a favicon)."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            writer.close()
            return
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, _, rest = line.partition(" ")
        target = rest.rsplit(" ", 1)[0]
        parts = urlsplit(target)
        status, title, text = "404 Not Found", "Not found", "This is agentkit's authorization listener."
        if method == "GET" and parts.path == CALLBACK_PATH and self._result is not None:
            status, title, text = self._received({k: v[0] for k, v in parse_qs(parts.query).items()})
            if self._exchange is not None and status == "200 OK" and not self._exchange.done():
                title, text = await self._exchange_page()
        body = _PAGE.format(title=html.escape(title), text=html.escape(text)).encode()
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(OSError):
            await writer.drain()
        writer.close()

    def _received(self, query: dict[str, str]) -> tuple[str, str, str]:
        """Settle the login from the redirect's query; the page to show the person."""
        from mcp.shared.auth import AuthorizationCodeResult

        assert self._result is not None
        if self._result.done():
            return "409 Conflict", "Already answered", "This authorization was received already."
        if query.get("state") != self._state:
            self._result.set_exception(
                OAuthLoginError(
                    "the authorization came back with a different state than agentkit sent (an old "
                    f"browser tab, or a forged redirect): run `agentkit mcp login {self.name}` again "
                    "and use only the page it opens"
                )
            )
            return "400 Bad Request", "Not accepted", "The state does not match; nothing was authorized."
        if "error" in query:
            error = query["error"]
            detail = f" ({query['error_description']})" if query.get("error_description") else ""
            fix = (
                "approve the request in the browser"
                if error == "access_denied"
                else 'check the server\'s "oauth" settings (client_id, scope, redirect_port)'
            )
            self._result.set_exception(
                OAuthLoginError(
                    f"the authorization server refused access: {error}{detail}; "
                    f"run `agentkit mcp login {self.name}` and {fix}"
                )
            )
            return "200 OK", "Not authorized", f"agentkit was not authorized: {error}{detail}."
        if not query.get("code"):
            self._result.set_exception(
                OAuthLoginError("the authorization came back from the browser without a code")
            )
            return "400 Bad Request", "No code", "The redirect carried no authorization code."
        self._exchange = asyncio.get_running_loop().create_future()
        self._result.set_result(
            AuthorizationCodeResult(code=query["code"], state=query["state"], iss=query.get("iss"))
        )
        return "200 OK", "agentkit is authorized", "You can close this tab and go back to the terminal."

    async def _exchange_page(self) -> tuple[str, str]:
        """The page's title and text once the code was exchanged for tokens, or was not."""
        assert self._exchange is not None
        try:
            error = await asyncio.wait_for(asyncio.shield(self._exchange), self.exchange_timeout)
        except asyncio.TimeoutError:
            return (
                "Authorization received",
                "agentkit has the authorization code but no tokens yet; the terminal tells how it ends.",
            )
        if error is not None:
            return "Not authorized", f"agentkit could not get its tokens: {error}"
        return "agentkit is authorized", "You can close this tab and go back to the terminal."


# -- the provider ----------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _loopback_port(uris: Any) -> int | None:
    """The port of the first loopback redirect URI of a stored registration."""
    for uri in uris or ():
        parts = urlsplit(str(uri))
        if parts.hostname in ("127.0.0.1", "localhost") and parts.port:
            return parts.port
    return None


def _quiet_sdk_log() -> None:
    """The SDK logs a traceback for each failed authorization, which agentkit reports in words
    of its own: keep it off the screen unless the application set up logging itself."""
    import logging

    logger = logging.getLogger("mcp.client.auth")
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())


def _with_scope(url: str, extra: str | None) -> str:
    """The authorization URL asking for `extra` scopes besides those the SDK chose."""
    if not extra:
        return url
    from urllib.parse import urlencode

    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    scopes = (query.get("scope") or "").split()
    query["scope"] = " ".join(dict.fromkeys([*scopes, *extra.split()]))
    return parts._replace(query=urlencode(query)).geturl()


def oauth_auth(
    name: str,
    config: ServerConfig,
    *,
    interactive: bool | None = None,
    open_browser: Callable[[str], bool] | None = None,
) -> tuple[OAuthClientProvider, BrowserLogin] | None:
    """The httpx auth that authorizes requests to a remote server, and its browser login;
    None when agentkit does not authorize with it (see `ServerConfig.oauth_settings`).

    Args:
        name: The server's name in the config.
        config: The server.
        interactive: Whether a person can authorize in a browser now (None: whether agentkit
            runs at a terminal).
        open_browser: Shows the person the authorization page; False if it could not
            (default `webbrowser.open`).
    """
    from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata
    from pydantic import AnyUrl

    settings = config.oauth_settings()
    if settings is None or not config.url:
        return None
    _quiet_sdk_log()
    storage = TokenFile(token_path(config.url), server_key(config.url))
    stored = storage.stored_client() or {}
    port = settings.redirect_port or _loopback_port(stored.get("redirect_uris")) or _free_port()
    login = BrowserLogin(
        name,
        port,
        settings.login_timeout or OAUTH_LOGIN_TIMEOUT,
        can_ask_person() if interactive is None else interactive,
        open_browser or webbrowser.open,
        exchange_timeout=config.timeout,
    )
    redirect = AnyUrl(login.redirect_uri)
    grants = ["authorization_code", "refresh_token"]
    if settings.client_id is not None:
        secret = settings.client_secret.get_secret_value() if settings.client_secret else None
        storage.client = OAuthClientInformationFull(
            client_id=settings.client_id,
            client_secret=secret,
            redirect_uris=[redirect],
            grant_types=grants,
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
        )
    metadata = OAuthClientMetadata(
        client_name="agentkit",
        redirect_uris=[redirect],
        grant_types=grants,
        response_types=["code"],
        token_endpoint_auth_method="none",
        scope=settings.scope,
    )

    async def open_page(url: str) -> None:
        # The scopes asked for are remembered, so that after a run without a person met a
        # server stepping up (403 insufficient_scope), `agentkit mcp login` asks for them too.
        url = _with_scope(url, " ".join(filter(None, [settings.scope, storage.wanted_scope])))
        storage.want_scope(parse_qs(urlsplit(url).query).get("scope", [""])[0])
        await login.redirect(url)

    provider = _reporting_provider(login, config.redact)(
        config.url,
        metadata,
        storage,
        redirect_handler=open_page,
        callback_handler=login.callback,
        client_metadata_url=settings.client_metadata_url,
    )
    storage.attach(provider.context)
    storage.on_saved = login.exchanged
    return provider, login


def _reporting_provider(login: BrowserLogin, redact: Callable[[str], str]) -> type[OAuthClientProvider]:
    """The SDK's provider, telling `login` when its flow fails (the token exchange, say), so
    that the page waiting in the browser says so (with `redact`ed secrets)."""
    from mcp.client.auth import OAuthClientProvider

    from agentkit.mcp._errors import describe_exception

    class ReportingProvider(OAuthClientProvider):
        async def async_auth_flow(
            self, request: httpx2.Request
        ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
            flow = super().async_auth_flow(request)
            try:
                outgoing = await flow.__anext__()
                while True:
                    outgoing = await flow.asend((yield outgoing))
            except StopAsyncIteration:
                return
            except GeneratorExit:  # the request failed (or the client gave up on it)
                login.exchanged("the request for them failed; the terminal says why")
                raise
            except BaseException as exc:
                login.exchanged(redact(oauth_problem(login.name, [exc]) or describe_exception(exc)))
                raise
            finally:
                await flow.aclose()

    return ReportingProvider


async def login(
    name: str,
    config: ServerConfig,
    *,
    timeout: float | None = None,
    open_browser: Callable[[str], bool] | None = None,
) -> bool:
    """Authorize agentkit with a remote server now, in the browser, ahead of a run
    (`agentkit mcp login`): stored tokens are dropped first, so a person can switch accounts;
    the client registration is kept.

    Args:
        name: The server's name in the config.
        config: The server.
        timeout: Seconds to wait for the person (default: the server's `login_timeout`, else
            `OAUTH_LOGIN_TIMEOUT`).
        open_browser: Shows the person the authorization page, given its URL; False if it
            could not (default `webbrowser.open`, which honours `BROWSER`). A notebook or an
            application with a window of its own may show a link instead.

    Returns:
        Whether the server asked for authorization (False: it let agentkit in without).

    Raises:
        OAuthLoginError: The server is not one agentkit authorizes with (local, or
            `"oauth": false`).
        McpServerError: Connecting or authorizing failed; the message says why.
    """
    from agentkit.mcp.session import McpSession

    settings, url = config.oauth_settings(), config.url
    if settings is None or not url:
        why = "is a local server" if config.command else 'has "oauth": false or an Authorization header'
        raise OAuthLoginError(f"MCP server {name!r} {why}: agentkit does not authorize with it through OAuth")
    if timeout is not None:
        config = config.model_copy(update={"oauth": settings.model_copy(update={"login_timeout": timeout})})
    TokenFile(token_path(url), server_key(url)).forget_tokens()
    session = McpSession(name, config)
    session.interactive = True
    session.open_browser = open_browser
    try:
        await session.start()
    finally:
        await session.close()
    return session.oauth_login is not None and session.oauth_login.opened is not None


def oauth_problem(name: str, leaves: list[BaseException]) -> str | None:
    """What went wrong with authorization among a failure's causes, and what to do; None
    when authorization was not the problem."""
    from mcp.client.auth import OAuthFlowError, OAuthRegistrationError, OAuthTokenError

    for leaf in leaves:
        if isinstance(leaf, OAuthRegistrationError):
            return (
                f"the authorization server did not register agentkit as a client ({leaf}): register one "
                f'there and give its "client_id" (and "client_secret") in the server\'s "oauth"'
            )
        if isinstance(leaf, OAuthTokenError):
            return (
                f"the authorization server refused the token request ({leaf}): run `agentkit mcp login "
                f'{name}` again; if that fails too, check "client_id" and "client_secret" in its "oauth"'
            )
        if isinstance(leaf, OAuthFlowError):
            return f"authorization failed ({leaf}): run `agentkit mcp login {name}` again"
    return None
