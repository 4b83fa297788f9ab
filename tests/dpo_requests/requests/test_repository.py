"""The request and task UPDATEs (one kit helper): values bound as parameters, columns only from
each repository's fixed list."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import asyncpg
import pytest
import pytest_asyncio

from dpo_requests.requests.repository import QueueSlice, QueueSort, request_repository
from dpo_requests.service import SERVICE
from dpo_requests.tasks.repository import task_repository
from vigie_shared.kit import db
from vigie_shared.kit.migrate import migrate

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def conn(database_url: str, module_schema: str) -> AsyncIterator[asyncpg.Connection]:
    await migrate(database_url, module_schema, SERVICE.migrations)
    connection = await db.connect(database_url, module_schema)
    yield connection
    await connection.close()


async def _request(conn: asyncpg.Connection) -> str:
    request_id = f"r-{uuid.uuid4().hex[:12]}"
    await request_repository.insert(
        conn,
        request_id=request_id,
        request_type="access",
        requester="someone@example.org",
        subject_id="learner-1",
        message=None,
        channel="email",
        received_at=datetime(2025, 3, 15, 9, tzinfo=UTC),
        due_on=date(2025, 4, 15),
    )
    return request_id


async def test_a_column_name_carrying_sql_is_refused_before_any_sql_runs(
    conn: asyncpg.Connection,
) -> None:
    request_id = await _request(conn)

    with pytest.raises(ValueError, match="no updatable column"):
        await request_repository.update(
            conn, request_id, **{"status = 'completed', requester": "x"}
        )

    row = await request_repository.get(conn, request_id)
    assert row is not None
    assert (row.status, row.requester) == ("received", "someone@example.org")


async def test_a_column_outside_the_list_is_refused_even_if_it_exists(
    conn: asyncpg.Connection,
) -> None:
    request_id = await _request(conn)

    with pytest.raises(ValueError, match="requester"):
        await request_repository.update(conn, request_id, requester="attacker@example.org")


async def test_a_value_carrying_sql_is_stored_as_text(conn: asyncpg.Connection) -> None:
    request_id = await _request(conn)
    hostile = "x'; UPDATE requests SET status = 'completed'; --"

    row = await request_repository.update(conn, request_id, closing_note=hostile)

    assert (row.closing_note, row.status) == (hostile, "received")


async def test_a_task_update_sets_the_named_columns_only(conn: asyncpg.Connection) -> None:
    request_id = await _request(conn)
    task_id = f"t-{uuid.uuid4().hex[:10]}"
    await task_repository.insert(
        conn,
        task_id=task_id,
        request_id=request_id,
        system="moodle",
        action="export",
        manual=False,
        requested_at=datetime(2025, 3, 16, tzinfo=UTC),
        due_at=None,
    )

    row = await task_repository.update(conn, task_id, status="failed", error="no answer")

    assert (row.status, row.error, row.manual, row.attempts) == (
        "failed",
        "no answer",
        False,
        1,
    )
    with pytest.raises(ValueError, match="request_id"):
        await task_repository.update(conn, task_id, request_id="r-other")


async def _objections(
    conn: asyncpg.Connection,
    *,
    statuses: list[str] | None = None,
    overdue_on: date | None = None,
    sort: QueueSort = "received",
    page: int = 1,
) -> QueueSlice:
    return await request_repository.queue(
        conn,
        statuses=statuses,
        request_type="objection",
        overdue_on=overdue_on,
        sort=sort,
        limit=25,
        page=page,
    )


async def test_the_queue_sorts_and_pages_in_the_database_stopped_clocks_last(
    conn: asyncpg.Connection,
) -> None:
    # 27 requests of a type no other test here uses, due on 27 distinct days (received in
    # shuffled order), and one whose clock is stopped (no due date).
    ids: dict[int, str] = {}
    for day in [*range(14, 28), *range(1, 14)]:
        request_id = f"r-{uuid.uuid4().hex[:12]}"
        ids[day] = request_id
        await request_repository.insert(
            conn,
            request_id=request_id,
            request_type="objection",
            requester=f"q{day}@example.org",
            subject_id=None,
            message=None,
            channel="email",
            received_at=datetime(2025, 1, 1, 9, tzinfo=UTC).replace(minute=day),
            due_on=date(2025, 2, day),
        )
    stopped = ids.pop(27)
    await request_repository.update(conn, stopped, status="identity_pending", due_on=None)

    first = await _objections(conn, sort="due", page=1)
    beyond = await _objections(conn, sort="due", page=99)
    waiting = await _objections(conn, statuses=["identity_pending"])
    overdue = await _objections(conn, overdue_on=date(2025, 2, 3))
    oldest_received = await _objections(conn, sort="received", page=2)
    nothing = await _objections(conn, statuses=["withdrawn"], page=3)

    assert (first.total, first.pages, first.page) == (27, 2, 1)
    assert [r.id for r in first.rows] == [ids[day] for day in range(1, 26)]
    assert beyond.page == 2
    assert [r.id for r in beyond.rows] == [ids[26], stopped]
    assert [r.id for r in waiting.rows] == [stopped]
    # Newest receipt first: received at 09:02 after 09:01.
    assert [r.id for r in overdue.rows] == [ids[2], ids[1]]
    assert [r.id for r in oldest_received.rows] == [ids[2], ids[1]]
    assert (nothing.total, nothing.pages, nothing.page, nothing.rows) == (0, 1, 1, [])
