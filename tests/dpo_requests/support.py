"""What the dpo_requests tests share: the service running on the real broker and PostgreSQL,
accepting the tokens of a fake issuer (``tests.fixtures.issuer``, the outside world for a
resource server)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from dpo_requests.app import create_app
from dpo_requests.config import Settings
from tests.fixtures.issuer import FakeIssuer

__all__ = ["Dpo", "running_dpo", "unique"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Dpo:
    app: FastAPI
    http: httpx.AsyncClient
    issuer: FakeIssuer
    settings: Settings

    @property
    def pool(self) -> asyncpg.Pool:
        pool: asyncpg.Pool = self.app.state.runtime.pool
        return pool

    def learner(self, sub: str, **claims: Any) -> dict[str, str]:
        return self.issuer.headers(sub, "learner", **claims)

    def officer(self) -> dict[str, str]:
        return self.issuer.headers("dpo-1", "dpo")

    async def events(self, event_type: str, request_id: str) -> list[dict[str, Any]]:
        """Events of one CloudEvents type about one request, in this service's outbox."""
        rows = await self.pool.fetch("SELECT headers, value FROM outbox ORDER BY id")
        found = [
            json.loads(r["value"]) for r in rows if dict(r["headers"])["ce_type"] == event_type
        ]
        return [e for e in found if e.get("request_id") == request_id]


@asynccontextmanager
async def running_dpo(
    database_url: str, schema: str, bootstrap: str, **overrides: Any
) -> AsyncIterator[Dpo]:
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=bootstrap,
        env="development",
        public_url="http://dpo.test",
        **{"scheduler_interval_seconds": 0.2, **overrides},
    )
    issuer = FakeIssuer()
    app = create_app(settings, token_verifier=issuer.verifier(), schema=schema)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://dpo.test"
        ) as http,
    ):
        yield Dpo(app=app, http=http, issuer=issuer, settings=settings)
