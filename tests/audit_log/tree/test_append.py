"""Appending entries whose ids the log already holds: they are skipped, and what is written is
what a lookup of every id before writing would have written."""

from __future__ import annotations

from audit_log import cli
from tests.audit_log.support import LogUnderTest, entry


async def test_ids_already_in_the_log_are_skipped_and_the_rest_appended(
    log: LogUnderTest,
) -> None:
    first, second = entry(1, subject="u-1"), entry(2, subject="u-2")
    await log.append(first, second)
    again = entry(3, subject="u-1"), first, entry(4, subject="u-4"), second
    leaves = await log.append(*again)

    assert [(leaf.event_id, leaf.index) for leaf in leaves] == [
        (again[0].event_id, 2),
        (again[2].event_id, 3),
    ]
    async with log.pool.acquire() as conn:
        size = await log.audit.tree.size(conn)
        stored = await conn.fetch("SELECT event_id FROM log_entries ORDER BY leaf_index")
        subjects = await conn.fetch("SELECT data_subject FROM subject_keys ORDER BY id")
    assert size == 4
    assert [row["event_id"] for row in stored] == [
        first.event_id,
        second.event_id,
        again[0].event_id,
        again[2].event_id,
    ]
    assert [row["data_subject"] for row in subjects] == ["u-1", "u-2", "u-4"]
    assert (await cli.verify(log.settings, [], log.schema)).ok


async def test_a_skipped_entry_of_an_erased_subject_leaves_no_throwaway_key(
    log: LogUnderTest,
) -> None:
    # Sealing the old entry again would take a throwaway key (erased after its time): the
    # attempt that does so is undone, so no such key is recorded as shredded.
    old = entry(1, subject="u-gone")
    await log.append(old)
    async with log.pool.acquire() as conn, conn.transaction():
        await log.audit.tree.lock_writer(conn)
        await log.audit.keys.erase(conn, "u-gone", "erasure request r-1")

    (leaf,) = await log.append(old, entry(2, subject="u-2"))

    assert leaf.index == 1
    async with log.pool.acquire() as conn:
        reasons = await conn.fetch("SELECT reason FROM shredded_keys WHERE data_subject = 'u-gone'")
    assert [row["reason"] for row in reasons] == ["erasure request r-1"]
    assert (await cli.verify(log.settings, [], log.schema)).ok


async def test_an_id_twice_in_one_append_is_appended_once(log: LogUnderTest) -> None:
    one = entry(1)
    leaves = await log.append(one, one, entry(2))

    assert [leaf.index for leaf in leaves] == [0, 1]
    assert leaves[0].event_id == one.event_id
    assert (await cli.verify(log.settings, [], log.schema)).ok


async def test_a_part_of_ids_all_in_the_log_appends_nothing(log: LogUnderTest) -> None:
    one, two = entry(1), entry(2)
    await log.append(one, two)

    assert await log.append(two, one) == []
    async with log.pool.acquire() as conn:
        assert await log.audit.tree.size(conn) == 2
        assert await conn.fetchval("SELECT count(*) FROM subject_keys") == 1
