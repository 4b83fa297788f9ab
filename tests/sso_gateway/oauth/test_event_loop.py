"""Authlib's server API is synchronous; the gateway runs it off the event loop (its storage hooks
call back into asyncpg on the loop), so that requests never queue behind a grant waiting on the
database. Token grants run on the loop itself, Authlib running again once what a hook needs is
loaded, and still consume a code or refresh token once."""

from __future__ import annotations

import asyncio
import contextlib
from secrets import token_urlsafe as generate_token

import httpx
import pytest
from fastapi import FastAPI

from tests.sso_gateway.support import basic, browser, get_code, make_client, redeem

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
