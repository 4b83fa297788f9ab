"""The log's unique event id is ingestion's dedupe: the consumer writes no inbox row, and a
redelivered batch, whole or in part, reaches the tree, which stores nothing twice, while the
consumer counts each repeat a duplicate (its outcomes and metrics stay true)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from prometheus_client import REGISTRY

from audit_log import cli
from audit_log.ingest.handlers import ingest_consumer
from tests.audit_log.support import LogUnderTest, event_id, stored_ids
from vigie_shared.events import LoginSucceeded, new_event
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.consumer import Outcome
from vigie_shared.kit.kafka import Producer

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

PROCESSED, DUPLICATE = Outcome.PROCESSED, Outcome.DUPLICATE


class Deps:
    def __init__(self, log: LogUnderTest, producer: Producer) -> None:
        self.pool = log.pool
        self.producer = producer


def logins(topic: str, count: int, *, first: int = 0) -> list[ConsumerRecord[Any, Any]]:
    """Records as the broker hands them over, one login each, at offsets from ``first``."""
    out: list[ConsumerRecord[Any, Any]] = []
    for offset in range(first, first + count):
        user = f"u-{offset % 3}"
        record = encode(
            new_event(
                LoginSucceeded(user_id=user, session_id=f"s-{offset}", ip="10.0.0.1"),
                subject=user,
                source="/vigie/sso_gateway",
            )
        )
        out.append(
            ConsumerRecord(
                topic, 0, offset, 0, 0, record.key, record.value, None, 0, 0, record.headers
            )
        )
    return out


def counted(group: str, topic: str, outcome: Outcome) -> float:
    labels = {"consumer": group, "topic": topic, "outcome": outcome.value}
    return REGISTRY.get_sample_value("vigie_events_consumed_total", labels) or 0.0


async def test_a_redelivered_batch_stores_nothing_twice_and_counts_duplicates(
    log: LogUnderTest, producer: Producer
) -> None:
    topic, group = f"audit-dedupe-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    records = logins(topic, 7)
    ingest = ingest_consumer(Deps(log, producer), log.audit.ingest, group=group, part_size=3)

    first = await ingest.process_batch(records)
    again = await ingest.process_batch(records)  # as after a lost offset commit

    assert first == [PROCESSED] * 7
    assert again == [DUPLICATE] * 7
    assert await stored_ids(log) == [event_id(r) for r in records]
    assert ingest.counts[PROCESSED] == 7
    assert ingest.counts[DUPLICATE] == 7
    assert counted(group, topic, PROCESSED) == 7
    assert counted(group, topic, DUPLICATE) == 7
    assert ingest.dead_lettered == 0
    assert (await cli.verify(log.settings, [], log.schema)).ok


async def test_a_batch_redelivered_with_new_records_stores_only_the_new_in_order(
    log: LogUnderTest, producer: Producer
) -> None:
    topic, group = f"audit-dedupe-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    stored_before = logins(topic, 4)
    ingest = ingest_consumer(Deps(log, producer), log.audit.ingest, group=group, part_size=3)
    await ingest.process_batch(stored_before)
    # Polled again from offset 2 (its last parts' commit lost), with what arrived since, and an
    # id repeated within the batch (a producer's retry).
    newer = logins(topic, 4, first=4)
    batch = [*stored_before[2:], *newer, newer[1]]

    outcomes = await ingest.process_batch(batch)

    assert outcomes == [DUPLICATE, DUPLICATE, PROCESSED, PROCESSED, PROCESSED, PROCESSED, DUPLICATE]
    assert await stored_ids(log) == [event_id(r) for r in [*stored_before, *newer]]
    assert ingest.stored == 8
    assert counted(group, topic, DUPLICATE) == 3
    assert (await cli.verify(log.settings, [], log.schema)).ok


async def test_the_audit_consumer_writes_no_inbox_row(
    log: LogUnderTest, producer: Producer
) -> None:
    topic, group = f"audit-dedupe-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    records = logins(topic, 5)
    ingest = ingest_consumer(Deps(log, producer), log.audit.ingest, group=group, part_size=2)

    await ingest.process_batch(records)
    await ingest.process_batch(records)

    async with log.pool.acquire() as conn:
        rows = await conn.fetchval("SELECT count(*) FROM inbox")
    assert rows == 0
    assert await stored_ids(log) == [event_id(r) for r in records]
