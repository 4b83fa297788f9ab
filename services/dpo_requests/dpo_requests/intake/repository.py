"""All SQL on submissions awaiting their e-mailed one-time code."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from vigie_shared.kit.db import Conn


class SubmissionRepository:
    async def insert(
        self,
        conn: Conn,
        *,
        submission_id: str,
        email: str,
        payload: dict[str, Any],
        code_hash: str,
        expires_at: datetime,
    ) -> None:
        await conn.execute(
            "INSERT INTO email_submissions (id, email, payload, code_hash, expires_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            submission_id,
            email,
            payload,
            code_hash,
            expires_at,
        )

    async def count_since(self, conn: Conn, email: str, since: datetime) -> int:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM email_submissions WHERE lower(email) = lower($1)"
            " AND created_at >= $2",
            email,
            since,
        )
        return count

    async def lock(self, conn: Conn, submission_id: str) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await conn.fetchrow(
            "SELECT * FROM email_submissions WHERE id = $1 FOR UPDATE", submission_id
        )
        return row

    async def count_attempt(self, conn: Conn, submission_id: str) -> None:
        await conn.execute(
            "UPDATE email_submissions SET attempts = attempts + 1 WHERE id = $1", submission_id
        )

    async def confirm(self, conn: Conn, submission_id: str, request_id: str) -> None:
        await conn.execute(
            "UPDATE email_submissions SET request_id = $2, code_hash = '' WHERE id = $1",
            submission_id,
            request_id,
        )


submission_repository = SubmissionRepository()
