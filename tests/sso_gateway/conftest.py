"""The gateway on the real PostgreSQL and broker, driven over HTTP in-process (the helpers that
drive it are in ``support``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from fastapi import FastAPI

from sso_gateway.app import create_app
from sso_gateway.config import Settings
from tests.sso_gateway.support import ISSUER


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sso(database_url: str, kafka: str) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=kafka,
        env="development",
        issuer=ISSUER,
        login_max_failures_per_ip=1000,
        # Tests deliver back-channel logouts themselves, to a mocked outside world.
        backchannel_poll_seconds=0,
        # And Shared Signals pushes and sweeps, to a real receiver on loopback.
        signals_push_seconds=0,
        session_expiry_sweep_seconds=0,
        signals_housekeeping_seconds=0,
        signals_poll_max_wait_seconds=1.0,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app
