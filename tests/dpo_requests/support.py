"""What the dpo_requests tests share: a fake OIDC issuer (the outside world for a resource
server) and the service running on the real broker and PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import httpx
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from dpo_requests.app import create_app
from dpo_requests.config import Settings
from vigie_shared.kit.oidc import TokenVerifier

ISSUER = "http://sso.test"
T = TypeVar("T")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class FakeIssuer:
    """Discovery document and JWKS of a test ES256 key; mints RFC 9068 access tokens."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", parameters={"kid": "test-1"}, private=True)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
        if request.url.path == "/jwks":
            return httpx.Response(200, json=KeySet([self.key]).as_dict(private=False))
        return httpx.Response(404)

    def verifier(self) -> TokenVerifier:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
        return TokenVerifier(ISSUER, "dpo-requests", http=http)

    def token(self, sub: str, *roles: str, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": "dpo-requests", "sub": sub, "exp": now + 600, "iat": now}
        body["roles"] = list(roles)
        body.update(claims)
        return jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": "test-1"}, body, self.key)

    def headers(self, sub: str, *roles: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub, *roles, **claims)}"}


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
