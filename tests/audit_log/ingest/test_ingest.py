"""Ingestion from the real broker into verified storage: batches, inbox dedupe by ``ce_id``,
malformed records to the DLQ, offsets committed after the batch is stored; a record over 1 MiB and a
malformed one get one dead letter each, however often they are delivered."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from audit_log import cli
from audit_log.ingest.handlers import ingest_consumer
from tests.audit_log.support import LogUnderTest
from tests.fixtures.kafka import on_topic as on
from tests.fixtures.kafka import read_all
from tests.fixtures.poison import (
    dead_letter_copies,
    new_topic,
    oversized,
    records_of,
    send_as_attacker,
)
from vigie_shared import topics
from vigie_shared.events import AccessSuspended, Actor, CloudEvent, UserCreated, new_event
from vigie_shared.kit.cloudevents import KafkaRecord, encode
from vigie_shared.kit.kafka import Producer, ensure_topics

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


class Deps:
    def __init__(self, log: LogUnderTest, producer: Producer) -> None:
        self.pool = log.pool
        self.producer = producer


async def test_a_replayed_event_is_stored_once_and_a_malformed_one_is_dead_lettered(
    log: LogUnderTest, kafka: str, producer: Producer
) -> None:
    topic = f"audit-test-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [topic], partitions=2)
    created: CloudEvent[Any] = new_event(
        UserCreated(user_id="u-1", email="lea@example.org", display_name="Léa"),
        subject="u-1",
        source="/vigie/sso_gateway",
    )
    suspended: CloudEvent[Any] = new_event(
        AccessSuspended(
            learner_id="u-1",
            debt_ids=["d-1"],
            reason="unpaid",
            actor=Actor(kind="system", id="grace"),
        ),
        subject="u-1",
        source="/vigie/sso_gateway",
    )
    for record in (encode(created), encode(created), encode(suspended)):
        await producer.send_and_wait(on(record, topic))
    await producer.send_and_wait(
        KafkaRecord(topic=topic, key=b"u-1", value=b"{not json", headers=[("ce_id", b"x")])
    )
    await producer.send_and_wait(on(encode(created), topic))  # replayed later, own batch

    broker = KafkaBroker(kafka)
    ingest = ingest_consumer(Deps(log, producer), log.audit.ingest, group=f"g-{uuid.uuid4().hex}")
    ingest.subscribe(broker, topic, max_records=100)
    await broker.start()
    try:
        dead = await read_all(kafka, topics.dlq(topic), 1)
        deadline = time.monotonic() + 20
        while ingest.stored < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # time for a wrongful second copy to arrive, were there one
    finally:
        await broker.stop()
    async with log.pool.acquire() as conn:
        rows = await conn.fetch("SELECT leaf_index, event_id, type, actor FROM log_entries")
        exported = await log.audit.query.export(conn, "u-1")
    (stored_created,) = [e for e in exported if e.event_id == created.id]
    assert sorted(r["event_id"] for r in rows) == sorted([created.id, suspended.id])
    assert sorted(r["leaf_index"] for r in rows) == [0, 1]
    assert {r["type"]: r["actor"] for r in rows}["vigie.access.suspended"] == "system:grace"
    assert stored_created.data is not None
    assert stored_created.data["email"] == "lea@example.org"
    assert len(dead) == 1
    assert dict(dead[0].headers)["dlq_error"] == b"malformed"
    assert (await cli.verify(log.settings, [], log.schema)).ok


@pytest.mark.both_brokers
async def test_an_oversized_and_a_malformed_record_get_one_dead_letter_each_however_delivered(
    log: LogUnderTest, kafka: str, producer: Producer
) -> None:
    topic = await new_topic(kafka, roomy=True)
    created: CloudEvent[Any] = new_event(
        UserCreated(user_id="u-1", email="lea@example.org", display_name="Léa"),
        subject="u-1",
        source="/vigie/sso_gateway",
    )
    big = on(oversized("u-big"), topic)
    malformed = KafkaRecord(topic, b"u-1", b"{not json", [("ce_id", b"x")])
    await send_as_attacker(kafka, [big, malformed, on(encode(created), topic)])
    ingest = ingest_consumer(Deps(log, producer), log.audit.ingest, group=f"g-{uuid.uuid4().hex}")
    broker = KafkaBroker(kafka, logger=None)
    ingest.subscribe(broker, topic, max_records=100)
    await broker.start()
    try:
        deadline = time.monotonic() + 60
        while ingest.stored < 1:
            assert time.monotonic() < deadline, "the good event was never stored"
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()
    # Delivered again, as after a crash before the offset commit.
    again = await records_of(kafka, topic, lambda record: record.offset == 2, inclusive=True)
    await ingest.process_batch(again)

    copies = await dead_letter_copies(kafka, topic)
    assert [dict(r.headers)["dlq_form"] for r in copies] == [b"record", b"whole"]
    assert copies[1].value == malformed.value
    assert ingest.dead_lettered == 2
    async with log.pool.acquire() as conn:
        rows = await conn.fetch("SELECT event_id FROM log_entries")
        dead = await conn.fetchval("SELECT count(*) FROM dead_letters")
    assert [r["event_id"] for r in rows] == [created.id]
    assert dead == 2
    assert ingest.progress.failures == 0
    assert (await cli.verify(log.settings, [], log.schema)).ok
