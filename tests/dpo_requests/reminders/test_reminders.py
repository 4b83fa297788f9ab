"""due_soon and overdue reminders: sent once per deadline, by one replica, across restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
import pytest_asyncio

from dpo_requests.deadlines import paris_date
from dpo_requests.reminders.service import reminders
from dpo_requests.requests.schemas import RequestCreate
from dpo_requests.requests.service import rights_request
from dpo_requests.service import SERVICE
from vigie_shared.events import Actor, RequestType
from vigie_shared.kit import db
from vigie_shared.kit.migrate import migrate

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def conn(database_url: str, schema: str) -> AsyncIterator[asyncpg.Connection]:
    await migrate(database_url, schema, SERVICE.migrations)
    connection = await db.connect(database_url, schema)
    yield connection
    await connection.close()


async def file(conn: asyncpg.Connection, days_ago: int) -> str:
    request = await rights_request.register(
        conn,
        RequestCreate(
            request_type=RequestType.ACCESS,
            requester=f"r{days_ago}@example.org",
            channel="email",
            received_at=datetime.now(UTC) - timedelta(days=days_ago),
        ),
    )
    return request.id


async def reminders_sent(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await conn.fetch("SELECT headers, value FROM outbox ORDER BY id")
    sent = []
    for row in rows:
        kind = dict(row["headers"])["ce_type"]
        if kind in ("vigie.dpo.request.due_soon", "vigie.dpo.request.overdue"):
            sent.append((kind.rsplit(".", 1)[1], json.loads(row["value"])["request_id"]))
    return sent


def today() -> date:
    return paris_date(datetime.now(UTC))


async def test_due_soon_and_overdue_are_each_sent_once(conn: asyncpg.Connection) -> None:
    soon = await file(conn, 26)
    late = await file(conn, 45)
    fresh = await file(conn, 1)
    assert await reminders.sweep(conn, today=today()) == 2
    assert await reminders.sweep(conn, today=today()) == 0
    assert sorted(await reminders_sent(conn)) == [("due_soon", soon), ("overdue", late)]
    assert fresh not in [r for _, r in await reminders_sent(conn)]
    # Later, the first one is overdue too: its overdue reminder is owed once more.
    later = today() + timedelta(days=10)
    assert await reminders.sweep(conn, today=later) == 1
    assert (await reminders_sent(conn))[-1] == ("overdue", soon)


async def test_an_extended_deadline_owes_its_own_reminders(conn: asyncpg.Connection) -> None:
    from dpo_requests.requests.schemas import ExtensionCreate

    request_id = await file(conn, 25)
    assert await reminders.sweep(conn, today=today()) == 1
    await rights_request.extend(
        conn, request_id, ExtensionCreate(reason="volume"), Actor(kind="user", id="dpo")
    )
    due_on = await conn.fetchval("SELECT due_on FROM requests WHERE id = $1", request_id)
    assert await reminders.sweep(conn, today=due_on - timedelta(days=3)) == 1
    assert [k for k, _ in await reminders_sent(conn)] == ["due_soon", "due_soon"]


async def test_replicas_sweeping_at_once_send_each_reminder_once(
    conn: asyncpg.Connection, database_url: str, schema: str
) -> None:
    for days in (26, 27, 28, 40, 41, 42):
        await file(conn, days)
    replicas = [await db.connect(database_url, schema) for _ in range(3)]
    try:
        counts = await asyncio.gather(*(reminders.sweep(c, today=today()) for c in replicas))
    finally:
        for replica in replicas:
            await replica.close()
    assert sum(counts) == 6
    sent = await reminders_sent(conn)
    assert len(sent) == len(set(sent)) == 6
