"""GDPR inside the log: erasure (Art. 17) and retention (Art. 5(1)(e)) destroy data keys; the
entries stay in the tree, so proofs and verification still hold, but their personal content is
gone."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from audit_log import cli
from audit_log.merkle import verify_inclusion
from audit_log.shredding.handlers import data_system
from tests.audit_log.support import LogUnderTest, entry
from vigie_shared.events import DpoTaskRequested, TaskAction
from vigie_shared.kit.clock import utcnow

pytestmark = pytest.mark.asyncio(loop_scope="session")


def task(action: TaskAction, subject: str) -> DpoTaskRequested:
    return DpoTaskRequested(
        task_id="t-1", request_id="r-1", system="audit_log", action=action, subject_id=subject
    )


async def test_erasure_shreds_the_subjects_content_while_proofs_still_verify(
    log: LogUnderTest,
) -> None:
    await log.append(
        entry(1, subject="u-lea", data={"user_id": "u-lea", "email": "lea@example.org"}),
        entry(2, subject="u-max", data={"user_id": "u-max", "email": "max@example.org"}),
        entry(3, subject="u-lea", data={"user_id": "u-lea", "ip": "10.1.1.1"}),
    )
    system = data_system(log.audit)
    async with log.pool.acquire() as conn:
        before = await log.audit.proofs.inclusion(conn, 0, 3)
        checkpoint = await log.audit.checkpoints.issue(conn)
        async with conn.transaction():
            await system.answer(conn, task(TaskAction.ERASE, "u-lea"), source="/vigie/audit_log")
        lea = await log.audit.query.export(conn, "u-lea")
        max_ = await log.audit.query.export(conn, "u-max")
        after = await log.audit.proofs.inclusion(conn, 0, 3)
        erased_row = await conn.fetchrow("SELECT * FROM shredded_keys WHERE data_subject = 'u-lea'")
    assert checkpoint is not None
    assert erased_row is not None
    assert [e.data for e in lea] == [None, None]
    assert all(e.shredded for e in lea)
    assert max_[0].data == {"user_id": "u-max", "email": "max@example.org"}
    assert after == before
    assert verify_inclusion(
        base64.b64decode(after.leaf_hash),
        0,
        3,
        [base64.b64decode(h) for h in after.inclusion_path],
        checkpoint.root_hash,
    )
    assert erased_row["reason"] == "erasure request r-1"
    assert (await cli.verify(log.settings, [], log.schema)).ok


async def test_the_export_task_returns_the_subjects_entries_in_clear(log: LogUnderTest) -> None:
    await log.append(
        entry(1, subject="u-lea", data={"user_id": "u-lea", "email": "lea@example.org"}),
        entry(2, subject="u-max"),
    )
    async with log.pool.acquire() as conn, conn.transaction():
        await data_system(log.audit).answer(
            conn, task(TaskAction.EXPORT, "u-lea"), source="/vigie/audit_log"
        )
        row = await conn.fetchrow("SELECT headers, value FROM outbox ORDER BY id DESC LIMIT 1")
    assert row is not None
    exported = json.loads(row["value"])
    assert exported["data"]["entries"][0]["data"]["email"] == "lea@example.org"
    assert {e["subject"] for e in exported["data"]["entries"]} == {"u-lea"}


async def test_retention_shreds_entries_older_than_the_period_and_keeps_recent_ones(
    log: LogUnderTest,
) -> None:
    now = utcnow()
    await log.append(
        entry(1, time=now - timedelta(days=400)),
        entry(2, time=now - timedelta(days=3)),
        entry(3, time=now - timedelta(days=400), topic="dpo.requests.v1"),
    )
    async with log.pool.acquire() as conn, conn.transaction():
        shredded = await log.audit.keys.sweep(conn, now, 365, {"dpo.requests.v1": 5 * 365})
        rows = await log.audit.query.export(conn, "u-1")
    assert shredded == 1
    assert [e.shredded for e in rows] == [True, False, False]
    assert (await cli.verify(log.settings, [], log.schema)).ok


async def test_entries_of_the_first_schema_are_adopted_into_the_tree(log: LogUnderTest) -> None:
    async with log.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO entries (event_id, topic, type, source, subject, actor, time, data)"
            " VALUES ('old-1', 'identity.events.v1', 'vigie.sso.user.created', '/vigie/sso',"
            ' \'u-old\', NULL, now(), \'{"user_id": "u-old", "email": "old@example.org"}\')'
        )
        adopted = await log.audit.ingest.adopt_legacy(conn)
        left = await conn.fetchval("SELECT count(*) FROM entries")
        (old,) = await log.audit.query.export(conn, "u-old")
    assert (adopted, left) == (1, 0)
    assert old.data == {"user_id": "u-old", "email": "old@example.org"}
    assert (await cli.verify(log.settings, [], log.schema)).ok
