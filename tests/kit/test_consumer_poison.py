"""Poison records against the kit's consumer, on the real database and broker (kit/dead_letters):
failures classified, one dead letter per record and group however often it is delivered, the
broker's own refusal of a copy handled, outages retried with backoff and never dead-lettered,
and a consumer that cannot advance reported on ``/readyz`` and ``/metrics``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RecordTooLargeError,
    RequestTimedOutError,
    TopicAuthorizationFailedError,
)
from fastapi import FastAPI

from tests.fixtures.kafka import on_topic
from tests.fixtures.poison import (
    ROOMY,
    applied,
    consume_until,
    dead_letter_copies,
    new_topic,
    oversized,
    rewind,
    sample,
    send_as_attacker,
    subjects,
)
from tests.kit.support import Deps, user_event
from vigie_shared.events import CloudEvent, UserCreated
from vigie_shared.kit.backoff import Backoff
from vigie_shared.kit.cloudevents import KafkaRecord, encode
from vigie_shared.kit.consumer import EventConsumer, Outcome
from vigie_shared.kit.db import Conn
from vigie_shared.kit.failures import is_transient
from vigie_shared.kit.runtime import Runtime, ServiceSpec
from vigie_shared.kit.settings import ServiceSettings

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.broker,
    pytest.mark.both_brokers,
]


async def test_failures_are_classified_by_what_aiokafka_and_asyncpg_raise() -> None:
    # The record's fault: the same every time, so retrying for ever would wedge the partition.
    for permanent in (
        MessageSizeTooLargeError(),
        RecordTooLargeError(),
        TopicAuthorizationFailedError(),
        ValueError("bad data"),
        asyncpg.exceptions.UniqueViolationError(),
    ):
        assert not is_transient(permanent), permanent
    # The world's fault: retried, never dead-lettered.
    for transient in (
        KafkaConnectionError(),
        RequestTimedOutError(),
        NotLeaderForPartitionError(),
        ConnectionRefusedError(),
        TimeoutError(),
        asyncpg.exceptions.CannotConnectNowError(),
        asyncpg.exceptions.SerializationError(),
    ):
        assert is_transient(transient), transient


async def test_the_backoff_doubles_up_to_its_cap_and_jitters_below_it() -> None:
    steady = Backoff(base=1.0, cap=8.0, jitter=False)
    assert [steady.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert steady.delay(10_000) == 8.0
    jittered = Backoff(base=1.0, cap=8.0)
    for n in range(1, 7):
        assert steady.delay(n) / 2 <= jittered.delay(n) <= steady.delay(n)


async def test_each_poison_record_has_one_dead_letter_however_often_it_is_delivered(
    deps: Deps, kafka: str
) -> None:
    topic = await new_topic(kafka)
    group = f"g-{topic}"
    tries: dict[str, int] = {}

    async def effect(conn: Conn, event: CloudEvent[Any]) -> None:
        tries[event.subject] = tries.get(event.subject, 0) + 1
        if event.subject == "poison":
            raise ValueError("this event can never be applied")
        await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, event.subject)

    good = on_topic(encode(user_event("first")), topic)
    bad_json = KafkaRecord(topic, b"k", b"{oops", list(good.headers))
    old_spec = KafkaRecord(
        topic,
        b"k",
        good.value,
        [(k, b"0.3" if k == "ce_specversion" else v) for k, v in good.headers],
    )
    headerless = KafkaRecord(topic, None, b'{"user_id": "x"}', [])
    poison = on_topic(encode(user_event("poison")), topic)
    last = on_topic(encode(user_event("last")), topic)
    for record in (good, bad_json, old_spec, headerless, poison, last):
        await deps.producer.send_and_wait(record)

    first_run = EventConsumer(group, deps, max_attempts=3, base_delay=0.01)
    first_run.handles(UserCreated)(effect)
    await consume_until(first_run, kafka, topic, applied(deps.pool, "last"))
    # The consumer is restarted with its offsets lost: every record comes again.
    await rewind(kafka, group, topic)
    second_run = EventConsumer(group, deps, max_attempts=3, base_delay=0.01)
    second_run.handles(UserCreated)(effect)
    outcomes = second_run.counts
    await consume_until(
        second_run,
        kafka,
        topic,
        lambda: _at_least(outcomes, Outcome.DUPLICATE, 2),
    )

    copies = await dead_letter_copies(kafka, topic)
    assert [r.value for r in copies] == [
        bad_json.value,
        old_spec.value,
        headerless.value,
        poison.value,
    ]
    assert len({dict(r.headers)["dlq_id"] for r in copies}) == 4
    # max_attempts tries, then one more in the redelivered batch (whose transaction rolls back)
    # before its dead letter is found: not max_attempts again.
    assert tries["poison"] == 4
    assert second_run.counts[Outcome.DEAD_LETTERED] == 4
    rows = await deps.pool.fetch(
        "SELECT kafka_offset, copied_as, error FROM dead_letters WHERE consumer = $1"
        " ORDER BY kafka_offset",
        group,
    )
    assert [(r["kafka_offset"], r["copied_as"]) for r in rows] == [
        (1, "whole"),
        (2, "whole"),
        (3, "whole"),
        (4, "whole"),
    ]
    assert rows[3]["error"] == "ValueError"
    assert await subjects(deps.pool) == ["first", "last"]


async def _at_least(counts: dict[Outcome, int], outcome: Outcome, n: int) -> bool:
    return counts[outcome] >= n


async def test_a_copy_the_broker_client_refuses_as_too_large_goes_as_a_record_of_it(
    deps: Deps, kafka: str
) -> None:
    """The size check is set above the producer's own 1 MiB limit: aiokafka then raises its
    real ``MessageSizeTooLargeError``, which must be taken as final for the whole copy, not
    retried (it used to be, for ever)."""
    topic = await new_topic(kafka, roomy=True)
    big = on_topic(oversized("big"), topic)
    last = on_topic(encode(user_event("last")), topic)
    await send_as_attacker(kafka, [big, last])
    consumer = EventConsumer(f"g-{topic}", deps, max_message_bytes=ROOMY)

    async def effect(conn: Conn, event: CloudEvent[Any]) -> None:
        await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, event.subject)

    consumer.handles(UserCreated)(effect)
    await consume_until(consumer, kafka, topic, applied(deps.pool, "last"))

    (copy,) = await dead_letter_copies(kafka, topic)
    assert dict(copy.headers)["dlq_form"] == b"record"
    row = await deps.pool.fetchrow(
        "SELECT copied_as, copy_error, complete, value FROM dead_letters WHERE consumer = $1",
        consumer.name,
    )
    assert row is not None
    assert row["copied_as"] == "record"
    assert "MessageSizeTooLargeError" in row["copy_error"]
    assert row["complete"]  # kept whole in PostgreSQL, so it can be replayed
    assert row["value"] == big.value
    assert consumer.progress.failures == 0


async def test_a_transient_failure_is_retried_with_backoff_until_it_passes_never_dead_lettered(
    deps: Deps, kafka: str
) -> None:
    topic = await new_topic(kafka)
    consumer = EventConsumer(f"g-{topic}", deps, transient_delay=0.05)
    outage = {"left": 3}

    @consumer.handles(UserCreated)
    async def effect(conn: Conn, event: CloudEvent[Any]) -> None:
        if event.subject == "flaky" and outage["left"]:
            outage["left"] -= 1
            raise ConnectionRefusedError("database briefly unreachable")
        await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, event.subject)

    for subject in ("flaky", "last"):
        await deps.producer.send_and_wait(on_topic(encode(user_event(subject)), topic))
    await consume_until(consumer, kafka, topic, applied(deps.pool, "last"))

    assert await subjects(deps.pool) == ["flaky", "last"]
    assert outage["left"] == 0
    transient = sample("vigie_consumer_transient_failures_total", consumer=consumer.name)
    assert transient == 3
    assert await dead_letter_copies(kafka, topic) == []
    assert not await deps.pool.fetchval(
        "SELECT count(*) FROM dead_letters WHERE consumer = $1", consumer.name
    )


class Clock:
    """Monotonic time the test moves by hand: "has not advanced for its stall window" without
    waiting that long."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


async def test_a_consumer_that_cannot_advance_is_not_ready_and_shows_its_lag(
    database_url: str, schema: str, kafka: str
) -> None:
    topic = await new_topic(kafka)
    settings = ServiceSettings(database_url=database_url, kafka_bootstrap=kafka)
    spec = ServiceSpec(
        name="stalltest",
        schema=schema,
        default_port=0,
        migrations=None,
        module="stalltest",
        settings_factory=ServiceSettings,
    )
    runtime = Runtime(spec, settings)
    clock = Clock()
    consumer = EventConsumer(
        f"stall-{topic}", runtime, transient_delay=0.01, stall_after=60.0, clock=clock
    )
    down = {"database": True}

    @consumer.handles(UserCreated)
    async def effect(conn: Conn, event: CloudEvent[Any]) -> None:
        if down["database"]:
            raise ConnectionRefusedError("database unreachable")
        await conn.execute("INSERT INTO events_seen VALUES ($1)", event.id)

    consumer.subscribe(runtime.broker, topic)
    runtime.watch(consumer.progress)

    async def make_table(conn: Conn) -> None:
        await conn.execute("CREATE TABLE events_seen (event_id text)")

    runtime.on_start(make_table)
    app = FastAPI(lifespan=runtime.lifespan)
    runtime.install(app)
    check = f"consumer {consumer.name}"
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        for n in range(3):
            await runtime.producer.send_and_wait(on_topic(encode(user_event(f"u-{n}")), topic))
        deadline = time.monotonic() + 60
        while consumer.progress.failures < 2:
            assert time.monotonic() < deadline, "the consumer never failed"
            await asyncio.sleep(0.05)
        # Failing, but not for long: not yet a stall.
        assert (await http.get("/readyz")).json()["checks"][check] is True

        clock.now += 61
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"][check] is False
        metrics = (await http.get("/metrics")).text
        assert f'vigie_consumer_stalled{{consumer="{consumer.name}"}} 1.0' in metrics
        lag = sample(
            "vigie_consumer_offset_lag", consumer=consumer.name, topic=topic, partition="0"
        )
        assert lag == 3

        down["database"] = False
        while await runtime.pool.fetchval("SELECT count(*) FROM events_seen") < 3:
            assert time.monotonic() < deadline, "the consumer never caught up"
            await asyncio.sleep(0.05)
        while consumer.progress.behind:
            assert time.monotonic() < deadline, "the consumer never reported catching up"
            await asyncio.sleep(0.05)
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert sample("vigie_consumer_stalled", consumer=consumer.name) == 0.0
