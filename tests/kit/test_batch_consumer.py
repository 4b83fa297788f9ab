"""The consumer's batch path (one inbox statement per run, no savepoint per record) and the
outbox relay's hand-over, on the real database and broker (docs/backbone.md, Consuming)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition
from faststream.kafka import KafkaBroker

from tests.fixtures.kafka import SESSION_TIMEOUT_MS, on_topic, read_all
from tests.kit.support import Deps, user_event
from vigie_shared import topics
from vigie_shared.events import CloudEvent, UserCreated
from vigie_shared.kit import outbox
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.consumer import EventConsumer, Outcome
from vigie_shared.kit.db import Conn
from vigie_shared.kit.kafka import ensure_topics
from vigie_shared.kit.outbox import OutboxRelay

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.broker,
    pytest.mark.both_brokers,
]


def record(topic: str, offset: int, event: CloudEvent[Any]) -> ConsumerRecord[Any, Any]:
    rec = encode(event)
    return ConsumerRecord(topic, 0, offset, 0, 0, rec.key, rec.value, None, 0, 0, rec.headers)


async def effects(pool: asyncpg.Pool) -> list[str]:
    return [r["subject"] for r in await pool.fetch("SELECT subject FROM effects ORDER BY 1")]


async def test_an_id_repeated_within_one_batch_is_applied_once(deps: Deps) -> None:
    consumer = EventConsumer(f"g-{uuid.uuid4().hex[:8]}", deps)

    @consumer.handles(UserCreated)
    async def effect(conn: Conn, event: CloudEvent[Any]) -> None:
        await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, event.subject)

    a, b = user_event("a"), user_event("b")
    outcomes = await consumer.process_batch(
        [record("t", 0, a), record("t", 1, b), record("t", 2, a)]
    )
    assert outcomes == [Outcome.PROCESSED, Outcome.PROCESSED, Outcome.DUPLICATE]
    again = await consumer.process_batch([record("t", 0, a), record("t", 1, b)])
    assert again == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert await effects(deps.pool) == ["a", "b"]


async def test_records_before_a_failing_handler_are_applied_once_and_those_after_it_too(
    deps: Deps, kafka: str
) -> None:
    topic = f"test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [topic], partitions=1)
    consumer = EventConsumer(f"g-{topic}", deps, max_attempts=2, base_delay=0.01)
    calls: list[str] = []

    @consumer.handles(UserCreated)
    async def effect(conn: Conn, event: CloudEvent[Any]) -> None:
        calls.append(event.subject)
        if event.subject == "poison":
            raise ValueError("never applies")
        await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, event.subject)

    events = [user_event(s) for s in ("before", "poison", "after")]
    outcomes = await consumer.process_batch(
        [record(topic, i, event) for i, event in enumerate(events)]
    )
    assert outcomes == [Outcome.PROCESSED, Outcome.DEAD_LETTERED, Outcome.PROCESSED]
    assert await effects(deps.pool) == ["after", "before"]
    assert calls.count("poison") == 2  # max_attempts in all, the batch's try included
    (dead,) = await read_all(kafka, topics.dlq(topic), 1)
    assert dict(dead.headers)["dlq_attempts"] == b"2"


async def test_a_handler_that_swallows_a_database_error_loses_nothing_silently(
    deps: Deps, kafka: str
) -> None:
    """asyncpg commits an aborted transaction as a silent rollback: the batch must notice,
    or the run's inbox rows and effects vanish while its offsets are committed."""
    topic = f"test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [topic], partitions=1)
    consumer = EventConsumer(f"g-{topic}", deps, max_attempts=2, base_delay=0.01)

    @consumer.handles(UserCreated)
    async def effect(conn: Conn, event: CloudEvent[Any]) -> None:
        if event.subject == "sloppy":
            # The bug under test: the transaction is aborted, and the handler goes on.
            with contextlib.suppress(asyncpg.DivisionByZeroError):
                await conn.execute("SELECT 1 / 0")
            return
        await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, event.subject)

    events = [user_event(s) for s in ("first", "sloppy", "last")]
    outcomes = await consumer.process_batch(
        [record(topic, i, event) for i, event in enumerate(events)]
    )
    assert outcomes == [Outcome.PROCESSED, Outcome.DEAD_LETTERED, Outcome.PROCESSED]
    assert await effects(deps.pool) == ["first", "last"]
    inbox = await deps.pool.fetch("SELECT event_id FROM inbox WHERE consumer = $1", consumer.name)
    assert {r["event_id"] for r in inbox} == {events[0].id, events[2].id}


async def test_a_stopped_relay_hands_its_lock_to_the_next_one(deps: Deps, schema: str) -> None:
    """Pooled connections are not reset on release (kit/db.py): the relay must undo its
    session-level lock itself, or no relay of the schema could lead again."""
    first = OutboxRelay(deps.pool, deps.producer, schema=schema, idle_interval=0.05)
    task = asyncio.create_task(first.run())
    await until(lambda: first.is_leader)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    second = OutboxRelay(deps.pool, deps.producer, schema=schema, idle_interval=0.05)
    task = asyncio.create_task(second.run())
    try:
        await until(lambda: second.is_leader)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_the_offsets_past_each_applied_batch_are_committed(deps: Deps, kafka: str) -> None:
    """Offsets are committed in the background, after the effects (kit/consumer.py,
    ``OffsetCommits``): a consumer of the group started afterwards resumes past every record
    applied, not from the start of the log."""
    topic = f"test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [topic], partitions=1, with_dlq=False)
    consumer = EventConsumer(f"g-{uuid.uuid4().hex[:8]}", deps)
    applied: list[str] = []

    @consumer.handles(UserCreated)
    async def effect(conn: Conn, event: CloudEvent[Any]) -> None:
        applied.append(event.id)

    broker = KafkaBroker(kafka, logger=None)
    consumer.subscribe(broker, topic, session_timeout_ms=SESSION_TIMEOUT_MS)
    await broker.start()
    try:

        async def send_three() -> None:
            for _ in range(3):
                event = user_event("committed")
                await deps.producer.send_and_wait(on_topic(encode(event), topic))

        # Two rounds, so that the second batch's commit follows one already made.
        await send_three()
        await until(lambda: len(applied) == 3, timeout=30)
        await send_three()
        await until(lambda: len(applied) == 6, timeout=30)
        after = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=consumer.name)
        await after.start()
        try:
            committed: int | None = None
            deadline = time.monotonic() + 10
            while committed != 6:
                assert time.monotonic() < deadline, f"committed offset {committed}, not 6"
                committed = await after.committed(TopicPartition(topic, 0))
                await asyncio.sleep(0.1)
        finally:
            await after.stop()
    finally:
        await broker.stop()


COMMIT_MODES = """
CREATE TABLE commit_modes (txid bigint, change text, mode text);
CREATE FUNCTION note_commit_mode() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO commit_modes VALUES (
        txid_current(),
        CASE WHEN TG_OP = 'INSERT' THEN 'written'
             WHEN NEW.published_at IS NULL THEN 'queued again' ELSE 'marked' END,
        current_setting('synchronous_commit'));
    RETURN NULL;
END $$;
CREATE TRIGGER note_commit_mode AFTER INSERT OR UPDATE ON outbox
    FOR EACH ROW EXECUTE FUNCTION note_commit_mode();
"""
"""Records, for each change of an outbox row, its transaction and the ``synchronous_commit``
in force then (tests/faults/test_outbox_loss.py uses it too). The relay's mark is the last
statement of its transaction: what it sees is what the commit runs with."""


async def test_the_relay_marks_without_waiting_for_the_flush_and_the_writer_does_wait(
    deps: Deps, kafka: str, schema: str
) -> None:
    """A mark lost in a crash of the database only sends its row again (kit/outbox.py,
    ``_without_flush``); the row itself must survive the crash."""
    await deps.pool.execute(COMMIT_MODES)
    event = user_event("marked")
    await ensure_topics(kafka, [encode(event).topic])
    async with deps.pool.acquire() as conn, conn.transaction():
        await outbox.enqueue(conn, event)
    relay = OutboxRelay(deps.pool, deps.producer, schema=schema)
    assert await relay.relay_once() == 1
    modes = await deps.pool.fetch("SELECT change, mode FROM commit_modes")
    assert sorted((r["change"], r["mode"]) for r in modes) == [("marked", "off"), ("written", "on")]


async def until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
