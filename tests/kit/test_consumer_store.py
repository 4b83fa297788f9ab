"""A consumer whose store takes every event (``BatchStore``): parts stored in order, each id
once however often delivered, what the store refuses or cannot store a dead letter without
losing the rest of its part, on the real database and broker. A store that dedupes by itself
(``DedupingStore``) has nothing claimed in the inbox and its answer makes the outcomes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord
from prometheus_client import REGISTRY

from tests.fixtures.kafka import read_all
from tests.fixtures.pools import FirstConnectionHeld
from tests.kit.support import Deps, user_event
from vigie_shared import topics
from vigie_shared.events import CloudEvent, UserCreated
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.consumer import DedupingStore, EventConsumer, Outcome, Refused
from vigie_shared.kit.db import Conn
from vigie_shared.kit.kafka import Producer, ensure_topics

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


class KeyedEffects:
    """Stores each event's subject in ``keyed``, whose key is the event id: an id it holds is
    skipped, and it says which it stored."""

    dedupes_by_event_id: ClassVar[Literal[True]] = True

    def __init__(self) -> None:
        self.parts: list[list[str]] = []

    def prepare(self, event: CloudEvent[Any]) -> tuple[str, str]:
        return event.id, event.subject

    async def store(
        self, conn: Conn, items: Sequence[tuple[str, str]], *, locked: asyncio.Event
    ) -> list[str]:
        self.parts.append([subject for _, subject in items])
        rows = await conn.fetch(
            "INSERT INTO keyed SELECT * FROM unnest($1::text[], $2::text[])"
            " ON CONFLICT DO NOTHING RETURNING event_id",
            [event_id for event_id, _ in items],
            [subject for _, subject in items],
        )
        return [row["event_id"] for row in rows]


class HeldDeps:
    def __init__(self, pool: FirstConnectionHeld, producer: Producer) -> None:
        self.pool: Any = pool
        self.producer = producer


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


async def keyed(pool: asyncpg.Pool) -> list[str]:
    return [r["subject"] for r in await pool.fetch("SELECT subject FROM keyed ORDER BY 1")]


async def claimed(pool: asyncpg.Pool, consumer: str) -> set[str]:
    rows = await pool.fetch("SELECT event_id FROM inbox WHERE consumer = $1", consumer)
    return {row["event_id"] for row in rows}


def counted(consumer: str, topic: str, outcome: Outcome) -> float:
    labels = {"consumer": consumer, "topic": topic, "outcome": outcome.value}
    return REGISTRY.get_sample_value("vigie_events_consumed_total", labels) or 0.0


async def test_a_store_that_dedupes_by_itself_claims_nothing_and_counts_its_repeats(
    deps: Deps,
) -> None:
    await deps.pool.execute("CREATE TABLE keyed (event_id text PRIMARY KEY, subject text)")
    store = KeyedEffects()
    typed: DedupingStore[tuple[str, str]] = store
    consumer = EventConsumer(f"g-{uuid.uuid4().hex[:8]}", deps, store=typed, part_size=2)
    a, b, c = user_event("a"), user_event("b"), user_event("c")
    records = [record("t", 0, a), record("t", 1, a), record("t", 2, b), record("t", 3, c)]

    outcomes = await consumer.process_batch(records)
    again = await consumer.process_batch(records)

    assert outcomes == [Outcome.PROCESSED, Outcome.DUPLICATE, Outcome.PROCESSED, Outcome.PROCESSED]
    assert again == [Outcome.DUPLICATE] * 4
    # Every record reaches the store, a repeat and a redelivery too: it is the dedupe.
    assert store.parts == [["a", "a"], ["b", "c"], ["a", "a"], ["b", "c"]]
    assert await keyed(deps.pool) == ["a", "b", "c"]
    assert await claimed(deps.pool, consumer.name) == set()
    assert consumer.counts[Outcome.PROCESSED] == 3
    assert consumer.counts[Outcome.DUPLICATE] == 5
    assert counted(consumer.name, "t", Outcome.PROCESSED) == 3
    assert counted(consumer.name, "t", Outcome.DUPLICATE) == 5


async def test_an_id_a_deduping_store_already_holds_is_a_duplicate_by_its_answer(
    deps: Deps,
) -> None:
    await deps.pool.execute("CREATE TABLE keyed (event_id text PRIMARY KEY, subject text)")
    a, b = user_event("a"), user_event("b")
    # Stored before, by another consumer group say: no inbox row of this one names it.
    await deps.pool.execute("INSERT INTO keyed VALUES ($1, 'a before')", a.id)
    consumer = EventConsumer(f"g-{uuid.uuid4().hex[:8]}", deps, store=KeyedEffects())

    outcomes = await consumer.process_batch([record("t", 0, a), record("t", 1, b)])

    assert outcomes == [Outcome.DUPLICATE, Outcome.PROCESSED]
    assert await keyed(deps.pool) == ["a before", "b"]
    assert consumer.stored == 1


async def test_a_store_without_the_declaration_is_still_claimed_in_the_inbox(deps: Deps) -> None:
    store = Effects()
    consumer = EventConsumer(f"g-{uuid.uuid4().hex[:8]}", deps, store=store, part_size=2)
    a, b, c = user_event("a"), user_event("b"), user_event("c")
    # Claimed by this group before (its effect committed, its offset commit lost).
    await deps.pool.execute(
        "INSERT INTO inbox (consumer, event_id, topic, partition, kafka_offset)"
        " VALUES ($1, $2, 't', 0, 2)",
        consumer.name,
        c.id,
    )

    outcomes = await consumer.process_batch(
        [record("t", 0, a), record("t", 1, b), record("t", 2, c)]
    )

    assert outcomes == [Outcome.PROCESSED, Outcome.PROCESSED, Outcome.DUPLICATE]
    assert store.parts == [["a", "b"], []]  # the claimed id never reaches the store
    assert await claimed(deps.pool, consumer.name) == {a.id, b.id, c.id}
    assert await effects(deps.pool) == ["a", "b"]


@pytest.mark.parametrize("kind", [Effects, KeyedEffects], ids=["claimed", "deduping"])
async def test_parts_take_the_stores_lock_in_the_order_polled(
    deps: Deps, kind: type[Effects | KeyedEffects]
) -> None:
    await deps.pool.execute("CREATE TABLE keyed (event_id text PRIMARY KEY, subject text)")
    held = FirstConnectionHeld(deps.pool)
    store = kind()
    consumer = EventConsumer(
        f"g-{uuid.uuid4().hex[:8]}", HeldDeps(held, deps.producer), store=store, part_size=2
    )
    records = [record("t", n, user_event(s)) for n, s in enumerate("abcd")]

    storing = asyncio.create_task(consumer.process_batch(records))
    await asyncio.sleep(0.3)
    assert store.parts == []  # the second part waits for the first, however long it takes
    held.released.set()
    await storing

    assert store.parts == [["a", "b"], ["c", "d"]]
