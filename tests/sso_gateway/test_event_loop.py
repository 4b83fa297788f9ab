"""Authlib's server API is synchronous; the gateway runs it off the event loop (its storage hooks
call back into asyncpg on the loop), so that requests never queue behind a grant waiting on the
database."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from fastapi import FastAPI

from tests.sso_gateway.conftest import browser, make_client
from tests.sso_gateway.test_errors import basic

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Fewer than the pool's connections: this test is about the event loop, not pool capacity.
STUCK = 6


async def test_grants_stuck_on_the_database_do_not_hold_up_other_requests(sso: FastAPI) -> None:
    service = await make_client(sso, grant_types=["client_credentials"])
    pool = sso.state.runtime.pool
    stuck: list[asyncio.Task[httpx.Response]] = []
    async with browser(sso) as http, pool.acquire() as locker:
        # Another transaction holds the table every token issuance writes to.
        transaction = locker.transaction()
        await transaction.start()
        try:
            await locker.execute("LOCK TABLE access_tokens IN ACCESS EXCLUSIVE MODE")
            stuck = [
                asyncio.create_task(
                    http.post(
                        "/token", data={"grant_type": "client_credentials"}, auth=basic(service)
                    )
                )
                for _ in range(STUCK)
            ]
            await asyncio.sleep(0.3)
            assert not any(task.done() for task in stuck)
            discovery = await http.get("/.well-known/openid-configuration")
            jwks = await http.get("/jwks")
            login_page = await http.get("/login")
            # Answered while every grant is still waiting on the database.
            assert not any(task.done() for task in stuck)
        finally:
            await transaction.rollback()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*stuck, return_exceptions=True), 30)
    assert discovery.status_code == jwks.status_code == login_page.status_code == 200
    assert [task.result().status_code for task in stuck] == [200] * STUCK


async def test_a_storage_hook_never_waits_on_the_database_from_the_event_loop(
    sso: FastAPI,
) -> None:
    """Waiting from the loop thread on work scheduled on that same loop would hang it for
    good; the bridge refuses instead."""
    provider = sso.state.provider

    async def nothing(conn: object) -> None:
        return None

    with pytest.raises(RuntimeError, match="event loop"):
        provider.call(nothing)
