"""Every end of a session reaches its platforms by back-channel logout (OIDC Back-Channel Logout
1.0 §2.5), an expiry included: a session past its absolute end (``session_ttl``) or unused for
``session_idle_ttl`` is ended by a sweep, safe with two replicas, whose deliveries are durable
rows a restarted gateway still sends, once. Time is moved in the database, not waited for."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from secrets import token_urlsafe as generate_token

import asyncpg
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import KeySet

from sso_gateway.app import create_app
from sso_gateway.backchannel.service import LOGOUT_EVENT
from sso_gateway.config import Settings
from sso_gateway.sessions.service import idle_window, sessions
from tests.sso_gateway.support import (
    ISSUER,
    Account,
    Platform,
    Platforms,
    admin_api_token,
    authorize_url,
    browser,
    deliver,
    events_about,
    introspect,
    make_client,
    make_user,
    refresh,
    signed_in,
    unique,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass
class SignedIn:
    """A person's session, signed into two platforms that each registered a
    ``backchannel_logout_uri`` (``uris``), and what each platform holds."""

    account: Account
    sid: str
    platforms: list[Platform]
    uris: list[str]
    tokens: list[dict[str, str]]
    cookies: dict[str, str]


async def signed_into_two(sso: FastAPI) -> SignedIn:
    account = await make_user(sso)
    uris = [f"https://{unique('platform')}.example.org/bcl" for _ in range(2)]
    platforms = [await make_client(sso, backchannel_logout_uri=uri) for uri in uris]
    async with browser(sso) as http:
        tokens = [await signed_in(sso, http, p, account) for p in platforms]
        cookies = dict(http.cookies)
    jwks = await gateway_keys(sso)
    (sid,) = {jwt.decode(t["id_token"], jwks).claims["sid"] for t in tokens}
    return SignedIn(account, sid, platforms, uris, tokens, cookies)


async def gateway_keys(sso: FastAPI) -> KeySet:
    async with browser(sso) as http:
        return KeySet.import_key_set((await http.get("/jwks")).json())


async def past_absolute_end(sso: FastAPI, sid: str) -> None:
    await sso.state.runtime.pool.execute(
        "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1", sid
    )


async def unused_for(sso: FastAPI, sid: str, seconds: float) -> None:
    """Move the session's uses (its cookie's, its refresh grants') ``seconds`` earlier."""
    async with sso.state.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE sessions SET last_used_at = last_used_at - make_interval(secs => $2)"
            " WHERE id = $1",
            sid,
            seconds,
        )
        await conn.execute(
            "UPDATE refresh_tokens SET issued_at = issued_at - make_interval(secs => $2)"
            " WHERE session_id = $1",
            sid,
            seconds,
        )


async def sweep(app: FastAPI) -> int:
    """What the periodic sweep does, run until nothing is left."""
    provider = app.state.provider
    ended = 0
    while count := await sessions.report_expired(provider.pool, provider.settings):
        ended += count
    return ended


async def ended_as(sso: FastAPI, sid: str) -> str | None:
    reason: str | None = await sso.state.runtime.pool.fetchval(
        "SELECT end_reason FROM sessions WHERE id = $1 AND revoked_at IS NOT NULL", sid
    )
    return reason


async def logout_tokens(app: FastAPI, signed: SignedIn) -> list[tuple[str, str]]:
    """Deliver what is due; the (uri, logout token) pairs this session's platforms got."""
    platforms = Platforms()
    await deliver(app, platforms)
    return [(uri, token) for uri, token in platforms.received if uri in signed.uris]


async def assert_each_platform_told_once(
    sso: FastAPI, signed: SignedIn, received: list[tuple[str, str]]
) -> None:
    assert sorted(uri for uri, _ in received) == sorted(signed.uris)
    jwks = await gateway_keys(sso)
    for uri, token in received:
        decoded = jwt.decode(token, jwks, algorithms=["ES256"])
        assert decoded.header["typ"] == "logout+jwt"
        platform = signed.platforms[signed.uris.index(uri)]
        claims = decoded.claims
        assert claims["iss"] == ISSUER
        assert claims["aud"] == platform.client_id
        assert claims["sub"] == signed.account.id
        assert claims["sid"] == signed.sid
        assert claims["events"] == {LOGOUT_EVENT: {}}
    assert await logout_tokens(sso, signed) == []


async def assert_tokens_revoked(sso: FastAPI, signed: SignedIn) -> None:
    async with browser(sso) as http:
        for platform, tokens in zip(signed.platforms, signed.tokens, strict=True):
            assert (await introspect(http, platform, tokens["access_token"]))["active"] is False
            refused = await refresh(http, platform, tokens["refresh_token"])
            assert refused.json()["error"] == "invalid_grant"


async def revoked_reasons(sso: FastAPI, signed: SignedIn) -> list[str]:
    return [
        data["reason"]
        for kind, data in await events_about(sso, signed.account.id)
        if kind == "vigie.sso.session.revoked" and data["session_id"] == signed.sid
    ]


async def cookie_works(sso: FastAPI, signed: SignedIn) -> bool:
    """Does the browser still get a code at /authorize without the login form?"""
    async with browser(sso) as http:
        http.cookies.update(signed.cookies)
        landed = await http.get(authorize_url(signed.platforms[0], generate_token(48)))
    return not landed.headers["location"].startswith("/login")


@contextlib.asynccontextmanager
async def gateway(sso: FastAPI, **settings: object) -> AsyncIterator[FastAPI]:
    """Another gateway process on the same database: a replica, or the one after a restart."""
    app = create_app(Settings(**{**sso.state.provider.settings.model_dump(), **settings}))
    async with app.router.lifespan_context(app):
        yield app


async def past_idle_end(sso: FastAPI, sid: str) -> None:
    await unused_for(sso, sid, idle_window(sso.state.provider.settings) + 1)


@pytest.mark.parametrize(
    ("reason", "end"), [("expiry", past_absolute_end), ("idle", past_idle_end)]
)
async def test_an_ended_session_sends_one_logout_token_to_each_platform(
    sso: FastAPI, reason: str, end: Callable[[FastAPI, str], Awaitable[None]]
) -> None:
    signed = await signed_into_two(sso)
    await end(sso, signed.sid)
    assert not await cookie_works(sso, signed), "past its end, the cookie signs no one in"
    async with browser(sso) as http:
        early = await refresh(http, signed.platforms[0], signed.tokens[0]["refresh_token"])
    assert early.json()["error"] == "invalid_grant", "past its end, no refresh either"
    assert await logout_tokens(sso, signed) == [], "nothing is sent before the sweep"
    assert await sweep(sso) >= 1
    assert await ended_as(sso, signed.sid) == reason
    await assert_each_platform_told_once(sso, signed, await logout_tokens(sso, signed))
    await assert_tokens_revoked(sso, signed)
    assert await revoked_reasons(sso, signed) == [reason]


async def test_an_end_already_swept_is_not_reported_again_by_a_revocation(sso: FastAPI) -> None:
    signed = await signed_into_two(sso)
    await past_absolute_end(sso, signed.sid)
    await sweep(sso)
    settings = sso.state.provider.settings
    async with sso.state.runtime.pool.acquire() as conn, conn.transaction():
        assert not await sessions.revoke(conn, settings, signed.sid, "logout")
        assert await sessions.revoke_all(conn, settings, signed.account.id, "erasure") == 0
    assert len(await logout_tokens(sso, signed)) == 2
    assert await revoked_reasons(sso, signed) == ["expiry"]


async def test_an_active_session_is_not_swept(sso: FastAPI) -> None:
    signed = await signed_into_two(sso)
    await sweep(sso)
    assert await ended_as(sso, signed.sid) is None
    assert await cookie_works(sso, signed)
    assert await logout_tokens(sso, signed) == []
    assert await revoked_reasons(sso, signed) == []


async def visit(sso: FastAPI, signed: SignedIn) -> None:
    assert await cookie_works(sso, signed)


async def refresh_in_platform(sso: FastAPI, signed: SignedIn) -> None:
    """The browser has not been back, the platform has: the person is still at work there."""
    async with browser(sso) as http:
        refreshed = await refresh(http, signed.platforms[0], signed.tokens[0]["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text


async def refresh_offline(sso: FastAPI, signed: SignedIn) -> None:
    """A refresh of an ``offline_access`` grant (OIDC Core §11): no sign the person is there."""
    platform = await make_client(sso)
    async with browser(sso) as http:
        http.cookies.update(signed.cookies)
        tokens = await signed_in(sso, http, platform, signed.account, scope="openid offline_access")
    assert "offline_access" in tokens["scope"].split()
    # Signing in was a visit: it is taken back, to leave only the refresh.
    await sso.state.runtime.pool.execute(
        "UPDATE sessions SET last_used_at = now() - make_interval(secs => $2) WHERE id = $1",
        signed.sid,
        idle_window(sso.state.provider.settings) - 900,
    )
    async with browser(sso) as http:
        refreshed = await refresh(http, platform, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text


@pytest.mark.parametrize(
    ("use", "counts"), [(visit, True), (refresh_in_platform, True), (refresh_offline, False)]
)
async def test_a_used_session_is_not_idle(
    sso: FastAPI, use: Callable[[FastAPI, SignedIn], Awaitable[None]], counts: bool
) -> None:
    signed = await signed_into_two(sso)
    window = idle_window(sso.state.provider.settings)
    await unused_for(sso, signed.sid, window - 900)
    await use(sso, signed)
    # Had the use not counted, the session would be unused for longer than the window now.
    await unused_for(sso, signed.sid, 1000)
    await sweep(sso)
    assert await ended_as(sso, signed.sid) == (None if counts else "idle")


async def test_a_use_is_written_at_most_once_per_tenth_of_the_idle_ttl(sso: FastAPI) -> None:
    signed = await signed_into_two(sso)
    pool: asyncpg.Pool = sso.state.runtime.pool
    await unused_for(sso, signed.sid, 60)
    before = await pool.fetchval("SELECT last_used_at FROM sessions WHERE id = $1", signed.sid)
    assert await cookie_works(sso, signed)
    after = await pool.fetchval("SELECT last_used_at FROM sessions WHERE id = $1", signed.sid)
    assert after == before, "a use a minute after the last one on record writes nothing"
    granule = sso.state.provider.settings.session_idle_ttl / 10
    await unused_for(sso, signed.sid, granule)
    assert await cookie_works(sso, signed)
    written = await pool.fetchval(
        "SELECT now() - last_used_at < interval '1 minute' FROM sessions WHERE id = $1",
        signed.sid,
    )
    assert written, "a use past the granule is written"


async def test_an_expiry_swept_before_a_restart_is_delivered_after_it_once(
    sso: FastAPI,
) -> None:
    signed = await signed_into_two(sso)
    await past_absolute_end(sso, signed.sid)
    async with gateway(sso, session_expiry_sweep_seconds=0.05):
        # Its own periodic sweep (``sessions.wiring``) finds the session.
        deadline = time.monotonic() + 10
        while await ended_as(sso, signed.sid) is None:
            assert time.monotonic() < deadline, "the sweep did not run"
            await asyncio.sleep(0.05)
    # That gateway stopped before sending anything; the next one finds the deliveries.
    async with gateway(sso) as after:
        received = await logout_tokens(after, signed)
        await assert_each_platform_told_once(after, signed, received)


async def test_two_replicas_sweeping_at_once_tell_each_platform_once(
    sso: FastAPI,
) -> None:
    people = [await signed_into_two(sso) for _ in range(4)]
    for signed in people:
        await past_absolute_end(sso, signed.sid)

    async def sweep_one_at_a_time(app: FastAPI) -> int:
        provider = app.state.provider
        ended = 0
        while count := await sessions.report_expired(provider.pool, provider.settings, limit=1):
            ended += count
        return ended

    async with gateway(sso) as replica:
        ended = await asyncio.gather(sweep_one_at_a_time(sso), sweep_one_at_a_time(replica))
    assert sum(ended) >= len(people)
    platforms = Platforms()
    await deliver(sso, platforms)
    got = Counter(uri for uri, _ in platforms.received)
    for signed in people:
        assert {uri: got[uri] for uri in signed.uris} == dict.fromkeys(signed.uris, 1)
        assert await revoked_reasons(sso, signed) == ["expiry"]


async def test_an_administrator_signs_an_account_out_of_every_platform(sso: FastAPI) -> None:
    signed = await signed_into_two(sso)
    token = await admin_api_token(sso, ["admin"])
    headers = {"Authorization": f"Bearer {token}"}
    async with browser(sso) as http:
        nobody = await http.post(f"/admin/users/{unique('nobody')}/sign-out", headers=headers)
        done = await http.post(f"/admin/users/{signed.account.username}/sign-out", headers=headers)
    assert nobody.status_code == 404
    assert nobody.headers["content-type"] == "application/problem+json"
    assert done.status_code == 200, done.text
    assert done.json() == {"user_id": signed.account.id, "sessions_ended": 1}
    assert await ended_as(sso, signed.sid) == "admin"
    assert not await cookie_works(sso, signed)
    await assert_each_platform_told_once(sso, signed, await logout_tokens(sso, signed))
    await assert_tokens_revoked(sso, signed)
    assert await revoked_reasons(sso, signed) == ["admin"]
