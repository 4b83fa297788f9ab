"""The client-credentials hot path: clients from a short-lived cache, token rows written together
under load, and the plain routes that serve /token, /jwks and discovery."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from secrets import token_urlsafe as generate_token
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI

from sso_gateway.oauth.access_tokens import AccessTokenRow, AccessTokenWriter
from sso_gateway.oauth.client_cache import ClientCache
from tests.sso_gateway.conftest import browser, make_client, unique
from tests.sso_gateway.test_errors import basic, get_code, redeem

pytestmark = pytest.mark.asyncio(loop_scope="session")


class CountingPool:
    """The service's pool, counting the connections taken from it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.acquired = 0

    def acquire(self) -> Any:
        self.acquired += 1
        return self.pool.acquire()


def pool_of(app: FastAPI) -> asyncpg.Pool:
    pool: asyncpg.Pool = app.state.runtime.pool
    return pool


async def test_concurrent_misses_share_one_query_and_hits_take_none(sso: FastAPI) -> None:
    platform = await make_client(sso, grant_types=["client_credentials"])
    cache = ClientCache(sso.state.provider.settings.secret_key, ttl=60)
    pool = CountingPool(pool_of(sso))
    found = await asyncio.gather(*(cache.get(pool, platform.client_id) for _ in range(20)))  # type: ignore[arg-type]
    assert {c.client_id for c in found if c is not None} == {platform.client_id}
    assert pool.acquired == 1
    await cache.get(pool, platform.client_id)  # type: ignore[arg-type]
    assert pool.acquired == 1


async def test_an_unknown_client_is_not_cached_so_a_new_registration_is_served_at_once(
    sso: FastAPI,
) -> None:
    cache = ClientCache(sso.state.provider.settings.secret_key, ttl=60)
    client_id = unique("later")
    assert await cache.get(pool_of(sso), client_id) is None
    await make_client(sso, client_id=client_id, grant_types=["client_credentials"])
    found = await cache.get(pool_of(sso), client_id)
    assert found is not None
    assert found.client_id == client_id


async def test_an_entry_is_read_again_after_its_ttl(sso: FastAPI) -> None:
    platform = await make_client(sso, grant_types=["client_credentials"])
    cache = ClientCache(sso.state.provider.settings.secret_key, ttl=0.05)
    pool = CountingPool(pool_of(sso))
    await cache.get(pool, platform.client_id)  # type: ignore[arg-type]
    await asyncio.sleep(0.1)
    await cache.get(pool, platform.client_id)  # type: ignore[arg-type]
    assert pool.acquired == 2


def row(client_id: str) -> AccessTokenRow:
    return AccessTokenRow(
        jti=unique("jti"),
        client_id=client_id,
        user_id=None,
        session_id=None,
        family_id=None,
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
    )


async def test_rows_written_under_load_go_together_and_are_stored_when_awaited(
    sso: FastAPI,
) -> None:
    platform = await make_client(sso, grant_types=["client_credentials"])
    writer = AccessTokenWriter(max_batch=50)
    pool = CountingPool(pool_of(sso))
    writer.start(pool)  # type: ignore[arg-type]
    rows = [row(platform.client_id) for _ in range(120)]
    await asyncio.gather(*(writer.write(r) for r in rows))
    # All 120 were queued before the writer first ran: batches of at most 50, 3 statements.
    assert pool.acquired == 3
    async with pool_of(sso).acquire() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM access_tokens WHERE jti = ANY($1::text[])",
            [r.jti for r in rows],
        )
    assert stored == 120


async def test_a_failed_write_fails_every_request_of_its_batch_and_the_next_ones_go_through(
    sso: FastAPI,
) -> None:
    platform = await make_client(sso, grant_types=["client_credentials"])
    writer = AccessTokenWriter()
    writer.start(pool_of(sso))
    good = row(platform.client_id)
    # A jti already stored breaks the primary key: the whole statement is refused.
    taken = row(platform.client_id)
    await writer.write(taken)
    batch = [row(platform.client_id), taken]
    results = await asyncio.gather(*(writer.write(r) for r in batch), return_exceptions=True)
    assert all(isinstance(r, asyncpg.UniqueViolationError) for r in results), results
    await writer.write(good)
    async with pool_of(sso).acquire() as conn:
        stored = await conn.fetch(
            "SELECT jti FROM access_tokens WHERE jti = ANY($1::text[])",
            [r.jti for r in [*batch, good]],
        )
    # The first row of the failed batch was not stored; the one written after it was.
    assert {r["jti"] for r in stored} == {taken.jti, good.jti}


async def test_token_jwks_and_discovery_are_served_by_the_plain_routes_and_documented(
    sso: FastAPI,
) -> None:
    platform = await make_client(sso, grant_types=["client_credentials"])
    async with browser(sso) as http:
        token = await http.post(
            "/token", data={"grant_type": "client_credentials"}, auth=basic(platform)
        )
        jwks = await http.get("/jwks")
        discovery = await http.get("/.well-known/openid-configuration")
        wrong_method = await http.get("/token")
        metrics = (await http.get("/metrics")).text
    assert token.status_code == 200, token.text
    assert token.headers["cache-control"] == "no-store"
    assert jwks.json()["keys"]
    assert discovery.json()["token_endpoint"].endswith("/token")
    assert wrong_method.status_code == 405
    assert 'route="/token"' in metrics
    plain = [getattr(r, "name", "") for r in sso.router.routes[:3]]
    assert plain == ["plain:/token", "plain:/jwks", "plain:/.well-known/openid-configuration"]
    paths = sso.openapi()["paths"]
    assert "post" in paths["/token"]
    assert "get" in paths["/jwks"]


async def test_code_and_refresh_grants_run_on_the_loop_and_consume_once(
    sso: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = await make_client(sso)
    verifier = generate_token(48)
    code = await get_code(sso, platform, verifier)
    provider = sso.state.provider

    def no_thread(*_: object) -> None:
        raise AssertionError("a token grant waited on the database from a worker thread")

    monkeypatch.setattr(provider, "call", no_thread)
    async with browser(sso) as http:
        issued = await http.post(
            "/token", data=redeem(platform, code, verifier), auth=basic(platform)
        )
        assert issued.status_code == 200, issued.text
        first_refresh = issued.json()["refresh_token"]
        refreshed = await http.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": first_refresh},
            auth=basic(platform),
        )
        assert refreshed.status_code == 200, refreshed.text
        # Authlib ran three times for that grant; the token was consumed once, so presenting
        # it again is a reuse (RFC 9700 §4.14.2), which revokes the new one too.
        reused = await http.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": first_refresh},
            auth=basic(platform),
        )
        after_reuse = await http.post(
            "/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refreshed.json()["refresh_token"],
            },
            auth=basic(platform),
        )
    assert reused.json()["error"] == "invalid_grant"
    assert after_reuse.json()["error"] == "invalid_grant"
