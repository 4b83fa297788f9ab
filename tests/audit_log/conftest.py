"""A migrated audit_log schema of the test's own, the service objects bound to it, and the app
in process (helpers in ``support.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from audit_log.config import Settings
from audit_log.context import AuditLog
from audit_log.service import SERVICE
from tests.audit_log.support import Api, FakeIssuer, LogUnderTest, app_of, build_tlog_verify
from vigie_shared.kit import db
from vigie_shared.kit.kafka import Producer
from vigie_shared.kit.migrate import migrate


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


@pytest_asyncio.fixture(loop_scope="session")
async def api(log: LogUnderTest) -> AsyncIterator[Api]:
    """The app in process on the log, its tokens from a fake issuer."""
    issuer = FakeIssuer()
    transport = httpx.ASGITransport(app=app_of(log, issuer))
    async with httpx.AsyncClient(transport=transport, base_url="http://audit") as http:
        yield http, issuer


@pytest.fixture(scope="session")
def tlog_verify() -> Path:
    return build_tlog_verify()
