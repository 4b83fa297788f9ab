"""Checkpoints are signed periodically only when the tree grew, one replica at a time."""

from __future__ import annotations

import asyncio

import pytest

from tests.audit_log.support import LogUnderTest, entry

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_periodic_publisher_signs_only_when_the_tree_has_grown(
    log: LogUnderTest,
) -> None:
    await log.append(entry(1))
    async with log.pool.acquire() as conn:
        first = await log.audit.checkpoints.issue(conn, only_if_grown=True)
        again = await log.audit.checkpoints.issue(conn, only_if_grown=True)
        await log.append(entry(2))
        grown = await log.audit.checkpoints.issue(conn, only_if_grown=True)
    assert first is not None
    assert first.tree_size == 1
    assert again is None
    assert grown is not None
    assert grown.tree_size == 2


async def test_replicas_publishing_at_once_sign_one_checkpoint(log: LogUnderTest) -> None:
    await log.append(entry(1))

    async def replica() -> object:
        async with log.pool.acquire() as conn:
            return await log.audit.checkpoints.issue(conn, only_if_grown=True)

    results = await asyncio.gather(*(replica() for _ in range(4)))
    assert sum(result is not None for result in results) == 1
    assert await log.pool.fetchval("SELECT count(*) FROM checkpoints") == 1
    assert await log.pool.fetchval("SELECT count(*) FROM signing_keys") == 1


async def test_a_checkpoint_asked_for_a_head_already_signed_is_that_checkpoint(
    log: LogUnderTest,
) -> None:
    # The interleaving two replicas met: an offline proof (or POST /checkpoints) looks at the
    # latest checkpoint, finds it too small and asks for one; meanwhile the other replica's
    # periodic signer has signed the same head.
    await log.append(entry(1), entry(2))
    async with log.pool.acquire() as conn:
        periodic = await log.audit.checkpoints.issue(conn, only_if_grown=True)
        asked = await log.audit.checkpoints.issue(conn)
        await log.append(entry(3))
        grown = await log.audit.checkpoints.issue(conn)
    assert periodic is not None
    assert asked == periodic
    assert grown is not None
    assert grown.tree_size == 3
    assert await log.pool.fetchval("SELECT count(*) FROM checkpoints") == 2
