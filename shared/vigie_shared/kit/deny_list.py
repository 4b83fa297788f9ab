"""Resource-server side of token revocation: the deny-list of tokens the gateway revoked.

A resource server checks access tokens locally (signature, issuer, expiry, audience: RFC 9068
§4), so it cannot know by itself that the gateway revoked one (RFC 7009 ``/revoke``, a reused
code or refresh token, logout, suspension). The gateway publishes each revocation
(``vigie.sso.token.revoked`` for one token, by ``jti``; ``vigie.sso.session.revoked`` for every
token of an SSO session, by ``sid``); :func:`subscribe` keeps them in the service's
``denied_tokens`` table until the token would have expired anyway, and the kit's bearer check
(``kit.oidc.bearer``) refuses a token the list names.

The mechanism is the same in every resource server, so it lives here once, SQL included, like
the outbox's (``kit.outbox``); each service creates the table in a migration of its own, since
each owns its schema."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from vigie_shared import topics
from vigie_shared.events import CloudEvent, SessionRevoked, TokenRevoked
from vigie_shared.kit.db import Conn
from vigie_shared.kit.runtime import Runtime

SESSION_DENIAL = timedelta(days=1)
"""How long a revoked SSO session's tokens are refused. The event does not carry their expiry;
a day is longer than any access token the gateway issues lives (minutes), so every token of
the session has expired before its entry goes."""


def token_keys(claims: Mapping[str, Any]) -> list[str]:
    """The deny-list keys that would name this token: its ``jti`` and its session's ``sid``."""
    keys = []
    if claims.get("jti"):
        keys.append(f"jti:{claims['jti']}")
    if claims.get("sid"):
        keys.append(f"sid:{claims['sid']}")
    return keys


class DenyListRepository:
    async def deny(self, conn: Conn, key: str, until: datetime) -> None:
        """Idempotent: a redelivered event (or a later, longer one) keeps the later ``until``."""
        await conn.execute(
            "INSERT INTO denied_tokens (key, until) VALUES ($1, $2)"
            " ON CONFLICT (key) DO UPDATE"
            " SET until = GREATEST(denied_tokens.until, EXCLUDED.until)",
            key,
            until,
        )

    async def any_denied(self, conn: Conn, keys: list[str]) -> bool:
        found: bool = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM denied_tokens WHERE key = ANY($1::text[])"
            " AND until > now())",
            keys,
        )
        return found

    async def purge(self, conn: Conn) -> int:
        """Forget entries past their ``until``: the tokens they named have expired."""
        status: str = await conn.execute("DELETE FROM denied_tokens WHERE until <= now()")
        return int(status.split()[-1])


deny_list_repository = DenyListRepository()


class DenyList:
    """What ``kit.oidc.bearer`` asks before admitting a caller (``app.state.deny_list``)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def denies(self, claims: Mapping[str, Any]) -> bool:
        keys = token_keys(claims)
        if not keys:
            return False
        async with self._runtime.pool.acquire() as conn:
            return await deny_list_repository.any_denied(conn, keys)


def subscribe(runtime: Runtime) -> DenyList:
    """The service's consumer of the gateway's revocations (its own group on
    ``identity.events.v1``), and the deny-list it fills. Entries past their time are purged as
    new ones arrive, so the table holds only what can still be presented."""
    consumer = runtime.consumer("revocations", topics.IDENTITY)

    @consumer.handles(TokenRevoked)
    async def on_token_revoked(conn: Conn, event: CloudEvent[Any]) -> None:
        await deny_list_repository.deny(conn, f"jti:{event.data.jti}", event.data.exp)
        await deny_list_repository.purge(conn)

    @consumer.handles(SessionRevoked)
    async def on_session_revoked(conn: Conn, event: CloudEvent[Any]) -> None:
        until = event.time + SESSION_DENIAL
        await deny_list_repository.deny(conn, f"sid:{event.data.session_id}", until)
        await deny_list_repository.purge(conn)

    return DenyList(runtime)
