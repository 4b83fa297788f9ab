"""What the client-credentials grant needs at every request, made cheap: the client, from a
short-lived cache, and its token row, written with other requests' rows in one statement.

Service-to-service calls ask for a token at every expiry, all platforms at once at peak hours: one
database round trip for the client and one commit per token were most of the grant's cost beyond
HTTP itself (``bench/bench_sso.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from sso_gateway.clients.repository import client_repository
from sso_gateway.oauth.models import OAuthClient
from sso_gateway.oauth.repository import grant_repository


class ClientCache:
    """Registered clients by id, each kept ``ttl`` seconds.

    Clients are only ever added (``vigie client add``): nothing changes a registration in
    place, so a cached copy can only be stale about one registered meanwhile, and an unknown id
    is never cached (a platform registered now is served at its first request). The ``ttl``
    bounds how long a change made directly in the database takes to reach every replica.
    Concurrent misses for one id share one query, so an expiry under load is one round trip.
    """

    def __init__(self, secret_key: str, ttl: float) -> None:
        self._secret_key = secret_key
        self._ttl = ttl
        self._entries: dict[str, tuple[float, OAuthClient]] = {}
        self._loading: dict[str, asyncio.Future[OAuthClient | None]] = {}

    async def get(self, pool: asyncpg.Pool, client_id: str) -> OAuthClient | None:
        entry = self._entries.get(client_id)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        loading = self._loading.get(client_id)
        if loading is not None:
            return await asyncio.shield(loading)
        future: asyncio.Future[OAuthClient | None] = asyncio.get_running_loop().create_future()
        self._loading[client_id] = future
        try:
            async with pool.acquire() as conn:
                stored = await client_repository.get(conn, client_id)
            client = None if stored is None else OAuthClient.of(stored, self._secret_key)
        except BaseException as exc:
            future.set_exception(exc)
            # Retrieved here so that an error nobody else waited for is not reported twice.
            future.exception()
            raise
        finally:
            del self._loading[client_id]
        if client is None:
            self._entries.pop(client_id, None)
        else:
            self._entries[client_id] = (time.monotonic() + self._ttl, client)
        future.set_result(client)
        return client


@dataclass(frozen=True)
class AccessTokenRow:
    jti: str
    client_id: str
    user_id: str | None
    session_id: str | None
    family_id: str | None
    expires_at: datetime

    def values(self) -> tuple[str, str, str | None, str | None, str | None, datetime]:
        """In ``GrantRepository.insert_access_tokens``' column order."""
        return (
            self.jti,
            self.client_id,
            self.user_id,
            self.session_id,
            self.family_id,
            self.expires_at,
        )


class AccessTokenWriter:
    """Group commit for access-token rows: a request awaits its row's commit, as before, but
    the rows of requests arriving while a write is in flight go together in the next one (one
    statement, one commit, one WAL flush). Nothing waits on a timer: a lone request is written
    at once; batches form only under load, where they pay off.

    A token is returned only once its row is committed (introspection and revocation find it,
    RFC 7662 §2.2, RFC 7009 §2.1); a failed write fails every request of its batch.
    """

    def __init__(self, max_batch: int = 500) -> None:
        self._max_batch = max_batch
        self._pool: asyncpg.Pool | None = None
        self._queue: list[tuple[AccessTokenRow, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    def start(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def write(self, row: AccessTokenRow) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Retrieved even when the request went away meanwhile, so that a failed write its
        # client no longer awaits is not reported again as "never retrieved".
        future.add_done_callback(_retrieve)
        self._queue.append((row, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="sso-access-token-writer")
        # Shielded: a client that hangs up does not cancel the write other requests share.
        await asyncio.shield(future)

    async def close(self) -> None:
        """Finish what is queued (at shutdown)."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer

    async def _drain(self) -> None:
        if self._pool is None:
            raise RuntimeError("AccessTokenWriter not started")
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            try:
                await self._insert(self._pool, [row for row, _ in batch])
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    self._fail_queued(exc)
                    raise
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    def _fail_queued(self, exc: BaseException) -> None:
        queued, self._queue = self._queue, []
        for _, future in queued:
            if not future.done():
                future.set_exception(exc)

    @staticmethod
    async def _insert(pool: asyncpg.Pool, rows: Sequence[AccessTokenRow]) -> None:
        async with pool.acquire() as conn:
            await grant_repository.insert_access_tokens(conn, [r.values() for r in rows])


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
