"""``vigie up --demo``: 81 requests last year and 147 this year, seeded once, each with the due
date the service itself computes, and today's open work on the dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from dpo_requests.config import Settings
from dpo_requests.dashboard.stats import DashboardStats, load_dashboard
from dpo_requests.deadlines import paris_date
from dpo_requests.demo import seed, seed_demo
from dpo_requests.register.export import register_export
from dpo_requests.requests.repository import RequestRecord
from dpo_requests.requests.service import rights_request
from dpo_requests.service import SERVICE
from vigie_shared.kit import db
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.migrate import migrate

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def seeded(database_url: str, module_schema: str) -> AsyncIterator[asyncpg.Connection]:
    await migrate(database_url, module_schema, SERVICE.migrations)
    first = await seed_demo(Settings(database_url=database_url), schema=module_schema)
    assert first == ["requests   228 rights requests on file"]
    conn = await db.connect(database_url, module_schema)
    yield conn
    await conn.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stats(seeded: asyncpg.Connection) -> DashboardStats:
    return await load_dashboard(seeded, today=paris_date(utcnow()))


async def test_81_requests_last_year_and_147_this_year(stats: DashboardStats) -> None:
    assert stats.previous_year_total == 81
    assert stats.current_year_total == 147
    assert stats.year_over_year == pytest.approx(147 / 81 - 1)


async def test_seeding_again_adds_nothing(database_url: str, seeded: asyncpg.Connection) -> None:
    assert await seed(seeded, now=utcnow()) == 0
    schema = await seeded.fetchval("SELECT current_schema()")
    again = await seed_demo(Settings(database_url=database_url), schema=schema)
    assert again == ["requests   228 rights requests on file"]
    assert (
        await seeded.fetchval("SELECT count(*) FROM request_timeline WHERE kind = 'received'")
        == 228
    )


async def test_every_stored_due_date_is_the_one_the_service_computes(
    seeded: asyncpg.Connection,
) -> None:
    rows = await seeded.fetch("SELECT * FROM requests ORDER BY received_at")
    suspended = set(
        await seeded.fetch("SELECT request_id FROM request_suspensions WHERE answered_at IS NULL")
    )
    open_waits = {r["request_id"] for r in suspended}
    for row in rows:
        deadline = await rights_request.deadline(seeded, db.record(RequestRecord, row))
        assert row["due_on"] == deadline.due_on, row["id"]
        assert (row["status"] == "identity_pending") == (row["id"] in open_waits)
        closed = row["status"] in ("completed", "refused", "withdrawn")
        assert (row["closed_at"] is not None) == closed
        if row["status"] in ("in_progress", "completed"):
            assert row["verified_at"] is not None
            assert row["verified_at"] > row["received_at"]
        if row["closed_at"] is not None:
            assert row["received_at"] < row["closed_at"] <= utcnow()
    # The receipt on the timeline is dated when the request was received, not when seeded.
    dated = await seeded.fetchval(
        "SELECT count(*) FROM request_timeline t JOIN requests r ON r.id = t.request_id"
        " WHERE t.kind = 'received' AND t.at = r.received_at"
    )
    assert dated == 228


async def test_the_dashboard_has_today_s_open_work_and_a_history(stats: DashboardStats) -> None:
    assert stats.overdue >= 1
    assert stats.suspended >= 1
    assert stats.stuck_tasks
    assert 0.8 <= (stats.on_time_rate or 0) < 1  # mostly on time, a few late
    assert stats.median_days_to_close is not None
    assert stats.p90_days_to_close is not None
    assert stats.median_days_to_close <= stats.p90_days_to_close
    assert sum(stats.open_by_type.values()) == stats.open_total


async def test_the_register_shows_extensions_waits_refusals_and_withdrawals(
    seeded: asyncpg.Connection,
) -> None:
    rows = await register_export.rows(seeded, today=paris_date(utcnow()))
    assert len(rows) == 228
    assert any(r.extended for r in rows)
    assert any(r.suspended_days > 0 for r in rows)
    statuses = {r.status for r in rows}
    assert {"completed", "refused", "withdrawn", "in_progress"} <= statuses
    assert {r.channel for r in rows} == {"online", "email", "post"}
    assert len({r.request_type for r in rows}) == 6
