"""One part of the event backbone in a process of its own, so that a test can SIGKILL it.

    python -m tests.kit.backbone_worker relay|consumer DSN SCHEMA BOOTSTRAP [GROUP]

The consumer's effect is a plain INSERT into ``effects`` (no unique constraint): a duplicate
delivery that got past the inbox would show up as a second row.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from faststream.kafka import KafkaBroker

from tests.fixtures.kafka import SESSION_TIMEOUT_MS
from vigie_shared import topics
from vigie_shared.events import CloudEvent, UserCreated
from vigie_shared.kit import db
from vigie_shared.kit.consumer import EventConsumer
from vigie_shared.kit.db import Conn
from vigie_shared.kit.kafka import Producer, ensure_topics
from vigie_shared.kit.outbox import OutboxRelay


class Deps:
    def __init__(self, pool: Any, producer: Producer) -> None:
        self.pool = pool
        self.producer = producer


async def relay(dsn: str, schema: str, bootstrap: str) -> None:
    pool = await db.create_pool(dsn, schema)
    producer = Producer(bootstrap, client_id="test-relay")
    await producer.start()

    async def topics_again() -> None:
        await ensure_topics(bootstrap, [topics.IDENTITY])

    await OutboxRelay(
        pool,
        producer,
        schema=schema,
        idle_interval=0.3,
        probe_interval=1.0,
        ensure_topics=topics_again,
    ).run()


async def consume(dsn: str, schema: str, bootstrap: str, group: str) -> None:
    pool = await db.create_pool(dsn, schema)
    producer = Producer(bootstrap, client_id="test-consumer-dlq")
    await producer.start()
    broker = KafkaBroker(bootstrap, logger=None)
    consumer = EventConsumer(group, Deps(pool, producer), transient_delay=0.2)

    @consumer.handles(UserCreated)
    async def effect(conn: Conn, event: CloudEvent[Any]) -> None:
        await conn.execute(
            "INSERT INTO effects (event_id, subject, seq) VALUES ($1, $2, $3)",
            event.id,
            event.subject,
            int(event.data.display_name.removeprefix("seq-")),
        )

    consumer.subscribe(broker, topics.IDENTITY, session_timeout_ms=SESSION_TIMEOUT_MS)
    await broker.start()
    print("consumer started", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    role, dsn, schema, bootstrap, *rest = sys.argv[1:]
    if role == "relay":
        asyncio.run(relay(dsn, schema, bootstrap))
    else:
        asyncio.run(consume(dsn, schema, bootstrap, rest[0]))


if __name__ == "__main__":
    main()
