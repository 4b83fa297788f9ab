"""OIDC Back-Channel Logout 1.0: whenever a session ends (logout, suspension, a password change,
erasure, its absolute or idle expiry: ``sessions.service``), each platform it signed into that
registered a ``backchannel_logout_uri`` receives a signed ``logout_token``.

Deliveries are rows written in the transaction that ends the session, so they survive a restart;
a worker posts them, retrying with exponential backoff, and gives up after
``backchannel_max_attempts`` (the failures stay visible through the admin API). The token is
signed at each attempt, so a late retry does not carry an expired token.

No transaction is open while a platform answers: a worker *claims* due rows (one short
statement leases them to it), *sends* with no connection held, then *records* the outcome (one
short statement, only if its lease still stands). Two replicas never claim the same row while a
lease lasts; a replica that dies mid-send leaves a lease that expires, and the row is sent again
(at least once: a platform must tolerate a repeated logout token for a session already ended).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
from joserfc import jwt

from sso_gateway.backchannel.records import Claimed, Undelivered
from sso_gateway.backchannel.repository import DeliveryRepository, delivery_repository
from sso_gateway.clients.repository import client_repository
from sso_gateway.config import Settings
from sso_gateway.keys.service import KeyRing
from vigie_shared.kit.backoff import Backoff
from vigie_shared.kit.db import Conn

log = logging.getLogger(__name__)

_RETRY = Backoff(base=2.0, cap=3600.0, jitter=False)
"""Wait before the next try of a logout token: 2 s, 4 s, 8 s... at most an hour. No jitter:
the time is stored with the delivery, read by whichever replica claims it."""

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
            if not client.backchannel_logout_uri:
                continue
            # §2.4: iss, aud, iat, jti, events, and sub and/or sid; never a nonce.
            claims = {
                "iss": settings.issuer,
                "aud": client.client_id,
                "sub": user_id,
                "sid": session_id,
                "events": {LOGOUT_EVENT: {}},
            }
            await self._repository.insert(
                conn,
                client_id=client.client_id,
                uri=client.backchannel_logout_uri,
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

    async def claim(self, pool: asyncpg.Pool, settings: Settings, *, limit: int) -> list[Claimed]:
        """Lease due deliveries to this worker (a short transaction of its own)."""
        claim_id = uuid.uuid4()
        async with pool.acquire() as conn:
            return await self._repository.claim_due(
                conn,
                limit=limit,
                lease_seconds=settings.backchannel_lease_seconds,
                claim_id=claim_id,
            )

    async def send(
        self,
        pool: asyncpg.Pool,
        keyring: KeyRing,
        http: httpx.AsyncClient,
        settings: Settings,
        delivery: Claimed,
    ) -> bool:
        """POST one claimed delivery, holding no connection while the platform answers, then
        record the outcome; True if it was delivered."""
        await keyring.refresh(pool)
        token = self.sign(keyring, delivery.claims)
        error: str | None = None
        try:
            response = await http.post(
                delivery.uri,
                data={"logout_token": token},
                timeout=settings.backchannel_timeout_seconds,
            )
            # §2.8: 200 on success (204 tolerated); anything else is a failure.
            if response.status_code not in (200, 204):
                error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        async with pool.acquire() as conn:
            if error is None:
                return await self._repository.delivered(conn, delivery.id, delivery.claim_id)
            attempts = delivery.attempts + 1
            give_up = attempts >= settings.backchannel_max_attempts
            recorded = await self._repository.failed_attempt(
                conn,
                delivery.id,
                delivery.claim_id,
                error=error,
                retry_in=_RETRY.delay(attempts),
                give_up=give_up,
            )
        if recorded:
            log.warning(
                "back-channel logout to %s failed (%s), attempt %d%s",
                delivery.client_id,
                error,
                attempts,
                ", giving up" if give_up else "",
            )
        return False

    async def deliver_due(
        self,
        pool: asyncpg.Pool,
        keyring: KeyRing,
        http: httpx.AsyncClient,
        settings: Settings,
        *,
        limit: int = 20,
    ) -> int:
        """One pass: claim what is due and post it all concurrently (a slow platform delays
        only its own delivery); returns how many were delivered."""
        claimed = await self.claim(pool, settings, limit=limit)
        sent = await asyncio.gather(
            *(self.send(pool, keyring, http, settings, delivery) for delivery in claimed)
        )
        return sum(sent)

    async def run(
        self,
        pool: asyncpg.Pool,
        keyring: KeyRing,
        settings: Settings,
        *,
        interval: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Claim what is due every ``interval`` seconds, keeping at most
        ``backchannel_concurrency`` POSTs in flight; a pass never waits for the previous one's
        slow platforms."""
        in_flight: set[asyncio.Task[bool]] = set()
        async with httpx.AsyncClient(transport=transport) as http:
            try:
                while True:
                    room = settings.backchannel_concurrency - len(in_flight)
                    try:
                        claimed = await self.claim(pool, settings, limit=room) if room else []
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("back-channel logout claim failed")
                        claimed = []
                    for delivery in claimed:
                        task = asyncio.create_task(
                            self.send(pool, keyring, http, settings, delivery)
                        )
                        in_flight.add(task)
                        task.add_done_callback(self._finished(in_flight))
                    await asyncio.sleep(interval)
            finally:
                for task in in_flight:
                    task.cancel()
                await asyncio.gather(*in_flight, return_exceptions=True)

    @staticmethod
    def _finished(in_flight: set[asyncio.Task[bool]]) -> Callable[[asyncio.Task[bool]], None]:
        def done(task: asyncio.Task[bool]) -> None:
            in_flight.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.error("back-channel logout delivery failed", exc_info=task.exception())

        return done

    async def undelivered(self, conn: Conn) -> list[Undelivered]:
        return await self._repository.undelivered(conn)


backchannel = BackchannelService(delivery_repository)
