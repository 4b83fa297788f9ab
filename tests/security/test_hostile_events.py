"""Hostile events: what ``tests/kit/test_dead_letters.py`` leaves out. An oversized event and a
wrongly sourced one never stop a consumer, and belong in the DLQ; one over Kafka's 1 MiB record
limit, which cannot be dead-lettered whole, goes as a record of itself.

Vigie's events carry no signature, so "wrongly signed" can only honestly mean *wrongly
sourced*: a type announced by a source that does not produce it (``events.ALLOWED_SOURCES``),
e.g. a learning platform publishing ``vigie.access.restored``. That catches misrouted and
misconfigured producers; a determined forger is stopped by per-topic producer ACLs on the
broker, not by anything a consumer can check."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import uuid
from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from tests.fixtures.kafka import SESSION_TIMEOUT_MS, on_topic, read_all
from tests.fixtures.poison import (
    applied,
    consume_until,
    dead_letter_copies,
    oversized,
    send_as_attacker,
)
from tests.fixtures.poison import new_topic as roomy_topic
from tests.kit.support import Deps, deps
from vigie_shared import topics
from vigie_shared.events import (
    AccessRestored,
    Actor,
    CloudEvent,
    UserCreated,
    new_event,
    source_allowed,
)
from vigie_shared.kit.cloudevents import KafkaRecord, encode
from vigie_shared.kit.consumer import EventConsumer, Outcome
from vigie_shared.kit.db import Conn
from vigie_shared.kit.kafka import ensure_topics

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

__all__ = ["deps"]

SSO = "/vigie/sso_gateway"
OVERSIZED = 900 * 1024  # under Kafka's default 1 MiB record limit, far over any real event


def user_created(subject: str, source: str = SSO, **extra: Any) -> CloudEvent[Any]:
    data = UserCreated(user_id=subject, email=f"{subject}@t.fr", display_name=subject, **extra)
    return new_event(data, subject=subject, source=source)


def restored(subject: str, source: str) -> CloudEvent[Any]:
    data = AccessRestored(
        learner_id=subject, reason="paid", actor=Actor(kind="service", id="accounting")
    )
    return new_event(data, subject=subject, source=source)


async def run_consumer(deps: Deps, kafka: str, records: list[KafkaRecord]) -> EventConsumer:
    """Send ``records`` to a topic of their own, consume until the last one's effect is stored."""
    topic = records[0].topic
    consumer = EventConsumer(f"g-{topic}", deps, max_attempts=2, base_delay=0.01)

    async def effect(conn: Conn, event: CloudEvent[Any]) -> None:
        await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, event.subject)

    consumer.handles(UserCreated)(effect)
    consumer.handles(AccessRestored)(effect)
    broker = KafkaBroker(kafka)
    consumer.subscribe(broker, topic, session_timeout_ms=SESSION_TIMEOUT_MS)
    for record in records:
        await deps.producer.send_and_wait(record)
    await broker.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if await deps.pool.fetchval("SELECT count(*) FROM effects WHERE subject = 'last'"):
                break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()
    return consumer


async def new_topic(kafka: str) -> str:
    topic = f"test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [topic], partitions=1)
    return topic


async def effects(deps: Deps) -> list[str]:
    return [r["subject"] for r in await deps.pool.fetch("SELECT subject FROM effects")]


async def test_the_catalog_says_who_may_emit_what() -> None:
    assert source_allowed("vigie.access.restored", SSO)
    assert not source_allowed("vigie.access.restored", "/moodle")
    assert not source_allowed("vigie.dpo.task.requested", SSO)
    assert source_allowed("vigie.dpo.task.completed", "/moodle")  # any data system answers
    assert source_allowed("vigie.security.access.denied", "/vigie/audit_log")


async def test_oversized_deep_and_wrongly_sourced_events_never_stop_the_consumer(
    deps: Deps, kafka: str
) -> None:
    topic = await new_topic(kafka)
    big = on_topic(encode(user_created("big", padding="x" * OVERSIZED)), topic)
    forged = on_topic(encode(restored("forged", "/platforms/moodle")), topic)
    template = on_topic(encode(user_created("deep")), topic)
    assert template.value is not None
    # Valid in every field, plus an extra one nested far past any recursion limit.
    nested = b'{"nested": ' + b"[" * 100_000 + b"]" * 100_000 + b", "
    deep = KafkaRecord(topic, b"deep", nested + template.value[1:], template.headers)
    last = on_topic(encode(user_created("last")), topic)
    assert big.value is not None
    assert len(big.value) > OVERSIZED
    consumer = await run_consumer(deps, kafka, [big, forged, deep, last])
    applied = await effects(deps)
    assert "last" in applied
    assert "deep" not in applied
    assert consumer.counts[Outcome.DEAD_LETTERED] >= 1


async def test_an_oversized_event_goes_to_the_dlq(deps: Deps, kafka: str) -> None:
    topic = await new_topic(kafka)
    big = on_topic(encode(user_created("big", padding="x" * OVERSIZED)), topic)
    last = on_topic(encode(user_created("last")), topic)
    consumer = await run_consumer(deps, kafka, [big, last])
    assert await effects(deps) == ["last"]
    assert consumer.counts[Outcome.DEAD_LETTERED] == 1


async def test_a_wrongly_sourced_event_goes_to_the_dlq(deps: Deps, kafka: str) -> None:
    topic = await new_topic(kafka)
    forged = on_topic(encode(restored("forged", "/platforms/moodle")), topic)
    genuine = on_topic(encode(restored("genuine", SSO)), topic)
    last = on_topic(encode(user_created("last")), topic)
    consumer = await run_consumer(deps, kafka, [forged, genuine, last])
    assert await effects(deps) == ["genuine", "last"]
    assert consumer.counts[Outcome.DEAD_LETTERED] == 1
    dead = await read_all(kafka, topics.dlq(topic), 1)
    assert [r.value for r in dead] == [forged.value]
    assert b"source" in dict(dead[0].headers)["dlq_reason"]


@pytest.mark.both_brokers
async def test_an_event_over_a_mebibyte_goes_as_a_record_of_it_and_never_wedges_its_partition(
    deps: Deps, kafka: str
) -> None:
    """The attack: one record larger than any broker takes back in a dead-letter copy, then a
    good event on the same partition. The copy used to fail with MessageSizeTooLargeError,
    taken for an outage, and the batch was redelivered for ever."""
    topic = await roomy_topic(kafka, roomy=True)
    big = on_topic(oversized("big"), topic)
    last = on_topic(encode(user_created("last")), topic)
    assert big.value is not None
    assert len(big.value) > 1024 * 1024
    await send_as_attacker(kafka, [big, last])
    consumer = EventConsumer(f"g-{topic}", deps, max_attempts=2, base_delay=0.01)

    async def effect(conn: Conn, event: CloudEvent[Any]) -> None:
        await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, event.subject)

    consumer.handles(UserCreated)(effect)
    await consume_until(consumer, kafka, topic, applied(deps.pool, "last"))

    assert await effects(deps) == ["last"]
    assert consumer.counts[Outcome.DEAD_LETTERED] == 1
    assert consumer.progress.failures == 0  # nothing was given back for redelivery
    (copy,) = await dead_letter_copies(kafka, topic)
    headers = dict(copy.headers)
    assert headers["dlq_form"] == b"record"
    assert headers["dlq_size"] == str(len(big.value)).encode()
    assert headers["dlq_sha256"] == hashlib.sha256(big.value).hexdigest().encode()
    assert headers["ce_id"] == dict(big.headers)["ce_id"]
    assert b"exceeds" in headers["dlq_reason"]
    summary = json.loads(copy.value)
    assert base64.b64decode(summary["head"]) == big.value[:1024]
    assert len(copy.value) < 64 * 1024
