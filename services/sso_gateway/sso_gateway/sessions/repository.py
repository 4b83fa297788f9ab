"""All SQL on browser sessions."""

from __future__ import annotations

from datetime import datetime

from sso_gateway.sessions.records import BrowserSession, EndedSession
from vigie_shared.kit.db import Conn, record


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

    async def live_by_token(self, conn: Conn, token_hash: str) -> BrowserSession | None:
        row = await conn.fetchrow(
            "SELECT s.id, s.user_id, s.auth_time, u.email, u.display_name, u.username, u.roles"
            " FROM sessions s JOIN users u ON u.id = s.user_id"
            " WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()"
            " AND u.erased_at IS NULL AND u.restricted_at IS NULL",
            token_hash,
        )
        return None if row is None else record(BrowserSession, row)

    async def revoke(self, conn: Conn, session_id: str) -> EndedSession | None:
        row = await conn.fetchrow(
            "UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL"
            " RETURNING id, user_id",
            session_id,
        )
        return None if row is None else record(EndedSession, row)

    async def live_ids_of_user(self, conn: Conn, user_id: str) -> list[str]:
        rows = await conn.fetch(
            "SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL", user_id
        )
        return [r["id"] for r in rows]

    async def claim_expired(self, conn: Conn, limit: int) -> list[EndedSession]:
        """Mark up to ``limit`` expired, unreported sessions reported; another replica's sweep
        skips the rows this one holds."""
        rows = await conn.fetch(
            "UPDATE sessions SET expiry_reported_at = now() WHERE id IN (SELECT id FROM sessions"
            " WHERE expires_at <= now() AND revoked_at IS NULL AND expiry_reported_at IS NULL"
            " ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING id, user_id",
            limit,
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
