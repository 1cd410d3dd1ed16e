"""An MCP server that requires OAuth, with its own authorization server, for the OAuth tests.

    python mcp_oauth_server.py --http --port N [--token-seconds S]

One process on 127.0.0.1:N is both: the MCP server (streamable HTTP at /mcp and SSE at /sse),
which accepts only bearer tokens issued for it, and the authorization server (metadata,
dynamic client registration, /authorize, /token with PKCE and refresh) built from the SDK's
own auth routes (and `POST /test/clients` to register a client beforehand, as an
administrator would). Its in-memory provider approves every authorization request at once
(no page), and registers each client for every scope. `write_note` needs notes:write, which
the server asks for only when it is called (403 `insufficient_scope`). The `whoami` tool
tells whose token a call carried and what the authorization server has done so far.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    OAuthAuthorizationServerProvider,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions
from mcp.server.mcpserver import MCPServer
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SCOPES = ["notes:read", "notes:write"]


class ApprovingProvider(OAuthAuthorizationServerProvider[AuthorizationCode, RefreshToken, AccessToken]):
    """An authorization server that keeps everything in memory and approves every request."""

    def __init__(self, token_seconds: int) -> None:
        self.token_seconds = token_seconds
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.counts = {"registrations": 0, "authorizations": 0, "code_exchanges": 0, "refreshes": 0}

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        self.counts["registrations"] += 1
        client_info.scope = " ".join(SCOPES)  # may be granted any of them later (RFC 7591 §3.2.1)
        self.clients[client_info.client_id or ""] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        self.counts["authorizations"] += 1
        code = secrets.token_urlsafe(32)
        self.codes[code] = AuthorizationCode(
            code=code,
            scopes=params.scopes or [],
            expires_at=time.time() + 300,
            client_id=client.client_id or "",
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
        )
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        return self.codes.get(authorization_code)

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> OAuthToken:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        expires = int(time.time()) + self.token_seconds
        self.access[access] = AccessToken(
            token=access, client_id=client_id, scopes=scopes, expires_at=expires, resource=resource
        )
        self.refresh[refresh] = RefreshToken(
            token=refresh, client_id=client_id, scopes=scopes, resource=resource
        )
        return OAuthToken(
            access_token=access,
            expires_in=self.token_seconds,
            scope=" ".join(scopes),
            refresh_token=refresh,
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        self.counts["code_exchanges"] += 1
        del self.codes[authorization_code.code]
        return self._issue(client.client_id or "", authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> RefreshToken | None:
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        if refresh_token.token not in self.refresh:
            raise TokenError("invalid_grant", "refresh token already used")
        self.counts["refreshes"] += 1
        del self.refresh[refresh_token.token]
        return self._issue(client.client_id or "", scopes or refresh_token.scopes, refresh_token.resource)

    async def load_access_token(self, token: str) -> AccessToken | None:
        found = self.access.get(token)
        if found is None or (found.expires_at is not None and found.expires_at < time.time()):
            return None
        return found

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.access.pop(token.token, None)
        self.refresh.pop(token.token, None)


def build(port: int, path: str, provider: ApprovingProvider) -> MCPServer:
    """The MCP server at `path` (its resource URL), guarded by `provider`'s tokens."""
    base = f"http://127.0.0.1:{port}"
    server = MCPServer(
        "guarded-notes",
        log_level="WARNING",
        auth_server_provider=provider,
        auth=AuthSettings(
            issuer_url=base,  # type: ignore[arg-type]
            resource_server_url=f"{base}{path}",  # type: ignore[arg-type]
            client_registration_options=ClientRegistrationOptions(
                enabled=True, valid_scopes=SCOPES, default_scopes=SCOPES
            ),
            required_scopes=["notes:read"],
            validate_token_resource=True,
        ),
    )

    @server.custom_route("/test/clients", methods=["POST"])
    async def preregister(request: Request) -> Response:
        """Register a client the way an administrator would, ahead of time (not DCR)."""
        client = OAuthClientInformationFull.model_validate(await request.json())
        provider.clients[client.client_id or ""] = client
        return JSONResponse({"client_id": client.client_id}, status_code=201)

    @server.tool()
    def write_note(text: str) -> str:
        """Needs the notes:write scope (`step_up` answers 403 to a token without it)."""
        token = get_access_token()
        return json.dumps({"written": text, "scopes": token.scopes if token else []})

    @server.tool()
    def whoami() -> str:
        """The client this call's token was issued to, its scopes, and how many registrations,
        authorizations, code exchanges and refreshes the authorization server has made."""
        token = get_access_token()
        return json.dumps(
            {
                "client_id": token.client_id if token else None,
                "scopes": token.scopes if token else [],
                "grants": provider.counts,
            }
        )

    return server


def step_up(app: ASGIApp, provider: ApprovingProvider, metadata_url: str) -> ASGIApp:
    """`app`, answering 403 `insufficient_scope` to a call of `write_note` whose token lacks
    notes:write, as a server does whose tools need different scopes."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        messages, body = [], b""
        for _ in range(10_000):  # a request body arrives in a few chunks
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        token = provider.access.get(headers.get(b"authorization", b"").decode().removeprefix("Bearer "))
        if b'"write_note"' in body and token is not None and "notes:write" not in token.scopes:
            challenge = (
                f'Bearer error="insufficient_scope", scope="notes:read notes:write", '
                f'resource_metadata="{metadata_url}"'
            )
            response = JSONResponse({"error": "insufficient_scope"}, status_code=403)
            response.headers["WWW-Authenticate"] = challenge
            await response(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await app(scope, replay, send)

    return guarded


def app(port: int, token_seconds: int) -> ASGIApp:
    """Both transports on one port, one authorization server: SSE at /sse (and /messages/),
    streamable HTTP at /mcp and everything else."""
    provider = ApprovingProvider(token_seconds)
    base = f"http://127.0.0.1:{port}"
    streamable = step_up(
        build(port, "/mcp", provider).streamable_http_app(),
        provider,
        f"{base}/.well-known/oauth-protected-resource/mcp",
    )
    sse = build(port, "/sse", provider).sse_app()

    async def either(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        over_sse = path in ("/sse", "/.well-known/oauth-protected-resource/sse") or path.startswith(
            "/messages"
        )
        await (sse if over_sse else streamable)(scope, receive, send)

    return either


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--http", action="store_true", help="accepted for tests/integration/conftest.py")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-seconds", type=int, default=3600)
    args = parser.parse_args()
    uvicorn.run(app(args.port, args.token_seconds), host="127.0.0.1", port=args.port, log_level="warning")
