"""``outbox.enqueue``: in the caller's transaction only, every event once (docs/backbone.md,
Producing)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from tests.kit.support import user_event
from vigie_shared.kit import db, outbox
from vigie_shared.kit.migrate import migrate

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def pool(database_url: str, schema: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_url, schema, None)
    pool = await db.create_pool(database_url, schema, max_size=2)
    yield pool
    await pool.close()


async def test_one_or_several_events_are_written_once_each(pool: asyncpg.Pool) -> None:
    one, *several = [user_event(f"u-{n}") for n in range(4)]
    async with pool.acquire() as conn, conn.transaction():
        await outbox.enqueue(conn, one)
        await outbox.enqueue(conn, *several)
        await outbox.enqueue(conn, one, several[0])  # already there: nothing new
        await outbox.enqueue(conn)
    rows = await pool.fetch("SELECT event_id, key, headers FROM outbox ORDER BY id")
    assert [r["event_id"] for r in rows] == [e.id for e in (one, *several)]
    assert [bytes(r["key"]) for r in rows] == [b"u-0", b"u-1", b"u-2", b"u-3"]
    assert ["ce_id", one.id] in rows[0]["headers"]


async def test_enqueue_outside_a_transaction_is_refused(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside"):
            await outbox.enqueue(conn, user_event("u-9"))
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE key = 'u-9'::bytea") == 0
