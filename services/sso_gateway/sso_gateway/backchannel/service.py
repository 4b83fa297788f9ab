"""OIDC Back-Channel Logout 1.0: when a session ends (logout, suspension, erasure), each platform
it signed into that registered a ``backchannel_logout_uri`` receives a signed ``logout_token``.

Deliveries are rows written in the transaction that ends the session, so they survive a restart;
a worker posts them, retrying with exponential backoff, and gives up after
``backchannel_max_attempts`` (the failures stay visible through the admin API). The token is
signed at each attempt, so a late retry does not carry an expired token.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import asyncpg
import httpx
from joserfc import jwt

from sso_gateway.backchannel.repository import DeliveryRepository, delivery_repository
from sso_gateway.clients.repository import client_repository
from sso_gateway.config import Settings
from sso_gateway.keys.service import KeyRing
from vigie_shared.kit.db import Conn

log = logging.getLogger(__name__)

# OIDC Back-Channel Logout 1.0 §2.4: the event member that makes a JWT a logout token.
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class BackchannelService:
    def __init__(self, repository: DeliveryRepository) -> None:
        self._repository = repository

    async def enqueue(
        self,
        conn: Conn,
        settings: Settings,
        *,
        user_id: str,
        session_id: str,
        client_ids: list[str],
    ) -> int:
        queued = 0
        for client in await client_repository.by_ids(conn, client_ids):
            if not client["backchannel_logout_uri"]:
                continue
            # §2.4: iss, aud, iat, jti, events, and sub and/or sid; never a nonce.
            claims = {
                "iss": settings.issuer,
                "aud": client["client_id"],
                "sub": user_id,
                "sid": session_id,
                "events": {LOGOUT_EVENT: {}},
            }
            await self._repository.insert(
                conn,
                client_id=client["client_id"],
                uri=client["backchannel_logout_uri"],
                claims=claims,
            )
            queued += 1
        return queued

    def sign(self, keyring: KeyRing, claims: dict[str, Any], alg: str = "ES256") -> str:
        key = keyring.signing_key(alg)
        now = int(time.time())
        body = {**claims, "iat": now, "exp": now + 120, "jti": uuid.uuid4().hex}
        # §2.4: "logout+jwt" type, so a logout token is never taken for an ID token.
        return jwt.encode({"alg": alg, "kid": key.kid, "typ": "logout+jwt"}, body, key.key)

    async def deliver_due(
        self,
        pool: asyncpg.Pool,
        keyring: KeyRing,
        http: httpx.AsyncClient,
        settings: Settings,
        *,
        limit: int = 20,
    ) -> int:
        """One pass: post every due delivery; returns how many were delivered."""
        delivered = 0
        async with pool.acquire() as conn, conn.transaction():
            for row in await self._repository.claim_due(conn, limit):
                await keyring.refresh(pool)
                token = self.sign(keyring, dict(row["claims"]))
                error: str | None = None
                try:
                    response = await http.post(row["uri"], data={"logout_token": token})
                    # §2.8: 200 on success (204 tolerated); anything else is a failure.
                    if response.status_code not in (200, 204):
                        error = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                if error is None:
                    await self._repository.delivered(conn, row["id"])
                    delivered += 1
                    continue
                attempts = row["attempts"] + 1
                give_up = attempts >= settings.backchannel_max_attempts
                await self._repository.failed_attempt(
                    conn,
                    row["id"],
                    error=error,
                    retry_in=min(2.0**attempts, 3600.0),
                    give_up=give_up,
                )
                log.warning(
                    "back-channel logout to %s failed (%s), attempt %d%s",
                    row["client_id"],
                    error,
                    attempts,
                    ", giving up" if give_up else "",
                )
        return delivered

    async def run(
        self, pool: asyncpg.Pool, keyring: KeyRing, settings: Settings, *, interval: float = 1.0
    ) -> None:
        async with httpx.AsyncClient(timeout=5.0) as http:
            while True:
                try:
                    await self.deliver_due(pool, keyring, http, settings)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("back-channel logout worker pass failed")
                await asyncio.sleep(interval)

    async def undelivered(self, conn: Conn) -> list[dict[str, Any]]:
        return [dict(r) for r in await self._repository.undelivered(conn)]


backchannel = BackchannelService(delivery_repository)
