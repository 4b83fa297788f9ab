"""``vigie up`` on Apache Kafka: its log lives under the data dir, so a record produced under
one run is still there to read under the next (Tansu, memory only, would have lost it)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.cli.vigie_up import Up
from vigie_shared.kit.kafka import ensure_topics
from vigie_shared.kit.kafka_jars import kafka_unavailable_reason

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(
        kafka_unavailable_reason() is not None, reason=str(kafka_unavailable_reason())
    ),
]

TOPIC = "tests.kept.v1"


async def produce(bootstrap: str, value: bytes) -> None:
    await ensure_topics(bootstrap, [TOPIC], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(TOPIC, value)
    finally:
        await producer.stop()


async def read_all(bootstrap: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=10_000)
        return [record.value for records in batches.values() for record in records]
    finally:
        await consumer.stop()


def test_a_record_produced_under_one_vigie_up_on_apache_kafka_is_read_under_the_next(
    tmp_path: Path,
) -> None:
    value = uuid.uuid4().bytes
    with Up(tmp_path / "data", demo=False, broker="kafka") as first:
        first.wait_up()
        assert f"Broker: Apache Kafka on 127.0.0.1:{first.kafka_port}" in first.output
        asyncio.run(produce(f"127.0.0.1:{first.kafka_port}", value))
        assert first.interrupt() == 0, first.output
    meta = (tmp_path / "data" / "kafka" / "log" / "meta.properties").read_text()

    with Up(tmp_path / "data", demo=False, broker="kafka") as second:
        second.wait_up()
        assert asyncio.run(read_all(f"127.0.0.1:{second.kafka_port}")) == [value]
        assert second.interrupt() == 0, second.output
    # The same cluster, not a new one formatted over the old log.
    assert (tmp_path / "data" / "kafka" / "log" / "meta.properties").read_text() == meta
