"""A polled batch is stored part by part, two transactions at once for throughput: the parts
take the tree's writer lock in the order they were polled, a record is stored once however often
it is delivered, a poison record goes to the DLQ without losing the rest of its part, and an
outage fails the batch so that it is redelivered."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord

from audit_log import cli
from audit_log.ingest.handlers import ingest_consumer
from audit_log.tree.leaf import MAX_LEAF_BYTES
from tests.audit_log.support import LogUnderTest, event_id, stored_ids
from tests.fixtures.kafka import read_all
from tests.fixtures.pools import FirstConnectionHeld
from vigie_shared import topics
from vigie_shared.events import LoginSucceeded, new_event
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.kafka import Producer

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


class Deps:
    def __init__(self, pool: Any, producer: Producer) -> None:
        self.pool = pool
        self.producer = producer


class OutageOnAcquire:
    """The log's pool, but the ``nth`` connection asked for is refused (the database is down)."""

    def __init__(self, pool: asyncpg.Pool, nth: int) -> None:
        self._pool = pool
        self._nth = nth
        self.asked = 0

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        self.asked += 1
        if self.asked == self._nth:
            raise ConnectionRefusedError("database unreachable")
        async with self._pool.acquire() as conn:
            yield conn


@pytest.fixture
def topic() -> str:
    return f"audit-parts-{uuid.uuid4().hex[:8]}"


def polled(
    topic: str, *users: str, sessions: dict[int, str] | None = None
) -> list[ConsumerRecord[Any, Any]]:
    """Records as the broker hands them over: one per login of each user, in that order (the
    login at offset ``n`` with session id ``sessions[n]`` when given)."""
    out: list[ConsumerRecord[Any, Any]] = []
    for offset, user in enumerate(users):
        session = (sessions or {}).get(offset, f"s-{offset}")
        record = encode(
            new_event(
                LoginSucceeded(user_id=user, session_id=session, ip="10.0.0.1"),
                subject=user,
                source="/vigie/sso_gateway",
            )
        )
        out.append(
            ConsumerRecord(
                topic=topic,
                partition=0,
                offset=offset,
                timestamp=0,
                timestamp_type=0,
                key=record.key,
                value=record.value,
                checksum=None,
                serialized_key_size=len(record.key or b""),
                serialized_value_size=len(record.value or b""),
                headers=tuple(record.headers),
            )
        )
    return out


async def test_parts_are_appended_in_the_order_polled_and_a_redelivery_adds_nothing(
    log: LogUnderTest, producer: Producer, topic: str
) -> None:
    records = polled(topic, *(f"u-{n % 4}" for n in range(11)))
    held = FirstConnectionHeld(log.pool)
    ingest = ingest_consumer(Deps(held, producer), log.audit.ingest, group="g", part_size=3)
    # The first part is slow to begin: the parts after it must not overtake it meanwhile.
    processing = asyncio.create_task(ingest.process_batch(records))
    await asyncio.sleep(0.5)
    assert await stored_ids(log) == []
    held.released.set()
    await processing
    await ingest.process_batch(records)  # the same batch again, as after a lost offset commit

    assert await stored_ids(log) == [event_id(r) for r in records]
    assert ingest.stored == len(records)
    assert (await cli.verify(log.settings, [], log.schema)).ok


async def test_a_poison_record_is_dead_lettered_and_the_rest_of_its_part_stored(
    log: LogUnderTest, kafka: str, producer: Producer, topic: str
) -> None:
    # PostgreSQL refuses a NUL in text: this record decodes, but can never be stored.
    records = polled(topic, "u-1", "u-2", "u-3", "u-\x00", "u-5", "u-6", "u-7")
    ingest = ingest_consumer(
        Deps(log.pool, producer), log.audit.ingest, group="g", part_size=2, max_attempts=2
    )

    await ingest.process_batch(records)

    dead = await read_all(kafka, topics.dlq(topic), 1)
    good = [event_id(r) for r in records if r is not records[3]]
    assert sorted(await stored_ids(log)) == sorted(good)
    assert [event_id(r) for r in dead] == [event_id(records[3])]
    assert dict(dead[0].headers)["dlq_attempts"] == b"2"
    assert (await cli.verify(log.settings, [], log.schema)).ok


async def test_an_event_whose_leaf_exceeds_an_entry_bundle_is_a_dead_letter_before_append(
    log: LogUnderTest, kafka: str, producer: Producer, topic: str
) -> None:
    # A session id that alone makes the sealed payload, hence the leaf, longer than the uint16
    # length an entry bundle gives each entry (c2sp.org/tlog-tiles).
    records = polled(topic, "u-1", "u-2", "u-3", sessions={1: "s" * MAX_LEAF_BYTES})
    ingest = ingest_consumer(Deps(log.pool, producer), log.audit.ingest, group="g", part_size=3)

    await ingest.process_batch(records)

    assert await stored_ids(log) == [event_id(records[0]), event_id(records[2])]
    dead = await read_all(kafka, topics.dlq(topic), 1)
    assert [event_id(r) for r in dead] == [event_id(records[1])]
    headers = dict(dead[0].headers)
    assert headers["dlq_error"] == b"too_large"
    assert b"entry bundle" in headers["dlq_reason"]
    assert headers["dlq_attempts"] == b"0"  # refused as decoded: never claimed nor retried
    async with log.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT event_id, value, complete FROM dead_letters")
        claimed = await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'g'")
    assert row is not None
    # Not lost: the row keeps the event whole, for `vigie dlq replay` once it is made smaller.
    assert row["event_id"] == event_id(records[1])
    assert row["complete"]
    assert bytes(row["value"]) == records[1].value
    assert claimed == 0  # the log's unique event id is ingestion's dedupe
    assert ingest.dead_lettered == 1
    assert ingest.stored == 2
    assert (await cli.verify(log.settings, [], log.schema)).ok
    async with log.pool.acquire() as conn:
        bundle = await log.audit.tiles.entry_bundle(conn, 0, 2)
    assert bundle is not None


async def test_an_outage_fails_the_batch_and_its_redelivery_stores_each_record_once(
    log: LogUnderTest, producer: Producer, topic: str
) -> None:
    records = polled(topic, *(f"u-{n}" for n in range(10)))
    down = OutageOnAcquire(log.pool, nth=3)
    ingest = ingest_consumer(Deps(down, producer), log.audit.ingest, group="g", part_size=2)

    with pytest.raises(ConnectionRefusedError):
        await ingest.process_batch(records)
    interrupted = await stored_ids(log)
    assert 0 < len(interrupted) < len(records)

    await ingest_consumer(Deps(log.pool, producer), log.audit.ingest, group="g").process_batch(
        records
    )

    assert sorted(await stored_ids(log)) == sorted(event_id(r) for r in records)
    assert (await cli.verify(log.settings, [], log.schema)).ok
