"""Revoking issued tokens, and telling the resource servers: they check tokens locally (JWT
signatures, RFC 9068), so a revocation the gateway alone knows about would leave a token good
there until it expires. Each access token revoked here is published as
``vigie.sso.token.revoked`` through the outbox, in the revoking transaction, so the event
leaves if and only if the revocation is committed."""

from __future__ import annotations

from typing import Any, ClassVar

from authlib.oauth2.rfc7009 import RevocationEndpoint

from sso_gateway.config import SOURCE
from sso_gateway.oauth.client_auth import CONFIDENTIAL_METHODS, PUBLIC_METHOD
from sso_gateway.oauth.hooks import ProviderHooks
from sso_gateway.oauth.models import RefreshToken
from sso_gateway.oauth.records import RevokedAccessToken
from sso_gateway.oauth.repository import grant_repository
from sso_gateway.oauth.requests import Request
from vigie_shared.events import TokenRevoked, new_event
from vigie_shared.kit import outbox
from vigie_shared.kit.db import Conn


async def revoke_family(conn: Conn, family_id: str, reason: str) -> None:
    """A grant's refresh and access tokens (RFC 7009 §2.1, RFC 6749 §4.1.2, RFC 9700
    §4.14.2), one event per access token still live."""
    async with conn.transaction():
        revoked = await grant_repository.revoke_family(conn, family_id)
        await _publish(conn, revoked, reason)


async def revoke_access_token(conn: Conn, jti: str, reason: str) -> None:
    async with conn.transaction():
        revoked = await grant_repository.revoke_access_token(conn, jti)
        await _publish(conn, [] if revoked is None else [revoked], reason)


async def _publish(conn: Conn, revoked: list[RevokedAccessToken], reason: str) -> None:
    if not revoked:
        return
    await outbox.enqueue(
        conn,
        *(
            new_event(
                TokenRevoked(
                    jti=token.jti,
                    exp=token.expires_at,
                    user_id=token.user_id,
                    client_id=token.client_id,
                    reason=reason,
                ),
                subject=token.user_id or token.client_id,
                source=SOURCE,
            )
            for token in revoked
        ),
    )


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = [*CONFIDENTIAL_METHODS, PUBLIC_METHOD]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return self.server.query_token(token_string, token_type_hint)

    def revoke_token(self, token: Any, request: Request) -> None:
        provider: ProviderHooks = self.server
        if isinstance(token, RefreshToken):
            # RFC 7009 §2.1: revoking a refresh token also invalidates the access tokens of
            # the same grant.
            family = token.family_id
            provider.call(lambda conn: revoke_family(conn, family, "revoked"))
        else:
            jti = str(token.claims.get("jti", ""))
            provider.call(lambda conn: revoke_access_token(conn, jti, "revoked"))
