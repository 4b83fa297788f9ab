"""A producer whose records are never acknowledged, or whose session is dead, is replaced
(kit.kafka.DELIVERY_TIMEOUT): the relay delivers the rows it held back, a dead letter's copy
is sent again, and nothing is written twice when the old producer never wrote it.

The stall is injected into aiokafka's producer itself, on the instance the kit started first:
its ``send`` queues nothing and hands back a future that never resolves, as a sender stuck
retrying one partition does; the instance put in its place is left alone."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import OutOfOrderSequenceNumber

from tests.fixtures.kafka import read_all
from tests.kit.support import Deps, user_event
from vigie_shared.kit import outbox
from vigie_shared.kit.cloudevents import KafkaRecord, encode
from vigie_shared.kit.failures import is_transient
from vigie_shared.kit.kafka import DeliveryStalled, Producer, ensure_topics
from vigie_shared.kit.outbox import OutboxRelay

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.broker,
    pytest.mark.both_brokers,
]


class FirstInstance:
    """Makes the first aiokafka producer that sends misbehave (``how``), and no other."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
        self.first: AIOKafkaProducer | None = None
        self.calls = 0
        real = AIOKafkaProducer.send
        outer = self

        async def send(self: AIOKafkaProducer, *args: Any, **kwargs: Any) -> Any:
            if outer.first is None:
                outer.first = self
            if self is not outer.first:
                return await real(self, *args, **kwargs)
            outer.calls += 1
            if how == "fatal":
                raise OutOfOrderSequenceNumber()
            return asyncio.get_running_loop().create_future()  # never acknowledged

        monkeypatch.setattr(AIOKafkaProducer, "send", send)


@pytest.fixture
def stalling(monkeypatch: pytest.MonkeyPatch) -> FirstInstance:
    return FirstInstance(monkeypatch, "stall")


async def started(kafka: str) -> Producer:
    producer = Producer(kafka, client_id=f"stall-{uuid.uuid4().hex[:6]}")
    await producer.start()
    return producer


async def test_a_relay_whose_records_are_never_acknowledged_replaces_its_producer(
    deps: Deps, kafka: str, schema: str, stalling: FirstInstance
) -> None:
    events = [user_event(f"stall-{n}") for n in range(5)]
    topic = encode(events[0]).topic
    await ensure_topics(kafka, [topic])
    producer = await started(kafka)
    relay = OutboxRelay(
        deps.pool, producer, schema=schema, idle_interval=0.05, delivery_timeout=0.5
    )
    task = asyncio.create_task(relay.run())
    try:
        async with deps.pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, *events)
        deadline = time.monotonic() + 30
        while await relay.backlog() > 0:
            assert time.monotonic() < deadline, "the relay never delivered the stalled rows"
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await producer.stop()

    assert stalling.calls >= 1  # the first producer did hold them back
    assert producer.generation == 1
    wanted = {event.id for event in events}
    written = [
        dict(record.headers)["ce_id"].decode()
        for record in await read_all(kafka, topic, 10_000)
        if dict(record.headers).get("ce_id", b"").decode() in wanted
    ]
    assert sorted(written) == sorted(wanted)  # each once: the stalled producer wrote none


async def test_a_record_never_acknowledged_is_a_transient_failure_after_the_timeout(
    kafka: str, stalling: FirstInstance
) -> None:
    topic = f"test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [topic], partitions=1)
    producer = await started(kafka)
    record = KafkaRecord(topic, b"k", b"v", [])
    try:
        with pytest.raises(DeliveryStalled) as stalled:
            await producer.send_and_wait(record, timeout=0.3)
        assert is_transient(stalled.value)  # a consumer redelivers, never dead-letters
        assert producer.generation == 1
        placed = await producer.send_and_wait(record, timeout=10)
    finally:
        await producer.stop()
    assert placed.offset == 0


async def test_a_producer_whose_session_is_dead_is_replaced_on_the_next_send(
    kafka: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = FirstInstance(monkeypatch, "fatal")
    topic = f"test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [topic], partitions=1)
    producer = await started(kafka)
    try:
        placed = await producer.send_and_wait(KafkaRecord(topic, b"k", b"v", []), timeout=10)
    finally:
        await producer.stop()
    assert dead.calls == 1
    assert producer.generation == 1
    assert placed.offset == 0
