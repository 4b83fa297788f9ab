"""What the kit's consumer tests share: their dependencies and a catalog event to send."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest_asyncio

from vigie_shared.events import SERVICE_SOURCES, CloudEvent, UserCreated, new_event
from vigie_shared.kit import db
from vigie_shared.kit.kafka import Producer
from vigie_shared.kit.migrate import migrate


class Deps:
    def __init__(self, pool: asyncpg.Pool, producer: Producer) -> None:
        self.pool = pool
        self.producer = producer


@pytest_asyncio.fixture(loop_scope="session")
async def deps(database_url: str, schema: str, kafka: str) -> AsyncIterator[Deps]:
    """The kit's tables and an ``effects`` table in a fresh schema, and a started producer."""
    await migrate(database_url, schema, None)
    pool = await db.create_pool(database_url, schema)
    await pool.execute("CREATE TABLE effects (event_id text, subject text)")
    producer = Producer(kafka, client_id="test")
    await producer.start()
    yield Deps(pool, producer)
    await producer.stop()
    await pool.close()


def user_event(subject: str) -> CloudEvent[Any]:
    """A ``UserCreated`` from the gateway, the service allowed to emit it."""
    return new_event(
        UserCreated(user_id=subject, email=f"{subject}@t.fr", display_name=subject),
        subject=subject,
        source=SERVICE_SOURCES["sso_gateway"],
    )
