"""Poison and malformed messages go to ``<topic>.dlq`` with the original bytes and the error in
headers, and never stop the consumer (issue: foundation, "Done means"); ``vigie dlq`` lists the
dead letters and replays one once its cause is fixed."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker

from tests.fixtures.dlq_cli import vigie_dlq
from tests.fixtures.kafka import SESSION_TIMEOUT_MS, on_topic, read_all
from tests.fixtures.poison import applied
from tests.kit.support import Deps, user_event
from vigie_shared import topics
from vigie_shared.events import CloudEvent, UserCreated
from vigie_shared.kit.cloudevents import KafkaRecord, encode
from vigie_shared.kit.consumer import EventConsumer, Outcome
from vigie_shared.kit.db import Conn
from vigie_shared.kit.kafka import ensure_topics

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


async def test_poison_and_malformed_messages_are_dead_lettered_and_the_next_is_processed(
    deps: Deps, kafka: str
) -> None:
    topic = f"test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [topic], partitions=1)
    consumer = EventConsumer(f"g-{topic}", deps, max_attempts=3, base_delay=0.01)
    tries: dict[str, int] = {}

    @consumer.handles(UserCreated)
    async def effect(conn: Conn, event: CloudEvent[Any]) -> None:
        tries[event.subject] = tries.get(event.subject, 0) + 1
        if event.subject == "poison":
            raise ValueError("this event can never be applied")
        await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, event.subject)

    broker = KafkaBroker(kafka)
    consumer.subscribe(broker, topic, session_timeout_ms=SESSION_TIMEOUT_MS)
    good = on_topic(encode(user_event("first")), topic)
    poison = on_topic(encode(user_event("poison")), topic)
    bad_json = KafkaRecord(topic, b"k", b"{oops", list(good.headers))
    unknown = KafkaRecord(
        topic,
        b"k",
        good.value,
        [(k, b"vigie.unheard.of" if k == "ce_type" else v) for k, v in good.headers],
    )
    headerless = KafkaRecord(topic, None, b'{"user_id": "x"}', [])
    last = on_topic(encode(user_event("last")), topic)
    for record in (good, poison, bad_json, unknown, headerless, last):
        await deps.producer.send_and_wait(record)

    await broker.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if await deps.pool.fetchval("SELECT count(*) FROM effects WHERE subject='last'"):
                break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()

    subjects = [r["subject"] for r in await deps.pool.fetch("SELECT subject FROM effects")]
    assert subjects == ["first", "last"]
    assert tries["poison"] == 3
    assert consumer.counts[Outcome.DEAD_LETTERED] == 4
    assert consumer.counts[Outcome.PROCESSED] == 2

    dead = await read_all(kafka, topics.dlq(topic), 4)
    assert [r.value for r in dead] == [
        poison.value,
        bad_json.value,
        unknown.value,
        b'{"user_id": "x"}',
    ]
    reasons = [dict(r.headers)["dlq_reason"].decode() for r in dead]
    assert "can never be applied" in reasons[0]
    assert "not JSON" in reasons[1]
    assert "unknown event type" in reasons[2]
    assert "missing header" in reasons[3]
    first = dict(dead[0].headers)
    assert first["dlq_error"] == b"ValueError"
    assert first["dlq_attempts"] == b"3"
    assert first["dlq_topic"] == topic.encode()
    assert first["ce_id"] == dict(poison.headers)["ce_id"]  # original headers kept


async def test_a_redelivered_event_changes_nothing(deps: Deps, kafka: str) -> None:
    topic = f"test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [topic], partitions=1)
    consumer = EventConsumer(f"g-{topic}", deps)

    @consumer.handles(UserCreated)
    async def effect(conn: Conn, event: CloudEvent[Any]) -> None:
        await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, event.subject)

    record = on_topic(encode(user_event("once")), topic)
    outcomes = []
    for offset in range(3):
        raw = ConsumerRecord(
            topic, 0, offset, 0, 0, record.key, record.value, None, 0, 0, record.headers
        )
        outcomes.append(await consumer.process(raw))
    assert outcomes == [Outcome.PROCESSED, Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert await deps.pool.fetchval("SELECT count(*) FROM effects WHERE subject='once'") == 1


async def test_vigie_dlq_lists_a_dead_letter_and_replays_it_to_be_applied_once(
    deps: Deps,
    kafka: str,
    database_url: str,
    schema: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("VIGIE_DATABASE_URL", database_url)
    monkeypatch.setenv("VIGIE_KAFKA_BOOTSTRAP", kafka)
    topic = f"test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [topic], partitions=1)
    consumer = EventConsumer(f"g-{topic}", deps, max_attempts=2, base_delay=0.01)
    fixed = {"yet": False}

    @consumer.handles(UserCreated)
    async def effect(conn: Conn, event: CloudEvent[Any]) -> None:
        if event.subject == "fixme" and not fixed["yet"]:
            raise LookupError("no such platform yet")
        await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, event.subject)

    fixme = on_topic(encode(user_event("fixme")), topic)
    broker = KafkaBroker(kafka, logger=None)
    consumer.subscribe(broker, topic, session_timeout_ms=SESSION_TIMEOUT_MS)
    await broker.start()
    try:
        await deps.producer.send_and_wait(fixme)
        await deps.producer.send_and_wait(on_topic(encode(user_event("last")), topic))
        await until(applied(deps.pool, "last"))

        assert await asyncio.to_thread(vigie_dlq, ["dlq", "list", "--schema", schema]) == 0
        (line,) = capsys.readouterr().out.splitlines()
        ce_id = dict(fixme.headers)["ce_id"].decode()
        assert f"{topic}[0]@0" in line
        assert f"event {ce_id}" in line
        assert "LookupError: 'no such platform yet'" in line
        assert "copy: whole" in line
        ref = line.split()[0]

        fixed["yet"] = True
        assert await asyncio.to_thread(vigie_dlq, ["dlq", "replay", ref]) == 0
        await until(applied(deps.pool, "fixme"))
        duplicates = consumer.counts[Outcome.DUPLICATE]
        assert await asyncio.to_thread(vigie_dlq, ["dlq", "replay", ref]) == 0
        await until(lambda: _more(consumer.counts, Outcome.DUPLICATE, duplicates))
    finally:
        await broker.stop()

    assert await deps.pool.fetchval("SELECT count(*) FROM effects WHERE subject='fixme'") == 1
    assert consumer.counts[Outcome.DEAD_LETTERED] == 1
    capsys.readouterr()
    assert await asyncio.to_thread(vigie_dlq, ["dlq", "list", "--schema", schema]) == 0
    assert "replayed 2x" in capsys.readouterr().out


async def _more(counts: dict[Outcome, int], outcome: Outcome, than: int) -> bool:
    return counts[outcome] > than


async def until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
