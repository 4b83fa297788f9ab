"""The example Moodle connector's answers, one per GDPR action, and its single answer per task."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from dpo_requests.connectors.moodle_example import MIGRATIONS, enrol, moodle
from vigie_shared.events import DpoTaskRequested, TaskAction
from vigie_shared.kit import db
from vigie_shared.kit.migrate import migrate

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def conn(database_url: str, schema: str) -> AsyncIterator[asyncpg.Connection]:
    await migrate(database_url, schema, MIGRATIONS)
    connection = await db.connect(database_url, schema)
    await enrol(
        connection,
        user_id="u-1",
        email="old@example.org",
        firstname="Lea",
        lastname="Old",
        courses={"MAT101": "Maths"},
    )
    yield connection
    await connection.close()


async def answer(
    conn: asyncpg.Connection, action: TaskAction, **extra: Any
) -> tuple[str, dict[str, object]]:
    task = DpoTaskRequested(
        task_id=f"t-{action}",
        request_id="r-1",
        system="moodle",
        action=action,
        subject_id="u-1",
        **extra,
    )
    async with conn.transaction():
        await moodle.answer(conn, task, source="/test")
    row = await conn.fetchrow("SELECT headers, value FROM outbox ORDER BY id DESC LIMIT 1")
    assert row is not None
    return dict(row["headers"])["ce_type"], json.loads(row["value"])


async def test_rectification_corrects_what_moodle_holds_and_names_the_rest(
    conn: asyncpg.Connection,
) -> None:
    kind, body = await answer(
        conn, TaskAction.RECTIFY, corrections={"lastname": "New", "birthplace": "Lyon"}
    )
    assert kind == "vigie.dpo.task.completed"
    assert body["data"] == {"rectified": ["lastname"], "not_held": ["birthplace"]}
    assert await conn.fetchval("SELECT lastname FROM mdl_user WHERE id = 'u-1'") == "New"


async def test_restriction_and_objection_flag_the_account(conn: asyncpg.Connection) -> None:
    assert (await answer(conn, TaskAction.RESTRICT))[1]["data"] == {"restricted": True}
    assert (await answer(conn, TaskAction.OBJECT))[1]["data"] == {"objected": True}
    flags = await conn.fetchrow("SELECT restricted, objected FROM mdl_user WHERE id = 'u-1'")
    assert flags is not None
    assert (flags["restricted"], flags["objected"]) == (True, True)


async def test_an_unknown_learner_has_nothing_to_export_or_erase(conn: asyncpg.Connection) -> None:
    task = DpoTaskRequested(
        task_id="t-x", request_id="r-2", system="moodle", action=TaskAction.EXPORT, subject_id="u-9"
    )
    async with conn.transaction():
        await moodle.answer(conn, task, source="/test")
    value = await conn.fetchval("SELECT value FROM outbox ORDER BY id DESC LIMIT 1")
    assert json.loads(value)["data"] == {"account": None}
