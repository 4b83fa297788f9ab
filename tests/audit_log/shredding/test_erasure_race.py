"""Erasure against late ingestion (GDPR Art. 17): the DPO task consumer and the ingestion consumer
are separate, so an event about a subject can reach the log after the subject's erasure. If it
is dated before the erasure it must be unreadable from the start, while the tree still verifies;
if it is dated after, it is a later fact and stays readable (docs/audit-log.md, crypto-shredding).
"""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import timedelta

import pytest

from audit_log import cli
from audit_log.merkle import verify_inclusion
from audit_log.shredding.handlers import data_system
from tests.audit_log.support import LogUnderTest, entry
from vigie_shared.events import DpoTaskRequested, TaskAction
from vigie_shared.kit.clock import utcnow

pytestmark = pytest.mark.asyncio(loop_scope="session")

ERASE_LEA = DpoTaskRequested(
    task_id="t-1", request_id="r-1", system="audit_log", action=TaskAction.ERASE, subject_id="u-lea"
)


async def test_an_entry_dated_before_the_erasure_but_stored_after_it_is_unreadable(
    log: LogUnderTest,
) -> None:
    start = utcnow()
    await log.append(entry(1, subject="u-lea", time=start - timedelta(minutes=5)))
    system = data_system(log.audit)
    async with log.pool.acquire() as conn, conn.transaction():
        await system.answer(conn, ERASE_LEA, source="/vigie/audit_log")
    after_erasure = utcnow()
    late = entry(2, subject="u-lea", time=start - timedelta(minutes=4))
    # Same subject, topic and month as ``late`` (one batch): a later fact, recorded readable.
    later = entry(3, subject="u-lea", time=after_erasure + timedelta(seconds=1))
    other = entry(4, subject="u-max", time=start - timedelta(minutes=4))
    stored = await log.append(late, later, other)

    async with log.pool.acquire() as conn:
        lea = {e.event_id: e for e in await log.audit.query.export(conn, "u-lea")}
        (max_,) = await log.audit.query.export(conn, "u-max")
        checkpoint = await log.audit.checkpoints.issue(conn)
        proof = await log.audit.proofs.inclusion(conn, stored[0].index, stored[-1].index + 1)
        late_key = stored[0].key_id
        live = await conn.fetchval("SELECT count(*) FROM subject_keys WHERE id = $1", late_key)
        shredded = await conn.fetchrow("SELECT * FROM shredded_keys WHERE key_id = $1", late_key)
        # A replay of the late event is stored once, and still unreadable.
        assert await log.append(late) == []
        size = await log.audit.tree.size(conn)

    assert lea[late.event_id].data is None
    assert lea[late.event_id].shredded
    assert lea[later.event_id].data == later.data
    assert max_.data == other.data
    assert stored[0].key_id != stored[1].key_id
    assert live == 0
    assert shredded is not None
    assert shredded["data_subject"] == "u-lea"
    assert size == 4
    assert checkpoint is not None
    assert verify_inclusion(
        base64.b64decode(proof.leaf_hash),
        stored[0].index,
        checkpoint.tree_size,
        [base64.b64decode(h) for h in proof.inclusion_path],
        checkpoint.root_hash,
    )
    assert (await cli.verify(log.settings, [], log.schema)).ok


async def test_a_replayed_erasure_keeps_the_time_of_its_first_run(log: LogUnderTest) -> None:
    system = data_system(log.audit)
    async with log.pool.acquire() as conn:
        async with conn.transaction():
            await system.answer(conn, ERASE_LEA, source="/vigie/audit_log")
        first = await conn.fetch("SELECT erased_at FROM erasures WHERE data_subject = 'u-lea'")
        async with conn.transaction():
            await system.answer(conn, ERASE_LEA, source="/vigie/audit_log")
        again = await conn.fetch("SELECT erased_at FROM erasures WHERE data_subject = 'u-lea'")
    assert len(first) == 1
    assert again == first


async def test_an_erasure_waits_for_the_batch_being_stored_and_shreds_its_new_keys(
    log: LogUnderTest,
) -> None:
    """The batch creates the subject's key for a new topic inside its transaction; an erasure
    that did not wait for it would not see that key, and the entry would stay readable."""
    system = data_system(log.audit)
    async with log.pool.acquire() as ingest, log.pool.acquire() as dpo:
        pid = await dpo.fetchval("SELECT pg_backend_pid()")
        batch = ingest.transaction()
        await batch.start()
        try:
            (leaf,) = await log.audit.tree.append(
                ingest, [entry(1, subject="u-lea", topic="access.events.v1")]
            )

            async def erase() -> None:
                async with dpo.transaction():
                    await system.answer(dpo, ERASE_LEA, source="/vigie/audit_log")

            erasure = asyncio.create_task(erase())
            deadline = time.monotonic() + 10
            while await ingest.fetchval(
                "SELECT wait_event_type IS DISTINCT FROM 'Lock' FROM pg_stat_activity"
                " WHERE pid = $1",
                pid,
            ):
                assert not erasure.done(), "the erasure did not wait for the batch"
                assert time.monotonic() < deadline, "the erasure never started waiting"
                await asyncio.sleep(0.01)
        finally:
            await batch.commit()
        await asyncio.wait_for(erasure, 10)
        (stored,) = await log.audit.query.export(dpo, "u-lea")
    assert stored.event_id == leaf.event_id
    assert stored.shredded
