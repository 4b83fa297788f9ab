"""Browser sessions at the gateway (the single sign-on): one per login, named by ``sid`` in ID
tokens (OIDC Back-Channel Logout 1.0 §2.1), held by an opaque ``vigie_st_`` cookie.

A session ends at the first of: ``session_ttl`` after login (``expiry``), ``session_idle_ttl``
unused (``idle``), or a revocation (logout, an administrator, a suspension, a password change,
an erasure or restriction). Every end is a conditional mark on its row followed by ``_ended``,
in one transaction: its tokens revoked, a back-channel logout token queued for each platform
of the session, a CAEP session-revoked SET and ``vigie.sso.session.revoked``, once. Expiries
are found by a sweep (``report_expired``, scheduled in ``sessions.wiring``).

*Used* means the cookie presented (``current``: /authorize, the gateway's pages) or a refresh
grant of one of the session's refresh tokens. OIDC Session Management has no rule;
node-oidc-provider renews its session only when the browser comes back, Keycloak's SSO Session
Idle counts refreshes too. We count them: once signed in, a person works in the platform, which
calls the gateway only to refresh, and ending the session would log them out of that platform
by back-channel logout in the middle of their work. A refresh of an ``offline_access`` token
does not count (OIDC Core §11: it is for when the End-User is absent); ``session_ttl`` bounds a
platform that keeps refreshing on its own."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg

from sso_gateway import crypto
from sso_gateway.backchannel.service import backchannel
from sso_gateway.config import SOURCE, Settings
from sso_gateway.oauth.repository import GrantRepository, grant_repository
from sso_gateway.sessions.records import BrowserSession, EndedSession
from sso_gateway.sessions.repository import SessionRepository, session_repository
from sso_gateway.sessions.schemas import SignedOut
from sso_gateway.signals.service import signals
from sso_gateway.users.repository import user_repository
from vigie_shared.events import SessionRevoked, new_event
from vigie_shared.kit import outbox
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn

SESSION_TOKEN_PREFIX = "vigie_st_"  # noqa: S105 (a prefix, not a secret)

LAST_USE_GRANULARITY = 10
"""A session's last use is written only when the stored one is older than
``session_idle_ttl / LAST_USE_GRANULARITY``: a page view costs a read, not a write."""

SWEEP_BATCH = 200
"""Sessions one sweep transaction ends at most."""


def idle_window(settings: Settings) -> float:
    """Seconds unused after which a session ends. The stored last use lags the real one by up
    to a granule, which the window adds back, so a session never ends before a full
    ``session_idle_ttl`` unused (as Keycloak adds a window to its SSO Session Idle)."""
    return settings.session_idle_ttl * (1 + 1 / LAST_USE_GRANULARITY)


class SessionService:
    def __init__(self, repository: SessionRepository, grants: GrantRepository) -> None:
        self._repository = repository
        self._grants = grants

    async def open(
        self, conn: Conn, settings: Settings, *, user_id: str, ip: str | None
    ) -> tuple[str, str]:
        """A new session; returns its id and the cookie value (shown once, stored hashed)."""
        token = crypto.new_secret(SESSION_TOKEN_PREFIX)
        session_id = f"s-{uuid.uuid4().hex}"
        await self._repository.insert(
            conn,
            session_id=session_id,
            token_hash=crypto.keyed_hash(settings.secret_key, token),
            user_id=user_id,
            expires_at=utcnow() + timedelta(seconds=settings.session_ttl),
            ip=ip,
        )
        return session_id, token

    async def current(
        self, conn: Conn, settings: Settings, token: str | None
    ) -> BrowserSession | None:
        """The live session of a cookie, and a use of it (its idle clock starts again). Past
        its absolute or idle end it is not live, even before the sweep ends it."""
        if not token or not token.startswith(SESSION_TOKEN_PREFIX):
            return None
        session = await self._repository.live_by_token(
            conn,
            crypto.keyed_hash(settings.secret_key, token),
            idle_seconds=idle_window(settings),
        )
        granule = settings.session_idle_ttl / LAST_USE_GRANULARITY
        if session is not None and session.last_used_at <= utcnow() - timedelta(seconds=granule):
            await self._repository.used(conn, session.id, older_than=granule)
        return session

    async def revoke(self, conn: Conn, settings: Settings, session_id: str, reason: str) -> bool:
        """End a live session now (logout, suspension, erasure, a password change...), in the
        caller's transaction; False if it had ended already."""
        ended = await self._repository.revoke(conn, session_id, reason)
        if ended is None:
            return False
        await self._ended(conn, settings, ended)
        return True

    async def revoke_all(
        self,
        conn: Conn,
        settings: Settings,
        user_id: str,
        reason: str,
        *,
        keep: str | None = None,
    ) -> int:
        """End every live session of ``user_id`` but ``keep``; how many ended."""
        revoked = 0
        for session_id in await self._repository.live_ids_of_user(conn, user_id):
            if session_id != keep:
                revoked += await self.revoke(conn, settings, session_id, reason)
        return revoked

    async def sign_out(self, conn: Conn, settings: Settings, identifier: str) -> SignedOut | None:
        """An administrator ends every live session of the account whose id, username or
        e-mail is ``identifier`` (a lost device, a compromised account), by the one path every
        session end takes; None when there is no such account."""
        user_id = await user_repository.id_of(conn, identifier)
        if user_id is None:
            return None
        async with conn.transaction():
            ended = await self.revoke_all(conn, settings, user_id, "admin")
        return SignedOut(user_id=user_id, sessions_ended=ended)

    async def report_expired(
        self, pool: asyncpg.Pool, settings: Settings, *, limit: int = SWEEP_BATCH
    ) -> int:
        """End the sessions past their absolute end (``session_ttl``, reason ``expiry``) or
        unused for ``session_idle_ttl`` (``idle``), as any other end: one transaction marks
        them ended and writes what follows, so a crash before it commits leaves them to the
        next sweep, and whichever replica sweeps, each end is reported once."""
        async with pool.acquire() as conn, conn.transaction():
            expired = await self._repository.claim_expired(
                conn, limit=limit, idle_seconds=idle_window(settings)
            )
            for ended in expired:
                await self._ended(conn, settings, ended)
        return len(expired)

    async def _ended(self, conn: Conn, settings: Settings, ended: EndedSession) -> None:
        """What follows every end of a session, once (the caller just marked it ended): its
        tokens are revoked, each platform it signed into is told by back-channel logout, each
        Shared Signals stream gets a CAEP session-revoked, and ``vigie.sso.session.revoked``
        is published.

        Its refresh tokens go too, ``offline_access`` ones included. OIDC Core §11 means
        offline access to outlive the login, but here every refresh token is issued in a
        session and its access tokens carry the session's ``sid``, which resource servers
        refuse once the session is revoked; offline access past the session would be a grant
        of its own (no ``sid``, the consent §11 asks for), not a token kept from this one."""
        await self._grants.revoke_session_tokens(conn, ended.id)
        clients = await self._repository.clients(conn, ended.id)
        await backchannel.enqueue(
            conn, settings, user_id=ended.user_id, session_id=ended.id, client_ids=clients
        )
        await signals.session_revoked(
            conn, settings, user_id=ended.user_id, session_id=ended.id, reason=ended.reason
        )
        await outbox.enqueue(
            conn,
            new_event(
                SessionRevoked(user_id=ended.user_id, session_id=ended.id, reason=ended.reason),
                subject=ended.user_id,
                source=SOURCE,
            ),
        )

    async def signed_into(self, conn: Conn, session_id: str, client_id: str) -> None:
        await self._repository.add_client(conn, session_id, client_id)


sessions = SessionService(session_repository, grant_repository)
