"""The three services in-process on the real PostgreSQL and broker, for the security tests.

The gateway is the session's (``tests.sso_gateway.conftest.sso``). dpo_requests and audit_log are
resource servers: their issuer is a fake one (the outside world for them) minting ES256 access
tokens for any audience and role, so that every role can be tried against every route.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest_asyncio
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from audit_log.app import create_app as create_audit_app
from audit_log.config import Settings as AuditSettings
from dpo_requests.app import create_app as create_dpo_app
from dpo_requests.config import Settings as DpoSettings
from tests.sso_gateway.conftest import sso
from vigie_shared.kit.oidc import TokenVerifier

__all__ = ["sso"]

ISSUER = "http://sso.security.test"


class Issuer:
    """A discovery document and JWKS of one ES256 key; mints RFC 9068 access tokens."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", parameters={"kid": "sec-1"}, private=True)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
        if request.url.path == "/jwks":
            return httpx.Response(200, json=self.jwks())
        return httpx.Response(404)

    def jwks(self) -> dict[str, Any]:
        return dict(KeySet([self.key]).as_dict(private=False))

    def verifier(self, audience: str) -> TokenVerifier:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
        return TokenVerifier(ISSUER, audience, http=http)

    def claims(self, audience: str, sub: str, *roles: str) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": ISSUER,
            "aud": audience,
            "sub": sub,
            "exp": now + 600,
            "iat": now,
            "roles": list(roles),
            "client_id": "security-tests",
            "scope": "openid",
        }

    def token(self, audience: str, sub: str, *roles: str) -> str:
        header = {"alg": "ES256", "typ": "at+jwt", "kid": "sec-1"}
        return jwt.encode(header, self.claims(audience, sub, *roles), self.key)

    def headers(self, audience: str, sub: str, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(audience, sub, *roles)}"}


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
    def __init__(self, sso: FastAPI, dpo: FastAPI, audit: FastAPI, issuer: Issuer) -> None:
        self.sso = sso
        self.dpo = dpo
        self.audit = audit
        self.issuer = issuer

    def client(self, app: FastAPI, base_url: str = "http://service.test") -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)

    def dpo_headers(self, sub: str, *roles: str) -> dict[str, str]:
        return self.issuer.headers("dpo-requests", sub, *roles)

    def audit_headers(self, sub: str, *roles: str) -> dict[str, str]:
        return self.issuer.headers("audit-log", sub, *roles)

    @staticmethod
    def pool(app: FastAPI) -> asyncpg.Pool:
        pool: asyncpg.Pool = app.state.runtime.pool
        return pool


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def services(sso: FastAPI, database_url: str, kafka: str) -> AsyncIterator[Services]:
    issuer = Issuer()
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
