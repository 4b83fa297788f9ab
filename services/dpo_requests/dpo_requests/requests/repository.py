"""All SQL on rights requests, their clock suspensions and their timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from vigie_shared.kit.db import Conn, RowUpdate, record

OPEN_STATUSES = ("received", "identity_pending", "in_progress")
_GET = "SELECT * FROM requests WHERE id = $1"
_GET_FOR_UPDATE = "SELECT * FROM requests WHERE id = $1 FOR UPDATE"
# What the lifecycle, the reminders and the demo data change on a request; the rest (id,
# type, requester, receipt) is fixed when it is received.
_UPDATE = RowUpdate(
    "requests",
    frozenset(
        {
            "status",
            "subject_id",
            "due_on",
            "verified_at",
            "verification_method",
            "extended_on",
            "extension_reason",
            "refusal_ground",
            "refusal_reason",
            "refusal_justification",
            "closed_at",
            "closing_note",
            "due_soon_sent_for",
            "overdue_sent_for",
        }
    ),
    touch="updated_at",
)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """A stored rights request (the columns its service reads)."""

    id: str
    request_type: str
    requester: str
    subject_id: str | None
    message: str | None
    channel: str
    corrections: dict[str, Any] | None
    received_at: datetime
    due_on: date | None
    status: str
    duplicate_of: str | None
    verified_at: datetime | None
    verification_method: str | None
    extended_on: date | None
    extension_reason: str | None
    refusal_ground: str | None
    refusal_reason: str | None
    refusal_justification: str | None
    closed_at: datetime | None
    closing_note: str | None


@dataclass(frozen=True, slots=True)
class SuspensionRecord:
    """GDPR Art. 12(6): the clock stopped from ``asked_at`` until ``answered_at``."""

    asked_at: datetime
    answered_at: datetime | None


@dataclass(frozen=True, slots=True)
class TimelineRecord:
    """One step on a request's timeline, by whom."""

    at: datetime
    kind: str
    actor_kind: str
    actor_id: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReminderDue:
    """An open request owed a reminder for the deadline in force, ``due_on``."""

    id: str
    subject_id: str | None
    due_on: date


QueueSort = Literal["due", "received"]
_QUEUE_WHERE = (
    "WHERE ($1::text[] IS NULL OR status = ANY($1::text[]))"
    " AND ($2::text IS NULL OR request_type = $2)"
    " AND ($3::date IS NULL OR (due_on < $3 AND status = ANY($4::text[])))"
)
# Fixed texts chosen by key, never from input. By due date: stopped clocks (no due date) last,
# nothing being owed until the information arrives; by receipt: newest first.
_QUEUE_ORDER: dict[QueueSort, str] = {
    "due": "due_on ASC NULLS LAST, received_at ASC, id DESC",
    "received": "received_at DESC, id DESC",
}


@dataclass(frozen=True, slots=True)
class QueueSlice:
    """One page of the DPO's work queue, with the count of every matching request."""

    rows: list[RequestRecord]
    total: int
    page: int
    pages: int


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
        corrections: dict[str, Any] | None = None,
        duplicate_of: str | None = None,
    ) -> RequestRecord:
        row = await conn.fetchrow(
            "INSERT INTO requests (id, request_type, requester, subject_id, message, channel,"
            " received_at, due_on, corrections, duplicate_of)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
            request_id,
            request_type,
            requester,
            subject_id,
            message,
            channel,
            received_at,
            due_on,
            corrections,
            duplicate_of,
        )
        assert row is not None  # INSERT ... RETURNING without ON CONFLICT always returns it
        return record(RequestRecord, row)

    async def count(self, conn: Conn) -> int:
        value: int = await conn.fetchval("SELECT count(*) FROM requests")
        return value

    async def get(self, conn: Conn, request_id: str, *, lock: bool = False) -> RequestRecord | None:
        sql = _GET_FOR_UPDATE if lock else _GET
        row = await conn.fetchrow(sql, request_id)
        return None if row is None else record(RequestRecord, row)

    async def find_open_duplicate(
        self, conn: Conn, *, request_type: str, subject_id: str | None, requester: str
    ) -> str | None:
        """An open request of the same type by the same person (by SSO id, else by address)."""
        found: str | None = await conn.fetchval(
            "SELECT id FROM requests WHERE request_type = $1 AND status = ANY($4::text[])"
            " AND (($2::text IS NOT NULL AND subject_id = $2)"
            "      OR lower(requester) = lower($3))"
            " ORDER BY received_at LIMIT 1",
            request_type,
            subject_id,
            requester,
            list(OPEN_STATUSES),
        )
        return found

    async def update(self, conn: Conn, request_id: str, **fields: Any) -> RequestRecord:
        return record(RequestRecord, await _UPDATE.fetch(conn, request_id, fields))

    async def page(
        self,
        conn: Conn,
        *,
        limit: int,
        after: tuple[datetime, str] | None,
        subject_id: str | None,
        status: str | None,
        request_type: str | None,
        due_before: date | None,
        due_after: date | None,
        overdue_on: date | None,
    ) -> list[RequestRecord]:
        """Newest first, keyset pagination on (received_at, id)."""
        rows = await conn.fetch(
            "SELECT * FROM requests WHERE"
            " ($2::timestamptz IS NULL OR (received_at, id) < ($2, $3))"
            " AND ($4::text IS NULL OR subject_id = $4)"
            " AND ($5::text IS NULL OR status = $5)"
            " AND ($6::text IS NULL OR request_type = $6)"
            " AND ($7::date IS NULL OR due_on <= $7)"
            " AND ($8::date IS NULL OR due_on >= $8)"
            " AND ($9::date IS NULL OR (due_on < $9 AND status = ANY($10::text[])))"
            " ORDER BY received_at DESC, id DESC LIMIT $1",
            limit,
            after[0] if after else None,
            after[1] if after else None,
            subject_id,
            status,
            request_type,
            due_before,
            due_after,
            overdue_on,
            list(OPEN_STATUSES),
        )
        return [record(RequestRecord, r) for r in rows]

    async def queue(
        self,
        conn: Conn,
        *,
        statuses: Sequence[str] | None,
        request_type: str | None,
        overdue_on: date | None,
        sort: QueueSort,
        limit: int,
        page: int,
    ) -> QueueSlice:
        """Every request matching the filters, sorted and cut into pages in the database.

        ``page`` is clamped to the pages there are (1 when nothing matches).
        """
        filters = (
            list(statuses) if statuses is not None else None,
            request_type,
            overdue_on,
            list(OPEN_STATUSES),
        )
        total: int = await conn.fetchval(f"SELECT count(*) FROM requests {_QUEUE_WHERE}", *filters)  # noqa: S608
        pages = max(1, -(-total // limit))
        page = min(max(page, 1), pages)
        rows = await conn.fetch(
            f"SELECT * FROM requests {_QUEUE_WHERE} ORDER BY {_QUEUE_ORDER[sort]}"  # noqa: S608
            " LIMIT $5 OFFSET $6",
            *filters,
            limit,
            (page - 1) * limit,
        )
        return QueueSlice(
            rows=[record(RequestRecord, r) for r in rows], total=total, page=page, pages=pages
        )

    async def suspensions(self, conn: Conn, request_id: str) -> list[SuspensionRecord]:
        rows = await conn.fetch(
            "SELECT * FROM request_suspensions WHERE request_id = $1 ORDER BY asked_at, id",
            request_id,
        )
        return [record(SuspensionRecord, r) for r in rows]

    async def open_suspension(
        self, conn: Conn, request_id: str, *, asked_at: datetime, what: str
    ) -> None:
        await conn.execute(
            "INSERT INTO request_suspensions (request_id, asked_at, what) VALUES ($1, $2, $3)",
            request_id,
            asked_at,
            what,
        )

    async def close_suspension(self, conn: Conn, request_id: str, *, answered_at: datetime) -> bool:
        status: str = await conn.execute(
            "UPDATE request_suspensions SET answered_at = $2"
            " WHERE request_id = $1 AND answered_at IS NULL",
            request_id,
            answered_at,
        )
        return status != "UPDATE 0"

    async def add_timeline(
        self,
        conn: Conn,
        request_id: str,
        *,
        kind: str,
        actor_kind: str,
        actor_id: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        await conn.execute(
            "INSERT INTO request_timeline (request_id, kind, actor_kind, actor_id, detail)"
            " VALUES ($1, $2, $3, $4, $5)",
            request_id,
            kind,
            actor_kind,
            actor_id,
            detail or {},
        )

    async def timeline(self, conn: Conn, request_id: str) -> list[TimelineRecord]:
        rows = await conn.fetch(
            "SELECT at, kind, actor_kind, actor_id, detail FROM request_timeline"
            " WHERE request_id = $1 ORDER BY id",
            request_id,
        )
        return [record(TimelineRecord, r) for r in rows]

    async def lock_reminders_due(
        self, conn: Conn, *, today: date, due_soon_days: int, limit: int = 100
    ) -> list[ReminderDue]:
        """Open requests owed a due-soon or overdue reminder for the deadline in force.

        ``SKIP LOCKED``: replicas running the same sweep each take different rows, and the
        flag is set in the transaction that writes the event, so each is sent once.
        """
        rows = await conn.fetch(
            "SELECT id, subject_id, due_on FROM requests"
            " WHERE status = ANY($3::text[]) AND due_on IS NOT NULL AND ("
            "   (due_on < $1 AND overdue_sent_for IS DISTINCT FROM due_on)"
            "   OR (due_on >= $1 AND due_on - $2::int <= $1"
            "       AND due_soon_sent_for IS DISTINCT FROM due_on))"
            " ORDER BY due_on LIMIT $4 FOR UPDATE SKIP LOCKED",
            today,
            due_soon_days,
            list(OPEN_STATUSES),
            limit,
        )
        return [record(ReminderDue, r) for r in rows]


request_repository = RequestRepository()
