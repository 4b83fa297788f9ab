"""All SQL on browser sessions."""

from __future__ import annotations

from datetime import datetime

from sso_gateway.sessions.records import BrowserSession, EndedSession
from vigie_shared.kit.db import Conn, record

IDLE = (
    "(s.last_used_at <= now() - make_interval(secs => $2) AND NOT EXISTS (SELECT 1"
    " FROM refresh_tokens r WHERE r.session_id = s.id"
    " AND r.issued_at > now() - make_interval(secs => $2)"
    " AND NOT 'offline_access' = ANY (string_to_array(r.scope, ' '))))"
)
"""Session ``s`` went unused for ``$2`` seconds: its cookie was not presented
(``last_used_at``) and no refresh grant issued a refresh token of it since. A refresh of an
``offline_access`` token is no use: OIDC Core §11 grants it for when the End-User is not there.
Constant text, shared by the statements that need it; no value is formatted into it."""


class SessionRepository:
    async def insert(
        self,
        conn: Conn,
        *,
        session_id: str,
        token_hash: str,
        user_id: str,
        expires_at: datetime,
        ip: str | None,
    ) -> None:
        await conn.execute(
            "INSERT INTO sessions (id, token_hash, user_id, expires_at, ip)"
            " VALUES ($1, $2, $3, $4, $5)",
            session_id,
            token_hash,
            user_id,
            expires_at,
            ip,
        )

    async def live_by_token(
        self, conn: Conn, token_hash: str, *, idle_seconds: float
    ) -> BrowserSession | None:
        """The session of a cookie, unless it ended, expired or went idle: one past its end
        that the sweep has not reached yet is no longer live either."""
        row = await conn.fetchrow(
            "SELECT s.id, s.user_id, s.auth_time, s.last_used_at, u.email, u.display_name,"  # noqa: S608
            " u.username, u.roles FROM sessions s JOIN users u ON u.id = s.user_id"
            " WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()"
            f" AND NOT {IDLE}"
            " AND u.erased_at IS NULL AND u.restricted_at IS NULL",
            token_hash,
            idle_seconds,
        )
        return None if row is None else record(BrowserSession, row)

    async def used(self, conn: Conn, session_id: str, *, older_than: float) -> None:
        """Record a use, unless one less than ``older_than`` seconds old is on record."""
        await conn.execute(
            "UPDATE sessions SET last_used_at = now() WHERE id = $1 AND revoked_at IS NULL"
            " AND last_used_at <= now() - make_interval(secs => $2)",
            session_id,
            older_than,
        )

    async def revoke(self, conn: Conn, session_id: str, reason: str) -> EndedSession | None:
        row = await conn.fetchrow(
            "UPDATE sessions SET revoked_at = now(), end_reason = $2"
            " WHERE id = $1 AND revoked_at IS NULL RETURNING id, user_id, end_reason AS reason",
            session_id,
            reason,
        )
        return None if row is None else record(EndedSession, row)

    async def live_ids_of_user(self, conn: Conn, user_id: str) -> list[str]:
        rows = await conn.fetch(
            "SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL", user_id
        )
        return [r["id"] for r in rows]

    async def claim_expired(
        self, conn: Conn, *, limit: int, idle_seconds: float
    ) -> list[EndedSession]:
        """End up to ``limit`` live sessions past their absolute end (reason ``expiry``) or
        idle (``idle``); another replica's sweep skips the rows this one holds, and a
        revocation waiting on one finds it ended once this transaction commits."""
        rows = await conn.fetch(
            "UPDATE sessions ended SET revoked_at = now(), end_reason = due.reason"  # noqa: S608
            " FROM (SELECT s.id,"
            "  CASE WHEN s.expires_at <= now() THEN 'expiry' ELSE 'idle' END AS reason"
            "  FROM sessions s WHERE s.revoked_at IS NULL"
            f"  AND (s.expires_at <= now() OR {IDLE})"
            "  LIMIT $1 FOR UPDATE OF s SKIP LOCKED) due"
            " WHERE ended.id = due.id"
            " RETURNING ended.id, ended.user_id, ended.end_reason AS reason",
            limit,
            idle_seconds,
        )
        return [record(EndedSession, row) for row in rows]

    async def add_client(self, conn: Conn, session_id: str, client_id: str) -> None:
        await conn.execute(
            "INSERT INTO session_clients (session_id, client_id) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING",
            session_id,
            client_id,
        )

    async def clients(self, conn: Conn, session_id: str) -> list[str]:
        rows = await conn.fetch(
            "SELECT client_id FROM session_clients WHERE session_id = $1", session_id
        )
        return [r["client_id"] for r in rows]


session_repository = SessionRepository()
