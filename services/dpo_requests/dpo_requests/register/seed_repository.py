"""SQL the demo needs beyond the features' repositories: history written with its own dates.

The features' repositories stamp rows with ``now()`` (a timeline entry, a suspension, a task
are recorded as they happen); demo history happened earlier, so these statements take the
time explicitly. They write the same columns the features do, nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from vigie_shared.kit.db import Conn

TimelineRow = tuple[str, datetime, str, str, str, dict[str, Any]]


class SeedRepository:
    async def lock(self, conn: Conn) -> None:
        """Serialise concurrent seeders (two ``vigie up --demo`` on one database) until the
        end of the transaction."""
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('dpo_requests:demo'))")

    async def date_receipt(self, conn: Conn, request_id: str, at: datetime) -> None:
        """The "received" timeline entry ``register`` wrote now, dated when it was received."""
        await conn.execute(
            "UPDATE request_timeline SET at = $2 WHERE request_id = $1 AND kind = 'received'",
            request_id,
            at,
        )

    async def add_timeline(self, conn: Conn, rows: Sequence[TimelineRow]) -> None:
        await conn.executemany(
            "INSERT INTO request_timeline (request_id, at, kind, actor_kind, actor_id, detail)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            rows,
        )

    async def add_suspension(
        self,
        conn: Conn,
        request_id: str,
        *,
        asked_at: datetime,
        answered_at: datetime | None,
        what: str,
    ) -> None:
        await conn.execute(
            "INSERT INTO request_suspensions (request_id, asked_at, answered_at, what)"
            " VALUES ($1, $2, $3, $4)",
            request_id,
            asked_at,
            answered_at,
            what,
        )

    async def add_task(
        self,
        conn: Conn,
        *,
        task_id: str,
        request_id: str,
        system: str,
        action: str,
        status: str,
        manual: bool,
        attempts: int,
        requested_at: datetime,
        due_at: datetime | None,
        finished_at: datetime | None,
        note: str | None,
    ) -> None:
        await conn.execute(
            "INSERT INTO tasks (id, request_id, system, action, status, manual, attempts,"
            " requested_at, due_at, finished_at, note)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            task_id,
            request_id,
            system,
            action,
            status,
            manual,
            attempts,
            requested_at,
            due_at,
            finished_at,
            note,
        )


seed_repository = SeedRepository()
