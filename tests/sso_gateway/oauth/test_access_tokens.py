"""Access-token rows written together under load, each request told when its own row is
stored, or that its batch failed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from fastapi import FastAPI

from sso_gateway.oauth.access_tokens import AccessTokenRow, AccessTokenWriter
from tests.sso_gateway.oauth.support import CountingPool, pool_of
from tests.sso_gateway.support import make_client, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")


def row(client_id: str) -> AccessTokenRow:
    return AccessTokenRow(
        jti=unique("jti"),
        client_id=client_id,
        user_id=None,
        session_id=None,
        family_id=None,
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
    )


async def test_rows_written_under_load_go_together_and_are_stored_when_awaited(
    sso: FastAPI,
) -> None:
    platform = await make_client(sso, grant_types=["client_credentials"])
    writer = AccessTokenWriter(max_batch=50)
    pool = CountingPool(pool_of(sso))
    writer.start(pool)  # type: ignore[arg-type]
    rows = [row(platform.client_id) for _ in range(120)]
    await asyncio.gather(*(writer.write(r) for r in rows))
    # All 120 were queued before the writer first ran: batches of at most 50, 3 statements.
    assert pool.acquired == 3
    async with pool_of(sso).acquire() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM access_tokens WHERE jti = ANY($1::text[])",
            [r.jti for r in rows],
        )
    assert stored == 120


async def test_a_failed_write_fails_every_request_of_its_batch_and_the_next_ones_go_through(
    sso: FastAPI,
) -> None:
    platform = await make_client(sso, grant_types=["client_credentials"])
    writer = AccessTokenWriter()
    writer.start(pool_of(sso))
    good = row(platform.client_id)
    # A jti already stored breaks the primary key: the whole statement is refused.
    taken = row(platform.client_id)
    await writer.write(taken)
    batch = [row(platform.client_id), taken]
    results = await asyncio.gather(*(writer.write(r) for r in batch), return_exceptions=True)
    assert all(isinstance(r, asyncpg.UniqueViolationError) for r in results), results
    await writer.write(good)
    async with pool_of(sso).acquire() as conn:
        stored = await conn.fetch(
            "SELECT jti FROM access_tokens WHERE jti = ANY($1::text[])",
            [r.jti for r in [*batch, good]],
        )
    # The first row of the failed batch was not stored; the one written after it was.
    assert {r["jti"] for r in stored} == {taken.jti, good.jti}
