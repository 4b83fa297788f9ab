"""A consumer whose store takes every event (``BatchStore``): parts stored in order, each id
once however often delivered, what the store refuses or cannot store a dead letter without
losing the rest of its part, on the real database and broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord

from tests.fixtures.kafka import read_all
from tests.kit.support import Deps, user_event
from vigie_shared import topics
from vigie_shared.events import CloudEvent, UserCreated
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.consumer import EventConsumer, Outcome, Refused
from vigie_shared.kit.db import Conn
from vigie_shared.kit.kafka import ensure_topics

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


class Effects:
    """Stores each event's subject in ``effects``; refuses "huge", fails on "poison"."""

    def __init__(self) -> None:
        self.parts: list[list[str]] = []

    def prepare(self, event: CloudEvent[Any]) -> tuple[str, str]:
        if event.subject == "huge":
            raise Refused("too_large", "beyond what the store takes")
        return event.id, event.subject

    async def store(
        self, conn: Conn, items: Sequence[tuple[str, str]], *, locked: asyncio.Event
    ) -> None:
        self.parts.append([subject for _, subject in items])
        if any(subject == "poison" for _, subject in items):
            raise ValueError("never stored")
        await conn.executemany("INSERT INTO effects VALUES ($1, $2)", items)


def record(topic: str, offset: int, event: CloudEvent[Any]) -> ConsumerRecord[Any, Any]:
    rec = encode(event)
    return ConsumerRecord(topic, 0, offset, 0, 0, rec.key, rec.value, None, 0, 0, rec.headers)


def malformed(topic: str, offset: int) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(topic, 0, offset, 0, 0, b"k", b"{not json", None, 0, 0, [("ce_id", b"x")])


async def effects(pool: asyncpg.Pool) -> list[str]:
    return [r["subject"] for r in await pool.fetch("SELECT subject FROM effects ORDER BY 1")]


async def test_parts_store_each_id_once_and_a_redelivery_stores_nothing(deps: Deps) -> None:
    store = Effects()
    consumer = EventConsumer(f"g-{uuid.uuid4().hex[:8]}", deps, store=store, part_size=2)
    a, b, c = user_event("a"), user_event("b"), user_event("c")
    records = [record("t", 0, a), record("t", 1, a), record("t", 2, b), record("t", 3, c)]

    outcomes = await consumer.process_batch(records)
    again = await consumer.process_batch(records)

    assert outcomes == [Outcome.PROCESSED, Outcome.DUPLICATE, Outcome.PROCESSED, Outcome.PROCESSED]
    assert again == [Outcome.DUPLICATE] * 4
    assert store.parts == [["a"], ["b", "c"], [], []]  # in the order polled, a repeat once
    assert await effects(deps.pool) == ["a", "b", "c"]
    assert consumer.stored == 3
    assert consumer.progress.failures == 0


async def test_refused_malformed_and_poison_records_are_dead_letters_and_the_rest_stored(
    deps: Deps, kafka: str
) -> None:
    topic = f"test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [topic], partitions=1)
    consumer = EventConsumer(
        f"g-{topic}", deps, store=Effects(), part_size=3, max_attempts=2, base_delay=0.01
    )
    events = [user_event(s) for s in ("a", "huge", "b", "poison", "c")]
    records = [record(topic, i, event) for i, event in enumerate(events)]
    records.insert(2, malformed(topic, 5))

    outcomes = await consumer.process_batch(records)

    dead = Outcome.DEAD_LETTERED
    assert outcomes == [Outcome.PROCESSED, dead, dead, Outcome.PROCESSED, dead, Outcome.PROCESSED]
    assert await effects(deps.pool) == ["a", "b", "c"]
    letters = await read_all(kafka, topics.dlq(topic), 3)
    by_error = {dict(r.headers)["dlq_error"]: dict(r.headers)["dlq_attempts"] for r in letters}
    assert by_error == {b"too_large": b"0", b"malformed": b"0", b"ValueError": b"2"}
    assert consumer.dead_lettered == 3
    inbox = await deps.pool.fetch("SELECT event_id FROM inbox WHERE consumer = $1", consumer.name)
    assert {r["event_id"] for r in inbox} == {events[0].id, events[2].id, events[4].id}

    await consumer.process_batch(records)  # redelivered: no second dead letter, nothing twice
    assert consumer.dead_lettered == 3
    assert await effects(deps.pool) == ["a", "b", "c"]


async def test_a_consumer_with_a_store_takes_no_handler(deps: Deps) -> None:
    consumer = EventConsumer("g-store", deps, store=Effects())
    with pytest.raises(TypeError):
        consumer.handles(UserCreated)
