"""OpenID Connect on the code grant: ID tokens and the claims released per scope (OIDC
Core §2, §3.1.3.6, §5.4)."""

from __future__ import annotations

import time
from typing import Any

from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt

from sso_gateway.oauth.hooks import ProviderHooks
from sso_gateway.oauth.models import (
    GrantUser,
    OAuthClient,
)
from sso_gateway.oauth.repository import grant_repository
from sso_gateway.oauth.requests import Request


class OpenIDCodeExtension(OpenIDCode):
    """ID tokens (OIDC Core §2, §3.1.3.6): nonce, auth_time, sid, at_hash, signed with the
    client's algorithm by the current key."""

    def __init__(self, provider: ProviderHooks) -> None:
        super().__init__(require_nonce=False)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: Request) -> bool:
        client_id = request.payload.client_id
        return self.provider.call(lambda conn: grant_repository.nonce_used(conn, client_id, nonce))

    def generate_user_info(self, user: GrantUser, scope: str) -> UserInfo:
        return user_info(user.id, user.email, user.display_name, user.username, scope)

    def encode_id_token(self, token: dict[str, Any], request: Request) -> str:
        provider = self.provider
        client: OAuthClient = request.client
        user: GrantUser = request.user
        key = provider.keyring.signing_key(client.signing_alg)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": provider.settings.issuer,
            "aud": client.client_id,
            "iat": now,
            "exp": now + provider.settings.access_token_ttl,
            "sid": user.session_id,
        }
        claims.update(self.get_authorization_code_claims(request.authorization_code))
        at_hash = create_half_hash(token["access_token"], key.alg)
        if at_hash is not None:
            claims["at_hash"] = at_hash.decode()
        claims.update(self.generate_user_info(user, token["scope"]))
        return jwt.encode({"alg": key.alg, "kid": key.kid, "typ": "JWT"}, claims, key.key)


def user_info(
    user_id: str, email: str, display_name: str, username: str | None, scope: str
) -> UserInfo:
    """Claims released per scope (OIDC Core §5.4)."""
    scopes = set(scope.split())
    info = UserInfo(sub=user_id)
    if "profile" in scopes:
        info["name"] = display_name
        info["preferred_username"] = username or email
    if "email" in scopes:
        info["email"] = email
        info["email_verified"] = True
    return info
