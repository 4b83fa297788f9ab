"""All SQL on rights requests."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from vigie_shared.kit.db import Conn


class RequestRepository:
    async def insert(
        self,
        conn: Conn,
        *,
        request_id: str,
        request_type: str,
        requester: str,
        subject_id: str | None,
        message: str | None,
        channel: str,
        received_at: datetime,
        due_on: date | None,
    ) -> asyncpg.Record:
        row: asyncpg.Record | None = await conn.fetchrow(
            "INSERT INTO requests (id, request_type, requester, subject_id, message, channel,"
            " received_at, due_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " RETURNING id, request_type, requester, subject_id, channel, received_at, due_on,"
            " status",
            request_id,
            request_type,
            requester,
            subject_id,
            message,
            channel,
            received_at,
            due_on,
        )
        assert row is not None  # INSERT ... RETURNING without ON CONFLICT always returns it
        return row

    async def count(self, conn: Conn) -> int:
        value: int = await conn.fetchval("SELECT count(*) FROM requests")
        return value


request_repository = RequestRepository()
