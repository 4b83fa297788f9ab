"""A migrated audit_log schema of the test's own, and the service objects bound to it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest_asyncio

from audit_log.config import Settings
from audit_log.context import AuditLog
from audit_log.service import SERVICE
from audit_log.tree.leaf import Leaf
from audit_log.tree.service import NewEntry
from vigie_shared.kit import db
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.kafka import Producer
from vigie_shared.kit.migrate import migrate


@dataclass
class LogUnderTest:
    settings: Settings
    schema: str
    pool: asyncpg.Pool
    audit: AuditLog

    async def append(self, *entries: NewEntry) -> list[Leaf]:
        async with self.pool.acquire() as conn, conn.transaction():
            return await self.audit.tree.append(conn, list(entries))


def entry(
    n: int,
    *,
    subject: str = "u-1",
    type_: str = "vigie.sso.login.succeeded",
    actor: str | None = None,
    time: datetime | None = None,
    data: dict[str, Any] | None = None,
    facets: dict[str, Any] | None = None,
    topic: str = "identity.events.v1",
) -> NewEntry:
    return NewEntry(
        event_id=f"ev-{n}-{uuid.uuid4().hex[:8]}",
        topic=topic,
        type=type_,
        source="/vigie/sso_gateway",
        subject=subject,
        actor=actor,
        time=time or utcnow() - timedelta(seconds=1000 - n),
        data_subject=subject,
        data=data if data is not None else {"user_id": subject, "ip": f"10.0.0.{n % 250}"},
        facets=facets or {},
    )


@pytest_asyncio.fixture(loop_scope="session")
async def log(database_url: str, schema: str) -> AsyncIterator[LogUnderTest]:
    await migrate(database_url, schema, SERVICE.migrations)
    settings = Settings(database_url=database_url, env="development", checkpoint_origin="test/log")
    pool = await db.create_pool(database_url, schema, max_size=4)
    try:
        yield LogUnderTest(settings, schema, pool, AuditLog.build(settings))
    finally:
        await pool.close()


@pytest_asyncio.fixture(loop_scope="session")
async def producer(kafka: str) -> AsyncIterator[Producer]:
    """A started producer on the test broker, for the ingestion tests' records."""
    producer = Producer(kafka, client_id="audit-test")
    await producer.start()
    yield producer
    await producer.stop()
