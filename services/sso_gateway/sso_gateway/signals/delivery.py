"""Delivery of the SETs the transmitter wrote: push (RFC 8935) and poll (RFC 8936).

Push follows the back-channel logout worker: a pass *claims* due SETs of enabled push streams
(one short statement leases them to this replica), *sends* them with no connection held, then
*records* each outcome if its lease still stands; a replica that dies mid-send leaves a lease
that expires, and the SET is pushed again (at least once: a receiver dedupes on ``jti``,
RFC 8935 §2.1). A failure is retried after the kit's backoff, up to ``signals_max_attempts``;
an RFC 8935 §2.4 error answer (400 with ``err``) says the receiver refuses that SET, so it is
recorded and not sent again.

Poll leaves SETs in the table until the receiver acknowledges them (RFC 8936 §2.4), so a poll
response lost on the way costs nothing: they come again in the next one. A long poll holds no
connection while it waits, and waits at most ``signals_poll_max_wait_seconds``.

Nothing here runs on the login path: the business transaction only inserts rows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import asyncpg
import httpx

from sso_gateway import metrics
from sso_gateway.config import Settings
from sso_gateway.keys.service import KeyRing
from sso_gateway.signals import sets
from sso_gateway.signals.records import ClaimedPush, DeliveryState, Stream
from sso_gateway.signals.repository import SignalRepository, signal_repository
from sso_gateway.signals.schemas import PollRequest, PollResponse
from sso_gateway.signals.service import signals
from vigie_shared.kit.backoff import Backoff
from vigie_shared.kit.db import Conn
from vigie_shared.kit.secrets import InvalidTag

log = logging.getLogger(__name__)

SET_MEDIA_TYPE = "application/secevent+jwt"
"""RFC 8935 §2: the body of a push is the SET itself."""

_POLL_INTERVAL = 0.25
"""How often a waiting long poll looks for new SETs."""


def push_error(response: httpx.Response) -> tuple[str, bool]:
    """What went wrong with a push, and whether retrying can help. RFC 8935 §2.4: a 400
    carries ``{"err": ..., "description": ...}``; the receiver refused that SET for good."""
    if response.status_code == 400:
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict) and isinstance(body.get("err"), str):
            description = str(body.get("description", ""))[:500]
            return f"HTTP 400 {body['err'][:100]}: {description}".rstrip(": "), False
    return f"HTTP {response.status_code}", True


class SignalDelivery:
    def __init__(self, repository: SignalRepository) -> None:
        self._repository = repository

    def backoff(self, settings: Settings) -> Backoff:
        return Backoff(base=2.0, cap=settings.signals_retry_cap_seconds)

    async def claim(
        self, pool: asyncpg.Pool, settings: Settings, *, limit: int
    ) -> list[ClaimedPush]:
        async with pool.acquire() as conn:
            return await self._repository.claim_pushes(
                conn,
                limit=limit,
                lease_seconds=settings.signals_lease_seconds,
                claim_id=uuid.uuid4(),
            )

    async def send(
        self,
        pool: asyncpg.Pool,
        keyring: KeyRing,
        http: httpx.AsyncClient,
        settings: Settings,
        push: ClaimedPush,
    ) -> bool:
        """POST one claimed SET, holding no connection while the receiver answers, then record
        the outcome; True if it was delivered."""
        await keyring.refresh(pool)
        headers = {"Content-Type": SET_MEDIA_TYPE, "Accept": "application/json"}
        error: str | None = None
        retry = True
        try:
            if push.authorization_enc is not None:
                headers["Authorization"] = signals.authorization_header(
                    settings, push.stream_id, push.authorization_enc
                )
            token = sets.sign(keyring, push.claims, push.signing_alg)
            response = await http.post(
                push.endpoint_url,
                content=token.encode(),
                headers=headers,
                timeout=settings.signals_push_timeout_seconds,
            )
            # RFC 8935 §2.2: 202 Accepted is success; anything else is not.
            if response.status_code != 202:
                error, retry = push_error(response)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        except InvalidTag:
            # Sealed under another gateway secret: only the receiver can send a new header.
            error, retry = "the stream's authorization header cannot be opened", False
        except LookupError as exc:
            error = f"no signing key: {exc}"
        async with pool.acquire() as conn:
            if error is None:
                recorded = await self._repository.pushed(conn, push.id, push.claim_id)
                if recorded:
                    metrics.signal_pushed(push.client_id, delivered=True)
                return recorded
            attempts = push.attempts + 1
            give_up = not retry or attempts >= settings.signals_max_attempts
            recorded = await self._repository.push_failed(
                conn,
                push.id,
                push.claim_id,
                error=error,
                retry_in=self.backoff(settings).delay(attempts),
                give_up=give_up,
            )
        if recorded:
            metrics.signal_pushed(push.client_id, delivered=False)
            log.warning(
                "SET push to %s (stream %s) failed (%s), attempt %d%s",
                push.client_id,
                push.stream_id,
                error,
                attempts,
                ", giving up" if give_up else "",
            )
        return False

    async def deliver_due(
        self,
        pool: asyncpg.Pool,
        keyring: KeyRing,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> int:
        """One pass: claim what is due and push it all concurrently (a slow receiver delays
        only its own SETs, and the pass by at most the push timeout); how many were delivered.
        An idle pass costs one statement and opens no HTTP client."""
        claimed = await self.claim(pool, settings, limit=settings.signals_push_concurrency)
        if not claimed:
            return 0
        async with httpx.AsyncClient(transport=transport, follow_redirects=False) as http:
            sent = await asyncio.gather(
                *(self.send(pool, keyring, http, settings, push) for push in claimed)
            )
        return sum(sent)

    async def poll(
        self,
        pool: asyncpg.Pool,
        keyring: KeyRing,
        settings: Settings,
        stream: Stream,
        request: PollRequest,
    ) -> PollResponse:
        """RFC 8936 §2.4: record the acknowledgements and errors, then return up to
        ``maxEvents`` SETs not acknowledged yet, waiting for one (bounded) unless told not to."""
        async with pool.acquire() as conn, conn.transaction():
            await self._settle(conn, stream.id, request)
        wanted = settings.signals_poll_default_events
        if request.max_events is not None:
            wanted = request.max_events
        if wanted == 0 or stream.status != "enabled":
            # A paused stream holds its SETs until it is enabled again (SSF §8.1.2).
            return PollResponse(sets={}, more_available=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.signals_poll_max_wait_seconds
        while True:
            async with pool.acquire() as conn:
                queued = await self._repository.queued(conn, stream.id, wanted + 1)
            if queued or request.return_immediately or loop.time() >= deadline:
                break
            await asyncio.sleep(min(_POLL_INTERVAL, max(deadline - loop.time(), 0)))
        await keyring.refresh(pool)
        return PollResponse(
            sets={q.jti: sets.sign(keyring, q.claims, q.signing_alg) for q in queued[:wanted]},
            more_available=len(queued) > wanted,
        )

    async def _settle(self, conn: Conn, stream_id: str, request: PollRequest) -> None:
        if request.ack:
            await self._repository.acknowledge(conn, stream_id, request.ack)
        for jti, err in request.set_errs.items():
            await self._repository.refused(
                conn, stream_id, jti, json.dumps({"err": err.err, "description": err.description})
            )

    async def states(self, conn: Conn) -> list[DeliveryState]:
        return await self._repository.delivery_states(conn)

    async def housekeeping(self, pool: asyncpg.Pool, settings: Settings) -> None:
        """Refresh the streams' figures on /metrics; forget SETs past their retention."""
        async with pool.acquire() as conn:
            await self._repository.forget_done(conn, settings.signals_retention_hours * 3600)
            metrics.signals_delivery(await self._repository.delivery_states(conn))


delivery = SignalDelivery(signal_repository)
