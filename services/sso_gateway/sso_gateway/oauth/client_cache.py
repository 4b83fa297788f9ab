"""What a token request's client authentication reads, from short-lived caches: the client
itself (``ClientCache``) and, for a ``private_key_jwt`` client whose keys are published by
reference, its JWK Set (``JwksCache``).

Service-to-service calls ask for a token at every expiry, all platforms at once at peak hours,
and a database round trip for the client was, with the token row's commit (``access_tokens``),
most of the client-credentials grant's cost beyond HTTP itself (``bench/bench_sso.py``)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import asyncpg
import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from sso_gateway.clients.repository import client_repository
from sso_gateway.oauth.models import OAuthClient

K = TypeVar("K")
V = TypeVar("V")


class _SingleFlight(Generic[K, V]):
    """Concurrent loads of one key share one: an expiry under load is one round trip."""

    def __init__(self) -> None:
        self._loading: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        loading = self._loading.get(key)
        if loading is not None:
            return await asyncio.shield(loading)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            # Retrieved here so that an error nobody else waited for is not reported twice.
            future.exception()
            raise
        finally:
            del self._loading[key]
        future.set_result(value)
        return value


class ClientCache:
    """Registered clients by id, each kept ``ttl`` seconds.

    Clients are only ever added (``vigie client add``): nothing changes a registration in
    place, so a cached copy can only be stale about one registered meanwhile, and an unknown id
    is never cached (a platform registered now is served at its first request). The ``ttl``
    bounds how long a change made directly in the database takes to reach every replica.
    """

    def __init__(self, secret_key: str, ttl: float) -> None:
        self._secret_key = secret_key
        self._ttl = ttl
        self._entries: dict[str, tuple[float, OAuthClient]] = {}
        self._flight: _SingleFlight[str, OAuthClient | None] = _SingleFlight()

    async def get(self, pool: asyncpg.Pool, client_id: str) -> OAuthClient | None:
        entry = self._entries.get(client_id)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]

        async def load() -> OAuthClient | None:
            async with pool.acquire() as conn:
                stored = await client_repository.get(conn, client_id)
            client = None if stored is None else OAuthClient.of(stored, self._secret_key)
            if client is None:
                self._entries.pop(client_id, None)
            else:
                self._entries[client_id] = (time.monotonic() + self._ttl, client)
            return client

        return await self._flight.run(client_id, load)


JWKS_MAX_BYTES = 64 * 1024
"""A JWK Set of a few keys is a few KiB: a larger document is refused, not read on."""
JWKS_DEADLINE_SECONDS = 3.0
"""For the whole fetch (connect, headers, body): a slow host costs its own client's request
this much, and nobody else's (the fetch is awaited on the loop)."""


@dataclass(frozen=True, slots=True)
class FetchedKeys:
    """A ``jwks_uri``'s JWK Set as last fetched (``keys``), or why the fetch failed
    (``error``: a short reason, never the document)."""

    keys: KeySet | None
    error: str | None
    fetched_at: float
    """``time.monotonic()`` of the fetch."""


class JwksCache:
    """JWK Sets of ``private_key_jwt`` clients, by ``jwks_uri``, each kept ``ttl`` seconds.

    RFC 7517 §4.5 (``kid``) lets a client rotate keys by publishing the new one under a new
    ``kid``: an assertion naming a ``kid`` the cached set lacks may fetch the set again
    (``may_refetch``), at most once every ``min_interval`` seconds per URI, so that assertions
    with made-up ``kid`` values cannot turn the gateway into a flood against the client's host.
    A failed fetch is kept as long (``min_interval``), for the same reason, and its client is
    refused meanwhile rather than trusted on keys its host no longer vouches for.
    """

    def __init__(
        self,
        ttl: float = 300.0,
        min_interval: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.ttl = ttl
        self.min_interval = min_interval
        self._transport = transport
        self._entries: dict[str, FetchedKeys] = {}
        self._flight: _SingleFlight[str, FetchedKeys] = _SingleFlight()

    def cached(self, uri: str) -> FetchedKeys | None:
        """The last fetch of ``uri`` while it holds (``ttl``, or ``min_interval`` for a
        failure), else None: fetch it."""
        entry = self._entries.get(uri)
        if entry is None:
            return None
        lifetime = self.ttl if entry.keys is not None else self.min_interval
        return entry if time.monotonic() < entry.fetched_at + lifetime else None

    def may_refetch(self, uri: str) -> bool:
        entry = self._entries.get(uri)
        return entry is None or time.monotonic() >= entry.fetched_at + self.min_interval

    async def fetch(self, uri: str) -> FetchedKeys:
        """``uri``'s JWK Set, fetched now (concurrent fetches of one URI share one); a failure
        is returned, not raised: it is the client's, not the gateway's."""

        async def load() -> FetchedKeys:
            fetched = await self._download(uri)
            self._entries[uri] = fetched
            return fetched

        return await self._flight.run(uri, load)

    async def _download(self, uri: str) -> FetchedKeys:
        def failed(reason: str) -> FetchedKeys:
            return FetchedKeys(keys=None, error=reason, fetched_at=time.monotonic())

        try:
            async with (
                asyncio.timeout(JWKS_DEADLINE_SECONDS),
                httpx.AsyncClient(
                    transport=self._transport,
                    timeout=JWKS_DEADLINE_SECONDS,
                    follow_redirects=False,
                ) as http,
                http.stream(
                    "GET", uri, headers={"Accept": "application/jwk-set+json, application/json"}
                ) as response,
            ):
                if response.status_code != 200:
                    return failed(f"HTTP {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > JWKS_MAX_BYTES:
                        return failed(f"larger than {JWKS_MAX_BYTES // 1024} KiB")
        except TimeoutError:
            return failed("timed out")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return failed(type(exc).__name__)
        try:
            keys = KeySet.import_key_set(json.loads(body))
        except (JoseError, ValueError, TypeError, KeyError, AttributeError):
            return failed("not a JWK Set")
        if any(key.is_private for key in keys.keys):
            # A client that publishes its private key has lost it: its assertions prove nothing.
            return failed("it publishes private keys")
        return FetchedKeys(keys=keys, error=None, fetched_at=time.monotonic())
