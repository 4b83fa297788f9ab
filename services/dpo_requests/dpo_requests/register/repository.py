"""All SQL of the register of requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import date, datetime
from typing import Final, NamedTuple

from vigie_shared.kit.db import Conn

BATCH_SIZE: Final = 500
"""Requests read at a time: enough to keep the round trips few, few enough to keep memory
flat whatever the register's length. Larger batches are slower, not faster: a batch's rows,
records and lines are written out while they still sit in the processor's caches, which a
larger batch outgrows long before the round trips it saves would count."""

# Paris dates are taken by PostgreSQL, as the stored ``received_on`` and ``closed_on`` are
# (migration 0003): GDPR periods run on Paris days and the register needs no clock time but
# the receipt's.
_SELECT: Final = (
    "SELECT r.id, r.request_type, r.channel, r.received_at, r.received_on,"
    " (r.verified_at AT TIME ZONE 'Europe/Paris')::date AS verified_on,"
    " r.extended_on, r.extension_reason, r.due_on, r.status, r.closed_on,"
    " s.asked_on AS suspensions_asked_on, s.answered_on AS suspensions_answered_on"
    " FROM requests r LEFT JOIN ("
    "   SELECT request_id,"
    "          array_agg((asked_at AT TIME ZONE 'Europe/Paris')::date ORDER BY asked_at, id)"
    "            AS asked_on,"
    "          array_agg((answered_at AT TIME ZONE 'Europe/Paris')::date ORDER BY asked_at, id)"
    "            AS answered_on"
    "   FROM request_suspensions GROUP BY request_id) s ON s.request_id = r.id"
    " WHERE ($1::date IS NULL OR r.received_on >= $1)"
    " AND ($2::date IS NULL OR r.received_on <= $2)"
    " AND ($3::text IS NULL OR r.status = $3)"
    " AND ($4::text IS NULL OR r.request_type = $4)"
    " ORDER BY r.received_at, r.id"
)


class RegisteredRequest(NamedTuple):
    """What the register shows of a request: no requester, its dates (Paris dates, but the
    receipt's timestamp) and how it ended, and its clock suspensions as parallel lists of
    Paris dates (asked, answered; answered is None while one runs), both None when it had
    none: most requests have none, and a NULL costs less to read than an empty array.

    A named tuple rather than a frozen dataclass: it is as typed and as immutable, and one is
    made of each row the register reads, straight from the row's values (a dataclass's
    ``__init__`` sets its fields one at a time, which costs more than reading the row)."""

    id: str
    request_type: str
    channel: str
    received_at: datetime
    received_on: date
    verified_on: date | None
    extended_on: date | None
    extension_reason: str | None
    due_on: date | None
    status: str
    closed_on: date | None
    suspensions_asked_on: list[date] | None
    suspensions_answered_on: list[date | None] | None


class RegisterRepository:
    async def batches(
        self,
        conn: Conn,
        *,
        received_from: date | None,
        received_to: date | None,
        status: str | None,
        request_type: str | None,
        size: int = BATCH_SIZE,
    ) -> AsyncGenerator[list[RegisteredRequest], None]:
        """Requests received from ``received_from`` to ``received_to`` (Paris dates, both
        included) in receipt order, ``size`` at a time, each with its clock suspensions in
        the order :meth:`RequestRepository.suspensions` gives them.

        Read through a server-side cursor, so that one batch is held at a time (and the next
        one read meanwhile) however long the register is; a cursor lives in a transaction (a
        savepoint when the caller has one open). Its query keeps the snapshot it started
        with, so the batches are one consistent register even while requests are written
        meanwhile.
        """
        async with conn.transaction():
            statement = await conn.prepare(_SELECT)
            # Records are built positionally (by keyword costs twice as much, which adds up
            # over every request there is): the SELECT must list the record's fields in order.
            columns = tuple(attribute.name for attribute in statement.get_attributes())
            if columns != RegisteredRequest._fields:
                raise TypeError(
                    f"the register's SELECT gives {columns}, not {RegisteredRequest._fields}"
                )
            cursor = await statement.cursor(received_from, received_to, status, request_type)
            rows = await cursor.fetch(size)
            while rows:
                # The next batch is asked for before this one is handed over, so that
                # PostgreSQL reads and sends it while the caller writes this one out, rather
                # than once the caller comes back for it: one batch in flight, no more.
                ahead = asyncio.create_task(cursor.fetch(size))
                await asyncio.sleep(0)  # lets the fetch send its request now
                try:
                    yield [RegisteredRequest._make(row) for row in rows]
                finally:
                    # However the caller leaves, the cursor's last request ends before the
                    # transaction does.
                    rows = await ahead


register_repository = RegisterRepository()
