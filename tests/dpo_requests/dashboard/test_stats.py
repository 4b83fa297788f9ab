"""Dashboard figures against a register whose answers were worked out by hand (fixtures.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY, generate_latest

from dpo_requests.dashboard.metrics import dpo_metrics
from dpo_requests.dashboard.stats import DashboardStats, load_dashboard
from dpo_requests.service import SERVICE
from tests.dpo_requests.dashboard.fixtures import TODAY, build, utc
from vigie_shared.kit import db
from vigie_shared.kit.migrate import migrate

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def register(database_url: str, module_schema: str) -> AsyncIterator[asyncpg.Connection]:
    await migrate(database_url, module_schema, SERVICE.migrations)
    conn = await db.connect(database_url, module_schema)
    await build(conn)
    yield conn
    await conn.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stats(register: asyncpg.Connection) -> DashboardStats:
    return await load_dashboard(register, today=TODAY)


async def test_open_requests_are_counted_by_status_and_by_type(stats: DashboardStats) -> None:
    assert stats.open_total == 7
    assert stats.open_by_status == {"received": 3, "identity_pending": 1, "in_progress": 3}
    assert stats.open_by_type == {
        "access": 3,
        "rectification": 1,
        "erasure": 2,
        "restriction": 0,
        "portability": 0,
        "objection": 1,
    }


async def test_overdue_due_soon_extended_and_stopped_clocks(stats: DashboardStats) -> None:
    assert stats.overdue == 2
    # Due today (0 days left) counts; due in 8 days does not (7-day horizon, due day included).
    assert stats.due_soon == 2
    assert stats.extended == 1
    assert stats.suspended == 1
    assert [(r.id.split("-")[1], r.due_on, r.days_late) for r in stats.overdue_requests] == [
        ("A", date(2026, 2, 10), 34),
        ("B", date(2026, 3, 2), 14),
    ]


async def test_tasks_unfinished_for_three_days_of_requests_in_progress_are_stuck(
    stats: DashboardStats,
) -> None:
    assert [(s.system, s.stuck, s.manual, s.failed) for s in stats.stuck_tasks] == [
        ("moodle", 2, 0, 1),
        ("archives", 1, 1, 0),
        ("sso", 1, 0, 1),
    ]
    assert stats.stuck_tasks[0].oldest_requested_at == utc(2026, 1, 21, 9)


async def test_on_time_rate_median_and_90th_percentile_of_days_to_close(
    stats: DashboardStats,
) -> None:
    # H 10, I 20, J 30, K 31 (closed 23:30 UTC on its due date: the next day in Paris, late),
    # L 5 (refused while its clock was stopped). N closed before the window, O withdrawn.
    assert stats.closed == 5
    assert stats.closed_on_time == 4
    assert stats.on_time_rate == pytest.approx(0.8)
    assert stats.median_days_to_close == pytest.approx(20)
    # percentile_cont: 30 + 0.6 * (31 - 30) between the 4th and 5th of 5, 10, 20, 30, 31.
    assert stats.p90_days_to_close == pytest.approx(30.6)


async def test_volume_per_paris_month_year_over_year(stats: DashboardStats) -> None:
    assert (stats.current_year, stats.previous_year) == (2026, 2025)
    current = [m.current for m in stats.volume]
    previous = [m.previous for m in stats.volume]
    # O, received 31/12/2025 at 23:30 UTC, is January 2026 in Paris.
    assert current == [3, 3, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert previous == [0, 0, 2, 0, 0, 1, 0, 0, 1, 1, 1, 1]
    assert (stats.current_year_total, stats.previous_year_total) == (8, 7)
    # Up to 16 March 2025 in Paris: P (23:30 Paris) but not Q (00:30 on the 17th).
    assert stats.previous_year_to_date == 1
    assert stats.year_over_year == pytest.approx(8 / 7 - 1)


async def test_an_empty_register_gives_zeros_and_no_rates(database_url: str, schema: str) -> None:
    await migrate(database_url, schema, SERVICE.migrations)
    conn = await db.connect(database_url, schema)
    try:
        empty = await load_dashboard(conn, today=TODAY)
    finally:
        await conn.close()
    assert empty.open_total == 0
    assert empty.closed == 0
    assert empty.on_time_rate is None
    assert empty.median_days_to_close is None
    assert empty.year_over_year is None
    assert len(empty.volume) == 12
    assert not empty.stuck_tasks


async def test_gauges_count_every_status_and_the_overdue(register: asyncpg.Connection) -> None:
    await dpo_metrics.refresh(register, today=TODAY)
    expected = {
        "received": 3,
        "identity_pending": 1,
        "in_progress": 3,
        "completed": 4,
        "refused": 2,
        "withdrawn": 3,
    }
    for status, count in expected.items():
        assert REGISTRY.get_sample_value("vigie_dpo_requests", {"status": status}) == count
    assert REGISTRY.get_sample_value("vigie_dpo_requests_overdue") == 2
    # A later day: D (16/03), C (20/03) and G (24/03) are overdue too, F (07/04) not yet.
    await dpo_metrics.refresh(register, today=date(2026, 3, 25))
    assert REGISTRY.get_sample_value("vigie_dpo_requests_overdue") == 5
    exposed = generate_latest().decode()
    assert 'vigie_dpo_requests{status="identity_pending"} 1.0' in exposed
