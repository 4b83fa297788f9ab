"""``debt_entries`` (migration 0005): the debts each log entry names, kept by a trigger so the
suspension-campaign report follows a debt with B-tree probes. Its rows must be exactly the
(debt, entry) pairs of the log, however the entries were written, and a log migrated before
0005 must report the same after the upgrade."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from audit_log.config import Settings
from audit_log.context import AuditLog
from audit_log.service import SERVICE
from tests.audit_log.reports.support import SINCE, UNTIL, campaign, counts
from tests.audit_log.support import LogUnderTest, entry
from vigie_shared.kit import db
from vigie_shared.kit.db import Conn
from vigie_shared.kit.migrate import migrate

pytestmark = pytest.mark.asyncio(loop_scope="session")

AT = datetime(2024, 3, 4, 10, tzinfo=UTC)


async def debt_rows(conn: Conn) -> set[tuple[str, str, int]]:
    rows = await conn.fetch("SELECT debt_id, type, leaf_index FROM debt_entries")
    return {(r["debt_id"], r["type"], r["leaf_index"]) for r in rows}


async def test_each_debt_an_entry_names_is_one_row(log: LogUnderTest) -> None:
    leaves = await log.append(
        entry(1, type_="vigie.billing.debt.reminded", time=AT, facets={"debt_id": "d1"}),
        entry(2, type_="vigie.access.suspended", time=AT, facets={"debt_ids": ["d1", "d2"]}),
        entry(3, time=AT),  # a login: no debt
        entry(4, type_="vigie.access.restored", time=AT, facets={"debt_ids": []}),
    )
    async with log.pool.acquire() as conn:
        assert await debt_rows(conn) == {
            ("d1", "vigie.billing.debt.reminded", leaves[0].index),
            ("d1", "vigie.access.suspended", leaves[1].index),
            ("d2", "vigie.access.suspended", leaves[1].index),
        }


async def test_a_malformed_facet_names_nothing_and_fails_no_insert(log: LogUnderTest) -> None:
    """Facets come from validated events, but a row written another way (a restore, a manual
    repair) must not break the trigger, nor be indexed under a debt it does not name."""
    async with log.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO log_entries (leaf_index, event_id, topic, type, source, subject, time,"
            " data_subject, key_id, facets, data_ct, leaf_hash)"
            " SELECT i, 'raw-' || i, 'access.events.v1', 'vigie.access.suspended', '/x', 'u', $1,"
            " 'u', 1, f, '\\x00', sha256(i::text::bytea)"
            " FROM unnest($2::bigint[], $3::text[]::jsonb[]) AS t(i, f)",
            AT,
            [900, 901, 902, 903],
            [
                '{"debt_ids": "d9"}',  # not an array
                '{"debt_ids": [null, "d8"]}',
                '{"debt_id": 7}',  # not a string
                '{"debt_id": null, "debt_ids": ["d7", "d7"]}',
            ],
        )
        assert await debt_rows(conn) == {
            ("d8", "vigie.access.suspended", 901),
            ("d7", "vigie.access.suspended", 903),
        }


async def test_debt_rows_are_append_only(log: LogUnderTest) -> None:
    await log.append(entry(1, type_="vigie.billing.debt.settled", facets={"debt_id": "d1"}))
    async with log.pool.acquire() as conn:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("UPDATE debt_entries SET debt_id = 'other'")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("DELETE FROM debt_entries")


async def test_a_log_written_before_the_migration_reports_the_same_after_it(
    database_url: str, schema: str, tmp_path: Path
) -> None:
    assert SERVICE.migrations is not None
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(SERVICE.migrations.glob("*.sql")):
        if path.name < "0005":
            shutil.copy(path, before / path.name)
    await migrate(database_url, schema, before)
    settings = Settings(database_url=database_url, env="development", checkpoint_origin="t/u")
    pool = await db.create_pool(database_url, schema, max_size=2)
    try:
        old = LogUnderTest(settings, schema, pool, AuditLog.build(settings))
        await campaign(old)
        async with pool.acquire() as conn:
            assert not await conn.fetchval("SELECT to_regclass('debt_entries') IS NOT NULL")
        applied = await migrate(database_url, schema, SERVICE.migrations)
        # The back-fill first, then whatever later migrations exist by now.
        assert applied[0] == "service:0005_debt_entries.sql"
        assert all(name > "service:0005" for name in applied[1:])
        async with pool.acquire() as conn:
            assert len(await debt_rows(conn)) == 22  # every entry of the campaign names a debt
            report = await old.audit.reports.suspension_campaign(conn, SINCE, UNTIL)
        # The figures test_reports counts by hand for the same campaign.
        assert counts(report.total) == (7, 4, 2, 1, 4, 2, 3, 86400)
    finally:
        await pool.close()
