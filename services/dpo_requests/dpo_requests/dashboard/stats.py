"""The DPO's figures at a glance: open work, deadlines, closing times, year-over-year volume.

Everything is aggregated by PostgreSQL (``FILTER``, ``GROUPING SETS``, ``percentile_cont``) from
covering indexes (migration 0003), in one read-only snapshot: the dashboard reads a few hundred
rows at most whatever the size of the register (``bench/bench_dpo.py`` times it against
its target). Dates are Europe/Paris dates, like the deadlines.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from pydantic import BaseModel, Field

from dpo_requests.dashboard.repository import DashboardRepository, dashboard_repository
from dpo_requests.deadlines import DUE_SOON_DAYS, PARIS
from dpo_requests.requests.repository import OPEN_STATUSES
from vigie_shared.events import RequestType
from vigie_shared.kit.db import Conn

#: A task unfinished after this many days is shown as stuck: the default data-system timeout
#: (``VIGIE_TASK_TIMEOUT_SECONDS``, 3 days) has passed at least once.
STUCK_AFTER_DAYS = 3
#: Closing times and the on-time rate are measured over the last twelve months.
PERFORMANCE_WINDOW_DAYS = 365
OVERDUE_SHOWN = 10


class MonthVolume(BaseModel):
    month: int = Field(ge=1, le=12, examples=[9])
    current: int = Field(description="Requests received that month of the current year.")
    previous: int = Field(description="Requests received that month of the previous year.")


class StuckSystem(BaseModel):
    system: str = Field(examples=["moodle"])
    stuck: int = Field(description="Unfinished tasks older than the threshold.")
    manual: int = Field(description="Of which waiting for someone to act by hand.")
    failed: int = Field(description="Of which failed or timed out.")
    oldest_requested_at: datetime


class OverdueRequest(BaseModel):
    id: str
    request_type: RequestType
    status: str
    due_on: date
    days_late: int


class DashboardStats(BaseModel):
    """What the DPO dashboard shows (GDPR Art. 12(3) deadlines, Europe/Paris dates)."""

    today: date
    open_total: int
    open_by_status: dict[str, int] = Field(
        description="Open requests per status (every open status, zeros included).",
        examples=[{"received": 4, "identity_pending": 1, "in_progress": 7}],
    )
    open_by_type: dict[str, int] = Field(
        description="Open requests per type (every type, zeros included)."
    )
    overdue: int = Field(description="Open requests whose due date has passed.")
    due_soon_days: int = DUE_SOON_DAYS
    due_soon: int = Field(description="Open requests due today or within `due_soon_days` days.")
    extended: int = Field(description="Open requests under the Art. 12(3) extension.")
    suspended: int = Field(description="Clocks stopped awaiting identity information (12(6)).")
    overdue_requests: list[OverdueRequest] = Field(description="The most overdue first.")
    stuck_after_days: int = STUCK_AFTER_DAYS
    stuck_tasks: list[StuckSystem] = Field(description="Per data system, most stuck first.")
    window_days: int = PERFORMANCE_WINDOW_DAYS
    closed: int = Field(description="Requests answered (completed or refused) in the window.")
    closed_on_time: int
    on_time_rate: float | None = Field(None, description="closed_on_time / closed (0..1).")
    median_days_to_close: float | None = None
    p90_days_to_close: float | None = None
    current_year: int
    previous_year: int
    volume: list[MonthVolume] = Field(description="Twelve months, January first.")
    current_year_total: int
    previous_year_total: int
    previous_year_to_date: int = Field(
        description="Previous year's requests up to the same day: the like-for-like comparison."
    )
    year_over_year: float | None = Field(
        None,
        description="Change of the current year's total over the previous year's (0.81 = +81 %).",
    )


def paris_midnight(day: date) -> datetime:
    """The instant a Paris calendar day starts (DST-aware)."""
    return datetime.combine(day, time(), tzinfo=PARIS)


def _same_day_previous_year(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


class DashboardService:
    def __init__(self, repository: DashboardRepository) -> None:
        self._repository = repository

    async def load(self, conn: Conn, *, today: date) -> DashboardStats:
        if conn.is_in_transaction():
            return await self._load(conn, today=today)
        # One snapshot for every query: the counters agree with each other (the open total is
        # the sum by status) even while requests change between two queries.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return await self._load(conn, today=today)

    async def _load(self, conn: Conn, *, today: date) -> DashboardStats:
        counters = await self._repository.open_counters(
            conn, today=today, due_soon_days=DUE_SOON_DAYS
        )
        breakdown = await self._repository.open_breakdown(conn)
        by_status = dict.fromkeys(OPEN_STATUSES, 0) | breakdown.by_status
        by_type = dict.fromkeys((t.value for t in RequestType), 0) | breakdown.by_type
        overdue = [
            OverdueRequest.model_validate(late, from_attributes=True)
            for late in await self._repository.overdue(conn, today=today, limit=OVERDUE_SHOWN)
        ]
        stuck = [
            StuckSystem(
                system=row.system,
                stuck=row.stuck,
                manual=row.manual,
                failed=row.failed,
                oldest_requested_at=row.oldest,
            )
            for row in await self._repository.stuck_tasks(
                conn, before=paris_midnight(today - timedelta(days=STUCK_AFTER_DAYS))
            )
        ]
        closing = await self._repository.closing_times(
            conn, since=today - timedelta(days=PERFORMANCE_WINDOW_DAYS)
        )
        year = today.year
        months: dict[tuple[int, int], int] = {}
        previous_to_date = 0
        split = _same_day_previous_year(today)
        for row in await self._repository.daily_volume(
            conn, first=date(year - 1, 1, 1), last=date(year, 12, 31)
        ):
            day = row.day
            months[day.year, day.month] = months.get((day.year, day.month), 0) + row.n
            if day.year == year - 1 and day <= split:
                previous_to_date += row.n
        volume = [
            MonthVolume(
                month=month,
                current=months.get((year, month), 0),
                previous=months.get((year - 1, month), 0),
            )
            for month in range(1, 13)
        ]
        current_total = sum(m.current for m in volume)
        previous_total = sum(m.previous for m in volume)
        median, p90 = closing.percentiles or (None, None)
        closed = closing.closed
        return DashboardStats(
            today=today,
            open_total=counters.open_total,
            open_by_status=by_status,
            open_by_type=by_type,
            overdue=counters.overdue,
            due_soon=counters.due_soon,
            extended=counters.extended,
            suspended=counters.suspended,
            overdue_requests=overdue,
            stuck_tasks=stuck,
            closed=closed,
            closed_on_time=closing.on_time,
            on_time_rate=closing.on_time / closed if closed else None,
            median_days_to_close=median,
            p90_days_to_close=p90,
            current_year=year,
            previous_year=year - 1,
            volume=volume,
            current_year_total=current_total,
            previous_year_total=previous_total,
            previous_year_to_date=previous_to_date,
            year_over_year=current_total / previous_total - 1 if previous_total else None,
        )


dashboard = DashboardService(dashboard_repository)


async def load_dashboard(conn: Conn, *, today: date) -> DashboardStats:
    """The dashboard's figures on ``today`` (a Europe/Paris date)."""
    return await dashboard.load(conn, today=today)
