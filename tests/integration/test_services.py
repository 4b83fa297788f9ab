"""The three services on the real broker and PostgreSQL: health, problem details, and one flow
that crosses services (sso_gateway's outbox -> Kafka -> the audit log)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from audit_log.app import create_app as audit_app
from audit_log.config import Settings as AuditSettings
from dpo_requests.app import create_app as dpo_app
from dpo_requests.config import Settings as DpoSettings
from sso_gateway.app import create_app as sso_app
from sso_gateway.config import Settings as SsoSettings
from sso_gateway.users.schemas import UserCreate
from sso_gateway.users.service import user
from tests.fixtures.serving import own_database
from tests.fixtures.stack import Broker

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.broker,
    pytest.mark.both_brokers,
]


def settings_for(cls: type[Any], database_url: str, bootstrap: str) -> Any:
    return cls(database_url=database_url, kafka_bootstrap=bootstrap, env="development")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def apps(admin_dsn: str, kafka: str) -> AsyncIterator[dict[str, FastAPI]]:
    # A database of the module's own: a service's outbox relay leads its schema through an
    # advisory lock, so a long-lived gateway of another test on the session database (and
    # another broker) would relay this module's events instead of the gateway started here.
    async with AsyncExitStack() as stack:
        database_url = await stack.enter_async_context(
            own_database(admin_dsn, f"vigie_services_{uuid.uuid4().hex[:8]}")
        )
        built = {
            "sso_gateway": sso_app(settings_for(SsoSettings, database_url, kafka)),
            "dpo_requests": dpo_app(settings_for(DpoSettings, database_url, kafka)),
            "audit_log": audit_app(settings_for(AuditSettings, database_url, kafka)),
        }
        for app in built.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield built


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize("name", ["sso_gateway", "dpo_requests", "audit_log"])
async def test_service_is_alive_and_ready(apps: dict[str, FastAPI], name: str) -> None:
    async with client(apps[name]) as http:
        alive = await http.get("/healthz")
        ready = await http.get("/readyz")
    assert alive.status_code == 200
    assert ready.status_code == 200
    body = ready.json()
    checks = body.pop("checks")
    assert body == {"status": "ready"}
    assert (checks.pop("database"), checks.pop("broker")) == (True, True)
    # One check per consumer group: none has records waiting without advancing.
    assert checks
    assert all(name.startswith("consumer ") and ok is True for name, ok in checks.items())


async def test_unknown_route_answers_problem_json(apps: dict[str, FastAPI]) -> None:
    async with client(apps["sso_gateway"]) as http:
        response = await http.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


async def test_user_created_at_the_gateway_is_recorded_once_by_the_audit_log(
    apps: dict[str, FastAPI],
) -> None:
    sso_runtime = apps["sso_gateway"].state.runtime
    audit_runtime = apps["audit_log"].state.runtime
    email = f"learner-{time.monotonic_ns()}@example.org"
    async with sso_runtime.pool.acquire() as conn:
        created = await user.create(
            conn, UserCreate(email=email, display_name="Léa", password="correct horse battery")
        )
    deadline = time.monotonic() + 30
    audit = apps["audit_log"].state.audit
    rows: list[Any] = []
    while time.monotonic() < deadline and not rows:
        async with audit_runtime.pool.acquire() as conn:
            rows = await audit.query.export(conn, created.id)
        await asyncio.sleep(0.2)
    assert len(rows) == 1
    assert rows[0].type == "vigie.sso.user.created"
    assert rows[0].source == "/vigie/sso_gateway"
    assert rows[0].data["email"] == email
    # Personal data is sealed at rest (crypto-shredding), never stored in clear.
    sealed = await audit_runtime.pool.fetchval(
        "SELECT data_ct FROM log_entries WHERE leaf_index = $1", rows[0].index
    )
    assert email.encode() not in sealed


async def test_readiness_fails_when_the_broker_is_gone(
    database_url: str, private_broker: Broker
) -> None:
    app = audit_app(settings_for(AuditSettings, database_url, private_broker.bootstrap))
    async with app.router.lifespan_context(app), client(app) as http:
        assert (await http.get("/readyz")).status_code == 200
        private_broker.kill()
        response = await http.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert (checks["database"], checks["broker"]) == (True, False)
