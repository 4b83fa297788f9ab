"""All SQL of the register of requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from vigie_shared.kit.db import Conn


@dataclass(frozen=True, slots=True)
class RegisteredRequest:
    """What the register shows of a request: no requester, its dates and how it ended, and its
    clock suspensions as parallel lists (asked, answered; answered is None while one runs)."""

    id: str
    request_type: str
    channel: str
    received_at: datetime
    verified_at: datetime | None
    extended_on: date | None
    extension_reason: str | None
    due_on: date | None
    status: str
    closed_at: datetime | None
    suspensions_asked: list[datetime]
    suspensions_answered: list[datetime | None]


class RegisterRepository:
    async def rows(
        self,
        conn: Conn,
        *,
        received_from: date | None,
        received_to: date | None,
        status: str | None,
        request_type: str | None,
    ) -> list[RegisteredRequest]:
        """Requests received from ``received_from`` to ``received_to`` (Paris dates, both
        included) in receipt order, each with its clock suspensions as two parallel arrays
        (asked, answered) in the order :meth:`RequestRepository.suspensions` gives them."""
        rows = await conn.fetch(
            "SELECT r.id, r.request_type, r.channel, r.received_at, r.verified_at,"
            " r.extended_on, r.extension_reason, r.due_on, r.status, r.closed_at,"
            " coalesce(s.asked, '{}') AS suspensions_asked,"
            " coalesce(s.answered, '{}') AS suspensions_answered"
            " FROM requests r LEFT JOIN ("
            "   SELECT request_id, array_agg(asked_at ORDER BY asked_at, id) AS asked,"
            "          array_agg(answered_at ORDER BY asked_at, id) AS answered"
            "   FROM request_suspensions GROUP BY request_id) s ON s.request_id = r.id"
            " WHERE ($1::date IS NULL OR r.received_on >= $1)"
            " AND ($2::date IS NULL OR r.received_on <= $2)"
            " AND ($3::text IS NULL OR r.status = $3)"
            " AND ($4::text IS NULL OR r.request_type = $4)"
            " ORDER BY r.received_at, r.id",
            received_from,
            received_to,
            status,
            request_type,
        )
        # By keyword from the row itself: the SELECT names exactly the record's fields (a
        # mismatch is a TypeError at once), and the register reads every request there is, so
        # it skips the kit's field-by-field ``record``, whose lookups add up over a register.
        return [RegisteredRequest(**r) for r in rows]


register_repository = RegisterRepository()
