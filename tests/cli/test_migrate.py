"""``vigie migrate`` applies every service's schema, and is a no-op the second time."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from tests.fixtures.stack import with_database

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def empty_database(admin_dsn: str) -> AsyncIterator[str]:
    name = f"vigie_migrate_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_dsn)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    yield with_database(admin_dsn, name)
    conn = await asyncpg.connect(admin_dsn)
    await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await conn.close()


def run_migrate(dsn: str) -> str:
    env = dict(os.environ, VIGIE_DATABASE_URL=dsn)
    done = subprocess.run(
        [sys.executable, "-m", "vigie_shared.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


async def test_vigie_migrate_creates_each_service_schema_once(empty_database: str) -> None:
    first = run_migrate(empty_database)
    second = run_migrate(empty_database)
    for name, schema in (("sso_gateway", "sso"), ("dpo_requests", "dpo"), ("audit_log", "audit")):
        assert f"{name}: schema '{schema}'" in first
        assert f"{name}: schema '{schema}', 0 migration(s) applied" in second
    conn = await asyncpg.connect(empty_database)
    try:
        schemas = {r["nspname"] for r in await conn.fetch("SELECT nspname FROM pg_namespace")}
    finally:
        await conn.close()
    assert {"sso", "dpo", "audit"} <= schemas
