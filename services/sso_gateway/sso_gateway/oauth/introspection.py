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
from vigie_shared.kit.dpop import bound_key


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
            jkt = bound_key(c)
            payload: dict[str, Any] = {
                "active": True,
                # RFC 9449 §6.2: a bound token is introspected as DPoP, with its key.
                "token_type": "Bearer" if jkt is None else "DPoP",
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
            if jkt is not None:
                payload["cnf"] = {"jkt": jkt}
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
