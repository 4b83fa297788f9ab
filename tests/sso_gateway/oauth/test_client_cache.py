"""The client of a token request, from a short-lived cache: concurrent misses share one
query, an unknown client is never cached, an entry is read again after its ttl."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI

from sso_gateway.oauth.client_cache import ClientCache
from tests.sso_gateway.oauth.support import CountingPool, pool_of
from tests.sso_gateway.support import make_client, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")


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
