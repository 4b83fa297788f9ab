"""All SQL of the register of requests."""

from __future__ import annotations

from datetime import date

import asyncpg

from vigie_shared.kit.db import Conn


class RegisterRepository:
    async def rows(
        self,
        conn: Conn,
        *,
        received_from: date | None,
        received_to: date | None,
        status: str | None,
        request_type: str | None,
    ) -> list[asyncpg.Record]:
        """Requests received from ``received_from`` to ``received_to`` (Paris dates, both
        included) in receipt order, each with its clock suspensions as two parallel arrays
        (asked, answered) in the order :meth:`RequestRepository.suspensions` gives them."""
        rows: list[asyncpg.Record] = await conn.fetch(
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
        return rows


register_repository = RegisterRepository()
