"""Token introspection (RFC 7662)."""

from __future__ import annotations

from typing import Any, ClassVar

from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from sso_gateway.oauth.client_auth import CONFIDENTIAL_METHODS
from sso_gateway.oauth.models import (
    AccessTokenInfo,
    OAuthClient,
    RefreshToken,
)
from sso_gateway.oauth.requests import Request


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = CONFIDENTIAL_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return self.server.query_token(token_string, token_type_hint)

    def check_permission(self, token: Any, client: OAuthClient, request: Request) -> bool:
        # RFC 7662 §4: only the client the token was issued to, or the resource server it is
        # meant for, may learn about it.
        if isinstance(token, AccessTokenInfo):
            aud = token.claims.get("aud")
            auds = aud if isinstance(aud, list) else [aud]
            return token.check_client(client) or client.client_id in auds
        return bool(token.check_client(client))

    def introspect_token(self, token: Any) -> dict[str, Any]:
        if isinstance(token, AccessTokenInfo):
            c = token.claims
            payload: dict[str, Any] = {
                "active": True,
                "token_type": "Bearer",
                **{
                    k: c[k]
                    for k in (
                        "scope",
                        "client_id",
                        "sub",
                        "aud",
                        "iss",
                        "exp",
                        "iat",
                        "jti",
                        "sid",
                        "roles",
                    )
                    if k in c
                },
            }
            return payload
        assert isinstance(token, RefreshToken)
        return {
            "active": True,
            "token_type": "refresh_token",
            "scope": token.scope,
            "client_id": token.client_id,
            "sub": token.user_id,
            "sid": token.session_id,
            "exp": int(token.expires_at.timestamp()),
            "iat": int(token.issued_at.timestamp()),
            "iss": self.server.settings.issuer,
        }
