"""Outbox -> real broker -> inbox, with the relay, the consumer and the broker killed
mid-stream. Effects are counted: none lost, none applied twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import pytest_asyncio

from tests.fixtures.backbone import Worker, produce
from tests.fixtures.effects import effects_pool
from tests.fixtures.stack import Broker
from vigie_shared import topics
from vigie_shared.kit.kafka import ensure_topics

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.broker,
    pytest.mark.both_brokers,
]


@pytest_asyncio.fixture(loop_scope="session")
async def pool(database_url: str, schema: str) -> AsyncIterator[asyncpg.Pool]:
    async with effects_pool(database_url, schema) as effects:
        yield effects


@pytest.fixture
def workers(
    private_broker: Broker, database_url: str, schema: str
) -> Iterator[tuple[Worker, Worker]]:
    relay = Worker("relay", database_url, schema, private_broker.bootstrap)
    consumer = Worker("consumer", database_url, schema, private_broker.bootstrap, f"g-{schema}")
    yield relay, consumer
    relay.stop()
    consumer.stop()


async def wait_for_effects(pool: asyncpg.Pool, expected: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await pool.fetchval("SELECT count(DISTINCT event_id) FROM effects") >= expected:
            await asyncio.sleep(1.0)  # let any late duplicate show itself
            return
        await asyncio.sleep(0.2)


async def check_exactly_once(pool: asyncpg.Pool, sent: int, label: str) -> None:
    stored = await pool.fetchval("SELECT count(*) FROM effects")
    distinct = await pool.fetchval("SELECT count(DISTINCT event_id) FROM effects")
    pending = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    print(
        f"\n{label}: sent={sent} stored={distinct} duplicates={stored - distinct} "
        f"lost={sent - distinct} outbox_pending={pending}"
    )
    assert distinct == sent, f"lost {sent - distinct} event(s)"
    assert stored == distinct, f"{stored - distinct} effect(s) applied twice"


async def test_relay_and_consumer_killed_mid_stream_lose_nothing_and_apply_once(
    pool: asyncpg.Pool, workers: tuple[Worker, Worker], private_broker: Broker
) -> None:
    await ensure_topics(private_broker.bootstrap, [topics.IDENTITY])
    relay, consumer = workers
    relay.start()
    consumer.start()
    sent = 0
    for kill in (relay.restart, consumer.restart, relay.restart, consumer.restart, None):
        await produce(pool, sent, 120)
        sent += 120
        await asyncio.sleep(0.3)
        if kill is not None:
            kill()
    await wait_for_effects(pool, sent)
    await check_exactly_once(pool, sent, "relay/consumer kills")
    # Per-key order survives the kills: each subject's effects appear in production order.
    rows = await pool.fetch("SELECT subject, seq FROM effects ORDER BY id")
    last: dict[str, int] = {}
    for row in rows:
        assert row["seq"] > last.get(row["subject"], -1), f"out of order for {row['subject']}"
        last[row["subject"]] = row["seq"]


async def test_broker_restart_that_loses_its_log_loses_no_event(
    pool: asyncpg.Pool, workers: tuple[Worker, Worker], private_broker: Broker
) -> None:
    await ensure_topics(private_broker.bootstrap, [topics.IDENTITY])
    relay, consumer = workers
    relay.start()
    consumer.start()
    await produce(pool, 0, 150)
    await wait_for_effects(pool, 150, timeout=60)
    private_broker.kill()  # memory-only: its whole log and the group offsets are gone
    await produce(pool, 150, 100)  # written while the broker is down
    await asyncio.sleep(1.0)
    private_broker.start()
    await produce(pool, 250, 100)
    await wait_for_effects(pool, 350)
    await check_exactly_once(pool, 350, "broker restart")
