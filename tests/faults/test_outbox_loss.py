"""A broker that lost its log: what the relay must send again, whatever order it finds out in.

Two services' relays publish to the same partition (as sso_gateway's and audit_log's answers
share ``dpo.task-results.v1``). The memory-only broker restarts; the other relay refills the
partition first, so this relay's next record lands at an offset *above* the one it expected and
its read-back probe finds that new record where it looks: neither check of kit/outbox.py fires,
and the records this relay had published before the restart are never sent again.

Found by the fault-injection soak (a DPO task whose answer never reached dpo_requests). The
relay now also reads back the oldest record it still retains, which the other producer's
records have replaced.

One relay publishing to two partitions: the first batch after the restart reveals the loss of
one partition, whose rows are queued again; the next batch carries those rows (their ids are the
lowest pending, so they go first) and reveals the loss of the other partition. Every row relayed
to that second partition before the restart must be queued again too: they have ids above the
batch's first one, so a bound on ids drawn from the batch misses them, and the read-back probe
that should catch them after is blind once the rows it compares are ones relayed since the
restart (the newest) or once retention has pruned the partition's first rows (the oldest).
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

from tests.kit.test_batch_consumer import COMMIT_MODES
from vigie_shared import topics
from vigie_shared.events import (
    SERVICE_SOURCES,
    AccessSuspended,
    Actor,
    EventData,
    LoginFailed,
    new_event,
)
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

    async def emit(self, count: int, data: EventData | None = None) -> list[str]:
        """``count`` events (a failed login on ``identity.events.v1`` unless ``data`` says
        otherwise), in one transaction; their ids."""
        emitted = []
        async with self.pool.acquire() as conn, conn.transaction():
            for _ in range(count):
                event = new_event(
                    data or LoginFailed(reason="bad_credentials"),
                    subject="u-1",
                    source=SERVICE_SOURCES["sso_gateway"],
                )
                await outbox.enqueue(conn, event)
                emitted.append(event.id)
        self.ids += emitted
        return emitted

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


@pytest_asyncio.fixture(loop_scope="session")
async def one_producer(
    database_url: str, private_broker: EmbeddedBroker
) -> AsyncIterator[Producing]:
    """One service's outbox and a relay driven by hand (no ``run``: the test chooses when each
    batch goes and when the probe reads back)."""
    await ensure_topics(private_broker.bootstrap, topics.ALL, partitions=1)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    await migrate(database_url, schema, None)
    pool = await db.create_pool(database_url, schema, max_size=4)
    producer = Producer(private_broker.bootstrap, client_id=schema)
    await producer.start()
    try:
        yield Producing(pool, OutboxRelay(pool, producer, schema=schema))
    finally:
        await producer.stop()
        await pool.close()
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


async def relay_all(relay: OutboxRelay) -> None:
    """Relay pending rows one batch at a time until none is left."""
    while await relay.backlog():
        await relay.relay_once()


async def test_rows_of_a_partition_found_lost_behind_rows_queued_again_are_sent_again(
    one_producer: Producing, private_broker: EmbeddedBroker
) -> None:
    relay = one_producer.relay
    await one_producer.pool.execute(COMMIT_MODES)
    suspended = AccessSuspended(
        learner_id="u-1", reason="unpaid debt", actor=Actor(kind="system", id="grace-scheduler")
    )
    pruned = await one_producer.emit(1)
    await relay_all(relay)
    # Access first, so that its rows have the lower ids; then the logins, whose loss is the
    # one found second.
    await one_producer.emit(1, suspended)
    logins = await one_producer.emit(2)
    await relay_all(relay)
    # The retention window has pruned the partition's first row (offset 0), as it does on a
    # broker that has run for longer than the window.
    await one_producer.pool.execute("DELETE FROM outbox WHERE event_id = $1", pruned[0])

    private_broker.kill()
    private_broker.start()
    await ensure_topics(private_broker.bootstrap, topics.ALL, partitions=1)
    # The access partition's loss shows first: its rows are queued again, ahead by id.
    await one_producer.emit(1, suspended)
    await relay.relay_once()
    # That batch carries them and a new login, which lands below the offset expected.
    await one_producer.emit(1)
    await relay_all(relay)
    # More logins, past the offsets the old rows held, then the probe: what it reads back is
    # found where it was written.
    await one_producer.emit(3)
    await relay_all(relay)
    await relay.check_broker()
    await relay_all(relay)

    on_broker = await event_ids(private_broker.bootstrap, topics.IDENTITY)
    missing = [event_id for event_id in logins if event_id not in on_broker]
    assert not missing, f"{len(missing)} of the {len(logins)} logins relayed before are gone"
    # Rows queued again are the only record of events the broker lost: unlike a plain batch's
    # marks, a transaction that queues rows again waits for the flush, to its last statement.
    modes = await one_producer.pool.fetch(
        "SELECT change, mode FROM commit_modes WHERE txid IN"
        " (SELECT txid FROM commit_modes WHERE change = 'queued again')"
    )
    assert {r["change"] for r in modes} == {"queued again", "marked"}
    assert {r["mode"] for r in modes} == {"on"}
