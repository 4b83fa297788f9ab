"""The client of a token request, from a short-lived cache: service-to-service calls ask for a
token at every expiry, all platforms at once at peak hours, and a database round trip for the
client was, with the token row's commit (``access_tokens``), most of the client-credentials
grant's cost beyond HTTP itself (``bench/bench_sso.py``)."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from sso_gateway.clients.repository import client_repository
from sso_gateway.oauth.models import OAuthClient


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
