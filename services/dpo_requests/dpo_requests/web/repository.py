"""All SQL on the pages' login sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from vigie_shared.kit.db import Conn


@dataclass(frozen=True)
class StoredSession:
    subject: str
    name: str
    email: str | None
    roles: frozenset[str]
    csrf_seed: str
    id_token: str | None
    sid: str | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> StoredSession:
        return cls(
            subject=row["subject"],
            name=row["name"],
            email=row["email"],
            roles=frozenset(row["roles"]),
            csrf_seed=row["csrf_seed"],
            id_token=row["id_token"],
            sid=row["sid"],
        )


class WebSessionRepository:
    async def insert(
        self, conn: Conn, token_hash: str, session: StoredSession, expires_at: datetime
    ) -> None:
        await conn.execute(
            "INSERT INTO web_sessions (token_hash, subject, name, email, roles, csrf_seed,"
            " id_token, sid, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            token_hash,
            session.subject,
            session.name,
            session.email,
            sorted(session.roles),
            session.csrf_seed,
            session.id_token,
            session.sid,
            expires_at,
        )

    async def touch(self, conn: Conn, token_hash: str, idle_seconds: float) -> StoredSession | None:
        """The live session of ``token_hash``, marked as used now; None once it expired or sat
        unused for ``idle_seconds``."""
        row = await conn.fetchrow(
            "UPDATE web_sessions SET last_seen_at = now() WHERE token_hash = $1"
            " AND expires_at > now() AND last_seen_at > now() - make_interval(secs => $2)"
            " RETURNING *",
            token_hash,
            idle_seconds,
        )
        return None if row is None else StoredSession.of(row)

    async def delete(self, conn: Conn, token_hash: str) -> None:
        await conn.execute("DELETE FROM web_sessions WHERE token_hash = $1", token_hash)

    async def delete_of_sid(self, conn: Conn, sid: str) -> int:
        result = await conn.execute("DELETE FROM web_sessions WHERE sid = $1", sid)
        return int(result.split()[-1])

    async def delete_of_subject(self, conn: Conn, subject: str) -> int:
        result = await conn.execute("DELETE FROM web_sessions WHERE subject = $1", subject)
        return int(result.split()[-1])

    async def purge(self, conn: Conn, idle_seconds: float) -> None:
        await conn.execute(
            "DELETE FROM web_sessions WHERE expires_at <= now()"
            " OR last_seen_at <= now() - make_interval(secs => $1)",
            idle_seconds,
        )


web_session_repository = WebSessionRepository()
