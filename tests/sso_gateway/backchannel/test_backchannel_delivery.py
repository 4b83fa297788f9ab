"""Back-channel logout delivery as claim (a short lease), send (no transaction, no connection),
record (only by the lease holder): a slow platform holds up nobody, two replicas never send the
same delivery at once, and a lease left by a replica that died expires and is sent again."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from sso_gateway.backchannel.repository import delivery_repository
from sso_gateway.backchannel.service import LOGOUT_EVENT, backchannel
from sso_gateway.config import Settings
from tests.sso_gateway.support import unique
from vigie_shared.kit import db

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def queue_deliveries(app: FastAPI, uris: list[str]) -> list[int]:
    ids = []
    async with app.state.runtime.pool.acquire() as conn:
        for uri in uris:
            await delivery_repository.insert(
                conn,
                client_id=unique("platform"),
                uri=uri,
                claims={"iss": "x", "sub": "s", "sid": unique("sid"), "events": {LOGOUT_EVENT: {}}},
            )
            ids.append(await conn.fetchval("SELECT max(id) FROM backchannel_deliveries"))
    return ids


async def state_of(app: FastAPI, delivery_id: int) -> dict[str, object]:
    async with app.state.runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT attempts, delivered_at IS NOT NULL AS delivered, claim_id"
            " FROM backchannel_deliveries WHERE id = $1",
            delivery_id,
        )
    return dict(row)


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest_asyncio.fixture(loop_scope="session")
async def one_connection(sso: FastAPI, database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A worker's pool of a single connection: if sending held it, nothing else could get it."""
    pool = await db.create_pool(database_url, "sso", min_size=1, max_size=1)
    try:
        yield pool
    finally:
        await pool.close()


async def test_a_slow_platform_neither_blocks_other_deliveries_nor_holds_a_connection(
    sso: FastAPI, one_connection: asyncpg.Pool
) -> None:
    slow_host, fast_host = unique("slow"), unique("fast")
    slow_id, fast_id = await queue_deliveries(
        sso, [f"https://{slow_host}.example/bcl", f"https://{fast_host}.example/bcl"]
    )
    slow_reached, release = asyncio.Event(), asyncio.Event()

    async def platforms(request: httpx.Request) -> httpx.Response:
        if request.url.host == f"{slow_host}.example":
            slow_reached.set()
            await release.wait()
        return httpx.Response(200)

    provider = sso.state.provider
    pool = one_connection
    async with httpx.AsyncClient(transport=httpx.MockTransport(platforms)) as http:
        pass_ = asyncio.create_task(
            backchannel.deliver_due(pool, provider.keyring, http, provider.settings, limit=1000)
        )
        try:
            await asyncio.wait_for(slow_reached.wait(), 10)

            async def fast_delivered() -> bool:
                return bool((await state_of(sso, fast_id))["delivered"])

            await until(fast_delivered)
            # While the slow platform still has not answered, the worker's only connection is
            # free: no transaction stays open across the POST.
            async with pool.acquire(timeout=2) as conn:
                assert await conn.fetchval("SELECT 1") == 1
            assert (await state_of(sso, slow_id))["delivered"] is False
        finally:
            release.set()
        await asyncio.wait_for(pass_, 10)
    assert (await state_of(sso, slow_id))["delivered"] is True


async def test_two_workers_never_send_the_same_delivery_concurrently(sso: FastAPI) -> None:
    host = unique("platform")
    ids = await queue_deliveries(sso, [f"https://{host}.example/bcl/{i}" for i in range(12)])
    received: Counter[str] = Counter()

    async def platform(request: httpx.Request) -> httpx.Response:
        if request.url.host == f"{host}.example":
            received[request.url.path] += 1
            # Long enough that both workers' passes overlap.
            await asyncio.sleep(0.05)
        return httpx.Response(200)

    provider = sso.state.provider
    async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as http:
        for _ in range(3):
            await asyncio.gather(
                *(
                    backchannel.deliver_due(
                        provider.pool, provider.keyring, http, provider.settings, limit=5
                    )
                    for _ in range(2)
                )
            )
    assert received == Counter({f"/bcl/{i}": 1 for i in range(12)})
    for delivery_id in ids:
        assert await state_of(sso, delivery_id) == {
            "attempts": 1,
            "delivered": True,
            "claim_id": None,
        }


async def test_a_lease_left_by_a_crashed_replica_expires_and_the_delivery_is_sent_again(
    sso: FastAPI,
) -> None:
    provider = sso.state.provider
    settings = Settings(
        **{
            **provider.settings.model_dump(),
            "backchannel_lease_seconds": 0.5,
            "backchannel_timeout_seconds": 0.2,
        }
    )
    host = unique("platform")
    (delivery_id,) = await queue_deliveries(sso, [f"https://{host}.example/bcl"])
    crashed = [
        c
        for c in await backchannel.claim(provider.pool, settings, limit=1000)
        if c.id == delivery_id
    ]
    assert crashed, "the first replica claimed the delivery, then died before sending"
    sent: list[str] = []

    async def platform(request: httpx.Request) -> httpx.Response:
        if request.url.host == f"{host}.example":
            sent.append(request.url.path)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as http:
        await backchannel.deliver_due(provider.pool, provider.keyring, http, settings, limit=1000)
        assert sent == [], "leased to the dead replica: not sent while the lease lasts"

        async def sent_again() -> bool:
            await backchannel.deliver_due(
                provider.pool, provider.keyring, http, settings, limit=1000
            )
            return bool(sent)

        await until(sent_again)
    assert sent == ["/bcl"]
    assert await state_of(sso, delivery_id) == {"attempts": 1, "delivered": True, "claim_id": None}
    # Were the dead replica to come back and report, its claim is no longer the one on record.
    async with provider.pool.acquire() as conn:
        assert not await delivery_repository.delivered(conn, delivery_id, crashed[0].claim_id)


async def test_the_worker_keeps_sending_past_a_platform_that_never_answers(
    sso: FastAPI,
) -> None:
    """``run``, the loop each replica runs: a platform that never answers holds one POST, not
    the worker; the next claims still go out."""
    host = unique("platform")
    never = asyncio.Event()
    received: list[str] = []

    async def platforms(request: httpx.Request) -> httpx.Response:
        if request.url.host == f"{host}.example":
            if request.url.path == "/silent":
                await never.wait()
            received.append(request.url.path)
            assert b"logout_token=" in request.content
        return httpx.Response(200)

    provider = sso.state.provider
    settings = Settings(
        **{
            **provider.settings.model_dump(),
            "backchannel_timeout_seconds": 30.0,
            "backchannel_lease_seconds": 60.0,
        }
    )
    (silent,) = await queue_deliveries(sso, [f"https://{host}.example/silent"])
    worker = asyncio.create_task(
        backchannel.run(
            provider.pool,
            provider.keyring,
            settings,
            interval=0.05,
            transport=httpx.MockTransport(platforms),
        )
    )
    try:

        async def silent_claimed() -> bool:
            return (await state_of(sso, silent))["claim_id"] is not None

        await until(silent_claimed)
        (later,) = await queue_deliveries(sso, [f"https://{host}.example/bcl"])

        async def later_delivered() -> bool:
            return bool((await state_of(sso, later))["delivered"])

        await until(later_delivered)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    assert received == ["/bcl"]
    assert (await state_of(sso, silent))["delivered"] is False
