"""RP-initiated logout (OIDC RP-Initiated Logout 1.0) and back-channel logout (OIDC
Back-Channel Logout 1.0), delivered with retries from a table that survives restarts."""

from __future__ import annotations

import json
from secrets import token_urlsafe as generate_token

import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import KeySet

from sso_gateway.backchannel.service import LOGOUT_EVENT, backchannel
from tests.sso_gateway.support import (
    ISSUER,
    Platforms,
    authorize_url,
    basic,
    browser,
    csrf_of,
    deliver,
    events_about,
    make_client,
    make_user,
    signed_in,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_logout_with_id_token_hint_redirects_to_the_registered_uri_with_state(
    sso: FastAPI,
) -> None:
    account = await make_user(sso)
    platform = await make_client(sso)
    async with browser(sso) as http:
        tokens = await signed_in(sso, http, platform, account)
        response = await http.get(
            "/logout",
            params={
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": platform.post_logout_redirect_uri,
                "state": "bye-1",
            },
        )
        assert response.status_code == 302
        assert response.headers["location"] == f"{platform.post_logout_redirect_uri}?state=bye-1"
        assert 'vigie_sso=""' in response.headers["set-cookie"]
        # The session is over: its refresh token is dead, and the next visit needs the form.
        refreshed = await http.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=basic(platform),
        )
        assert refreshed.json()["error"] == "invalid_grant"
        again = await http.get(authorize_url(platform, generate_token(48)))
        assert again.headers["location"].startswith("/login")
    types = [t for t, _ in await events_about(sso, account.id)]
    assert types[-1] == "vigie.sso.session.revoked"


async def test_logout_never_redirects_to_an_unregistered_uri(sso: FastAPI) -> None:
    account = await make_user(sso)
    platform = await make_client(sso)
    async with browser(sso) as http:
        tokens = await signed_in(sso, http, platform, account)
        response = await http.get(
            "/logout",
            params={
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": "https://evil.example/",
            },
        )
    assert response.status_code == 200
    assert "location" not in response.headers
    assert "Vous êtes déconnecté." in response.text


async def test_logout_without_id_token_hint_asks_for_confirmation(sso: FastAPI) -> None:
    account = await make_user(sso)
    platform = await make_client(sso)
    async with browser(sso) as http:
        await signed_in(sso, http, platform, account)
        page = await http.get("/logout")
        assert page.status_code == 200
        assert "Voulez-vous vous déconnecter" in page.text
        assert (await http.get(authorize_url(platform, generate_token(48)))).status_code == 302
        done = await http.post("/logout", data={"csrf_token": csrf_of(page.text)})
        assert "Vous êtes déconnecté." in done.text
        again = await http.get(authorize_url(platform, generate_token(48)))
    assert again.headers["location"].startswith("/login")


async def test_logout_with_a_forged_id_token_hint_is_refused(sso: FastAPI) -> None:
    platform = await make_client(sso)
    async with browser(sso) as http:
        response = await http.get(
            "/logout",
            params={
                "id_token_hint": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
                "post_logout_redirect_uri": platform.post_logout_redirect_uri,
            },
        )
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_logout_sends_a_signed_logout_token_to_each_platform_of_the_session(
    sso: FastAPI,
) -> None:
    account = await make_user(sso)
    moodle = await make_client(sso, backchannel_logout_uri="https://moodle.example/bcl")
    copies = await make_client(sso, backchannel_logout_uri="https://copies.example/bcl")
    silent = await make_client(sso)
    async with browser(sso) as http:
        tokens = await signed_in(sso, http, moodle, account)
        await signed_in(sso, http, copies, account)
        await signed_in(sso, http, silent, account)
        await http.get("/logout", params={"id_token_hint": tokens["id_token"]})
        jwks = KeySet.import_key_set((await http.get("/jwks")).json())
    platforms = Platforms()
    await deliver(sso, platforms)
    mine = [
        (u, t) for u, t in platforms.received if u.startswith(("https://moodle", "https://copies"))
    ]
    assert sorted(u for u, _ in mine) == [
        "https://copies.example/bcl",
        "https://moodle.example/bcl",
    ]
    sid = jwt.decode(tokens["id_token"], jwks).claims["sid"]
    for url, token in mine:
        decoded = jwt.decode(token, jwks, algorithms=["ES256"])
        assert decoded.header["typ"] == "logout+jwt"
        claims = decoded.claims
        assert claims["iss"] == ISSUER
        assert claims["aud"] == (moodle if "moodle" in url else copies).client_id
        assert claims["sid"] == sid
        assert claims["sub"] == account.id
        assert claims["events"] == {LOGOUT_EVENT: {}}
        assert "nonce" not in claims
        assert {"iat", "exp", "jti"} <= set(claims)
    assert await deliver(sso, Platforms()) == 0


async def test_failed_back_channel_delivery_is_retried_with_backoff_and_visible(
    sso: FastAPI,
) -> None:
    account = await make_user(sso)
    platform = await make_client(sso, backchannel_logout_uri="https://down.example/bcl")
    async with browser(sso) as http:
        tokens = await signed_in(sso, http, platform, account)
        await http.get("/logout", params={"id_token_hint": tokens["id_token"]})
    await deliver(sso, Platforms(status=503))
    async with sso.state.runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT attempts, last_error, next_at > now() AS later, delivered_at"
            " FROM backchannel_deliveries WHERE client_id = $1",
            platform.client_id,
        )
        undelivered = await backchannel.undelivered(conn)
    assert row["attempts"] == 1
    assert row["last_error"] == "HTTP 503"
    assert row["later"] is True
    assert row["delivered_at"] is None
    assert platform.client_id in json.dumps([u.client_id for u in undelivered])
