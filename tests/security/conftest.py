"""The three services in-process on the real PostgreSQL and broker, for the security tests.

The gateway is the session's (``tests.fixtures.gateway.sso``). dpo_requests and audit_log are
resource servers: their issuer is a fake one (the outside world for them) minting ES256 access
tokens for any audience and role, so that every role can be tried against every route.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest_asyncio
from fastapi import FastAPI

from audit_log.app import create_app as create_audit_app
from audit_log.config import Settings as AuditSettings
from dpo_requests.app import create_app as create_dpo_app
from dpo_requests.config import Settings as DpoSettings
from tests.fixtures.issuer import FakeIssuer

ISSUER = "http://sso.security.test"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned_claims(token: str) -> dict[str, Any]:
    """The claims of a JWS, read without verifying it (to forge look-alikes)."""
    payload = token.split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return claims


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Services:
    def __init__(self, sso: FastAPI, dpo: FastAPI, audit: FastAPI, issuer: FakeIssuer) -> None:
        self.sso = sso
        self.dpo = dpo
        self.audit = audit
        self.issuer = issuer

    def client(self, app: FastAPI, base_url: str = "http://service.test") -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)

    def dpo_headers(self, sub: str, *roles: str) -> dict[str, str]:
        return self.issuer.headers(sub, *roles, aud="dpo-requests")

    def audit_headers(self, sub: str, *roles: str) -> dict[str, str]:
        return self.issuer.headers(sub, *roles, aud="audit-log")

    @staticmethod
    def pool(app: FastAPI) -> asyncpg.Pool:
        pool: asyncpg.Pool = app.state.runtime.pool
        return pool


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def services(sso: FastAPI, database_url: str, kafka: str) -> AsyncIterator[Services]:
    issuer = FakeIssuer(issuer=ISSUER, claims={"client_id": "security-tests", "scope": "openid"})
    schema = f"t_{uuid.uuid4().hex[:12]}"
    dpo = create_dpo_app(
        DpoSettings(
            database_url=database_url,
            kafka_bootstrap=kafka,
            env="development",
            issuer=ISSUER,
            public_url="http://dpo.test",
        ),
        token_verifier=issuer.verifier("dpo-requests"),
        schema=schema,
    )
    audit = create_audit_app(
        AuditSettings(
            database_url=database_url, kafka_bootstrap=kafka, env="development", issuer=ISSUER
        )
    )
    audit.state.token_verifier = issuer.verifier("audit-log")
    try:
        async with dpo.router.lifespan_context(dpo), audit.router.lifespan_context(audit):
            yield Services(sso, dpo, audit, issuer)
    finally:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
