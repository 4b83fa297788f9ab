"""A broker that lost its log, found by a relay that shares the partition with another producer.

Two services' relays publish to the same partition (as sso_gateway's and audit_log's answers
share ``dpo.task-results.v1``). The memory-only broker restarts; the other relay refills the
partition first, so this relay's next record lands at an offset *above* the one it expected and
its read-back probe finds that new record where it looks: neither check of kit/outbox.py fires,
and the records this relay had published before the restart are never sent again.

Found by the fault-injection soak (a DPO task whose answer never reached dpo_requests). The
relay now also reads back the oldest record it still retains, which the other producer's
records have replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer

from vigie_shared import topics
from vigie_shared.events import SERVICE_SOURCES, LoginFailed, new_event
from vigie_shared.kit import db, outbox
from vigie_shared.kit.embedded import EmbeddedBroker
from vigie_shared.kit.kafka import Producer, ensure_topics
from vigie_shared.kit.migrate import migrate
from vigie_shared.kit.outbox import OutboxRelay

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


class Producing:
    """One service's outbox and its relay, in a schema of its own."""

    def __init__(self, pool: asyncpg.Pool, relay: OutboxRelay) -> None:
        self.pool = pool
        self.relay = relay
        self.ids: list[str] = []

    async def emit(self, count: int) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            for _ in range(count):
                event = new_event(
                    LoginFailed(reason="bad_credentials"),
                    subject="u-1",
                    source=SERVICE_SOURCES["sso_gateway"],
                )
                await outbox.enqueue(conn, event)
                self.ids.append(event.id)

    async def relayed(self) -> None:
        deadline = time.monotonic() + 20
        while await self.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
            assert time.monotonic() < deadline, "the relay did not catch up"
            await asyncio.sleep(0.1)


async def event_ids(bootstrap: str, topic: str) -> set[str]:
    """Every ``ce_id`` on ``topic``, read from its start until it stays quiet for a second."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: set[str] = set()
    try:
        quiet = 0
        deadline = time.monotonic() + 20
        while quiet < 2 and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            quiet = 0 if batches or not found else quiet + 1
            for records in batches.values():
                found.update(dict(r.headers)["ce_id"].decode() for r in records)
    finally:
        await consumer.stop()
    return found


@pytest_asyncio.fixture(loop_scope="session")
async def two_producers(
    database_url: str, private_broker: EmbeddedBroker
) -> AsyncIterator[tuple[Producing, Producing]]:
    # One partition, so that both producers share it.
    await ensure_topics(private_broker.bootstrap, topics.ALL, partitions=1)
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    made: list[tuple[Producing, Producer, asyncio.Task[None]]] = []
    try:
        for schema in schemas:
            await migrate(database_url, schema, None)
            pool = await db.create_pool(database_url, schema, max_size=4)
            producer = Producer(private_broker.bootstrap, client_id=schema)
            await producer.start()
            # The probe runs every minute here: the loss does not depend on the interval, only
            # on the other producer refilling the partition before this relay's next probe.
            relay = OutboxRelay(pool, producer, schema=schema, probe_interval=60)
            made.append((Producing(pool, relay), producer, asyncio.create_task(relay.run())))
        yield made[0][0], made[1][0]
    finally:
        for producing, producer, task in made:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await producer.stop()
            await producing.pool.close()
        conn = await asyncpg.connect(database_url)
        try:
            for schema in schemas:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


async def test_records_relayed_before_a_broker_restart_are_sent_again_by_every_producer(
    two_producers: tuple[Producing, Producing], private_broker: EmbeddedBroker
) -> None:
    a, b = two_producers
    await a.emit(3)
    await a.relayed()
    await b.emit(3)
    await b.relayed()

    private_broker.kill()
    private_broker.start()
    await ensure_topics(private_broker.bootstrap, topics.ALL, partitions=1)
    # The other service speaks first: its relay notices the loss (its record lands below the
    # offset it expected) and refills the partition with its own records.
    await b.emit(10)
    await b.relayed()
    await a.emit(1)
    await a.relayed()
    # This relay's next probe, without waiting a minute for it: its last record reads back.
    await a.relay.check_broker()
    await a.relayed()

    on_broker = await event_ids(private_broker.bootstrap, topics.IDENTITY)
    missing = [event_id for event_id in a.ids if event_id not in on_broker]
    assert not missing, f"{len(missing)} of A's {len(a.ids)} events are gone from the broker"
