"""All SQL of the DPO dashboard: aggregates computed by PostgreSQL in a few passes.

Dates are Europe/Paris calendar dates, like the deadlines (``deadlines.civil_calendar``): a request
received at 23:30 UTC on 31 December belongs to January in Paris, so every timestamp is
turned into its Paris date (``AT TIME ZONE 'Europe/Paris'``) before it is counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from vigie_shared.kit.db import Conn, record

# OPEN_STATUSES is spelled out in the SQL text rather than bound as a parameter so that the
# planner can match the partial indexes declared on the same list (migration 0002).

#: Statuses that answer a request (GDPR Art. 12(3) and 12(4)); a withdrawal answers nothing.
ANSWERED_STATUSES = ("completed", "refused")


@dataclass(frozen=True, slots=True)
class OpenCounters:
    open_total: int
    overdue: int
    due_soon: int
    extended: int
    suspended: int


@dataclass(frozen=True, slots=True)
class OpenBreakdown:
    """Open requests counted per status and per type (only those with at least one)."""

    by_status: dict[str, int]
    by_type: dict[str, int]


@dataclass(frozen=True, slots=True)
class OverdueRecord:
    id: str
    request_type: str
    status: str
    due_on: date
    days_late: int


@dataclass(frozen=True, slots=True)
class ClosingTimes:
    """``percentiles`` is (median, 90th) in days, None when nothing was closed."""

    closed: int
    on_time: int
    percentiles: list[float] | None


@dataclass(frozen=True, slots=True)
class DayVolume:
    day: date
    n: int


@dataclass(frozen=True, slots=True)
class StuckTasks:
    system: str
    stuck: int
    manual: int
    failed: int
    oldest: datetime


class DashboardRepository:
    async def open_counters(self, conn: Conn, *, today: date, due_soon_days: int) -> OpenCounters:
        """One pass over the open requests (``requests_reminders`` partial index)."""
        row = await conn.fetchrow(
            "SELECT count(*) AS open_total,"
            " count(*) FILTER (WHERE due_on < $1) AS overdue,"
            " count(*) FILTER (WHERE due_on >= $1 AND due_on <= $1 + $2::int) AS due_soon,"
            " count(*) FILTER (WHERE extended_on IS NOT NULL) AS extended,"
            " count(*) FILTER (WHERE status = 'identity_pending') AS suspended"
            " FROM requests WHERE status IN ('received', 'identity_pending', 'in_progress')",
            today,
            due_soon_days,
        )
        assert row is not None  # an aggregate without GROUP BY always returns one row
        return record(OpenCounters, row)

    async def open_breakdown(self, conn: Conn) -> OpenBreakdown:
        """Open requests by status and by type in one pass (``GROUPING SETS``)."""
        rows = await conn.fetch(
            "SELECT status, request_type, count(*) AS n FROM requests"
            " WHERE status IN ('received', 'identity_pending', 'in_progress')"
            " GROUP BY GROUPING SETS ((status), (request_type))"
        )
        # A row of the (status) set has no type, one of the (request_type) set no status.
        return OpenBreakdown(
            by_status={r["status"]: r["n"] for r in rows if r["status"] is not None},
            by_type={r["request_type"]: r["n"] for r in rows if r["status"] is None},
        )

    async def overdue(self, conn: Conn, *, today: date, limit: int) -> list[OverdueRecord]:
        """The most overdue open requests first (``requests_reminders`` index on due_on)."""
        rows = await conn.fetch(
            "SELECT id, request_type, status, due_on, $1 - due_on AS days_late FROM requests"
            " WHERE status IN ('received', 'identity_pending', 'in_progress') AND due_on < $1"
            " ORDER BY due_on, id LIMIT $2",
            today,
            limit,
        )
        return [record(OverdueRecord, r) for r in rows]

    async def closing_times(self, conn: Conn, *, since: date) -> ClosingTimes:
        """Answered requests closed on or after ``since``: on time, median and 90th percentile.

        Days to close are calendar days from the Paris receipt date to the Paris closing date
        (what the requester waits, clock suspensions included). On time means closed on or
        before the due date in force; a request answered while its clock was stopped
        (``due_on`` NULL) is on time, since the clock cannot be stopped once the deadline has
        passed (GDPR Art. 12(6), ``SuspensionAfterDueDateError``). Both percentiles come from
        one sort (``percentile_cont`` over an array of fractions).
        """
        row = await conn.fetchrow(
            "SELECT count(*) AS closed,"
            " count(*) FILTER (WHERE due_on IS NULL OR closed_on <= due_on) AS on_time,"
            " percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY closed_on - received_on)"
            " AS percentiles"
            " FROM requests WHERE status IN ('completed', 'refused') AND closed_on >= $1",
            since,
        )
        assert row is not None
        return record(ClosingTimes, row)

    async def daily_volume(self, conn: Conn, *, first: date, last: date) -> list[DayVolume]:
        """Requests received per Paris day from ``first`` to ``last`` (both included).

        Grouped by the stored day (an index-only scan of ``requests_received_on``, no function
        per row): at most 731 rows, folded into months by the caller. Grouping by month in SQL
        would evaluate ``extract``/``date_trunc`` on every row instead.
        """
        rows = await conn.fetch(
            "SELECT received_on AS day, count(*) AS n FROM requests"
            " WHERE received_on BETWEEN $1 AND $2 GROUP BY received_on",
            first,
            last,
        )
        return [record(DayVolume, r) for r in rows]

    async def stuck_tasks(self, conn: Conn, *, before: datetime) -> list[StuckTasks]:
        """Per system, tasks of requests in progress still unfinished since before ``before``
        (``tasks_unfinished`` partial index, migration 0003)."""
        rows = await conn.fetch(
            "SELECT t.system, count(*) AS stuck, count(*) FILTER (WHERE t.manual) AS manual,"
            " count(*) FILTER (WHERE t.status IN ('failed', 'timed_out')) AS failed,"
            " min(t.requested_at) AS oldest"
            " FROM tasks t JOIN requests r ON r.id = t.request_id"
            " WHERE t.status <> 'completed' AND t.requested_at < $1"
            " AND r.status = 'in_progress'"
            " GROUP BY t.system ORDER BY stuck DESC, t.system",
            before,
        )
        return [record(StuckTasks, r) for r in rows]

    async def count_by_status(self, conn: Conn) -> dict[str, int]:
        """Requests per status, for the statuses that have any."""
        rows = await conn.fetch("SELECT status, count(*) AS n FROM requests GROUP BY status")
        return {r["status"]: r["n"] for r in rows}

    async def count_overdue(self, conn: Conn, *, today: date) -> int:
        value: int = await conn.fetchval(
            "SELECT count(*) FROM requests"
            " WHERE status IN ('received', 'identity_pending', 'in_progress') AND due_on < $1",
            today,
        )
        return value


dashboard_repository = DashboardRepository()
