"""An MCP server that requires OAuth, with its own authorization server, for the OAuth tests.

    python mcp_oauth_server.py --http --port N [--sse] [--token-seconds S] [--deny]

(`OAUTH_TEST_SERVER_ARGS` in the environment adds options: `http_server` passes only the port.)

One process on 127.0.0.1:N is both: the MCP server (streamable HTTP at /mcp, or SSE at /sse
with --sse), which accepts only bearer tokens issued for it, and the authorization server
(metadata, dynamic client registration, /authorize, /token with PKCE and refresh) built from
the SDK's own auth routes. Its in-memory provider approves every authorization request at
once (no page), or refuses every one with `access_denied` with --deny. The `whoami` tool
tells whose token a call carried and what the authorization server has done so far.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import sys
import time

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions
from mcp.server.mcpserver import MCPServer
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

SCOPES = ["notes:read", "notes:write"]


class ApprovingProvider:
    """An authorization server that keeps everything in memory and approves every request
    (or, with `deny`, refuses every one)."""

    def __init__(self, token_seconds: int, deny: bool) -> None:
        self.token_seconds = token_seconds
        self.deny = deny
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.counts = {"registrations": 0, "authorizations": 0, "code_exchanges": 0, "refreshes": 0}

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        self.counts["registrations"] += 1
        self.clients[client_info.client_id or ""] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        self.counts["authorizations"] += 1
        if self.deny:
            raise AuthorizeError("access_denied", "the person declined")
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


def build(port: int, path: str, token_seconds: int, deny: bool) -> tuple[MCPServer, ApprovingProvider]:
    base = f"http://127.0.0.1:{port}"
    provider = ApprovingProvider(token_seconds, deny)
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

    return server, provider


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--http", action="store_true", help="accepted for tests/integration/conftest.py")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sse", action="store_true")
    parser.add_argument("--token-seconds", type=int, default=3600)
    parser.add_argument("--deny", action="store_true")
    args = parser.parse_args([*sys.argv[1:], *shlex.split(os.environ.get("OAUTH_TEST_SERVER_ARGS", ""))])
    server, _ = build(args.port, "/sse" if args.sse else "/mcp", args.token_seconds, args.deny)
    server.run("sse" if args.sse else "streamable-http", host="127.0.0.1", port=args.port)
