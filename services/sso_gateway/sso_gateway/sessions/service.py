"""Browser sessions at the gateway (the single sign-on): one per login, named by ``sid`` in ID
tokens (OIDC Back-Channel Logout 1.0 §2.1), held by an opaque ``vigie_st_`` cookie."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg

from sso_gateway import crypto
from sso_gateway.backchannel.service import backchannel
from sso_gateway.config import SOURCE, Settings
from sso_gateway.oauth.repository import GrantRepository, grant_repository
from sso_gateway.sessions.records import BrowserSession
from sso_gateway.sessions.repository import SessionRepository, session_repository
from sso_gateway.signals.service import signals
from vigie_shared.events import SessionRevoked, new_event
from vigie_shared.kit import outbox
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn

SESSION_TOKEN_PREFIX = "vigie_st_"  # noqa: S105 (a prefix, not a secret)


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
        if not token or not token.startswith(SESSION_TOKEN_PREFIX):
            return None
        return await self._repository.live_by_token(
            conn, crypto.keyed_hash(settings.secret_key, token)
        )

    async def revoke(self, conn: Conn, settings: Settings, session_id: str, reason: str) -> bool:
        """End a session: its tokens are revoked, each platform it signed into is told by
        back-channel logout, each Shared Signals stream gets a CAEP session-revoked, and
        ``vigie.sso.session.revoked`` is published, all in the caller's transaction."""
        ended = await self._repository.revoke(conn, session_id)
        if ended is None:
            return False
        await self._grants.revoke_session_tokens(conn, session_id)
        clients = await self._repository.clients(conn, session_id)
        await backchannel.enqueue(
            conn, settings, user_id=ended.user_id, session_id=session_id, client_ids=clients
        )
        await signals.session_revoked(
            conn, settings, user_id=ended.user_id, session_id=session_id, reason=reason
        )
        await outbox.enqueue(
            conn,
            new_event(
                SessionRevoked(user_id=ended.user_id, session_id=session_id, reason=reason),
                subject=ended.user_id,
                source=SOURCE,
            ),
        )
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

    async def report_expired(
        self, pool: asyncpg.Pool, settings: Settings, *, limit: int = 200
    ) -> int:
        """A session that reached its end of life is revoked for the receivers of Shared
        Signals too (CAEP 1.0 §3.1, reason ``expiry``); one transaction marks it reported and
        writes its SETs, so each expiry is reported once, whichever replica sweeps."""
        async with pool.acquire() as conn, conn.transaction():
            expired = await self._repository.claim_expired(conn, limit)
            for ended in expired:
                await signals.session_revoked(
                    conn, settings, user_id=ended.user_id, session_id=ended.id, reason="expiry"
                )
        return len(expired)

    async def signed_into(self, conn: Conn, session_id: str, client_id: str) -> None:
        await self._repository.add_client(conn, session_id, client_id)


sessions = SessionService(session_repository, grant_repository)
