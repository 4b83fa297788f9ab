"""A token request the grant cannot satisfy fails without using the grant up: a refresh asking
for a wider scope (RFC 6749 §6), a code exchange with a wrong or missing PKCE verifier
(RFC 7636 §4.6). Before, each burnt the refresh token or the code and issued nothing, so anyone
holding a copy could destroy a session. A replay (a code or refresh token already used) still
revokes the whole grant. Each test performs the attack against the real gateway."""

from __future__ import annotations

from secrets import token_urlsafe as generate_token

import pytest
from fastapi import FastAPI

from tests.sso_gateway.support import (
    basic,
    browser,
    get_code,
    introspect,
    make_client,
    redeem,
    refresh,
    tokens_for,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_refresh_asking_for_a_wider_scope_leaves_the_refresh_token_good(
    sso: FastAPI,
) -> None:
    platform = await make_client(sso)
    tokens = await tokens_for(sso, platform)
    async with browser(sso) as http:
        wider = await http.post(
            "/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "scope": "openid profile email",
            },
            auth=basic(platform),
        )
        after = await refresh(http, platform, tokens["refresh_token"])
    assert wider.status_code == 400
    assert wider.json()["error"] == "invalid_scope"
    assert after.status_code == 200, after.text
    assert after.json()["scope"] == "openid profile"


@pytest.mark.parametrize(
    ("verifier", "error"),
    [("w" * 43, "invalid_grant"), ("", "invalid_request"), ("short", "invalid_request")],
    ids=["wrong", "missing", "malformed"],
)
async def test_a_code_exchange_with_a_bad_verifier_leaves_the_code_good(
    sso: FastAPI, verifier: str, error: str
) -> None:
    platform = await make_client(sso)
    right = generate_token(48)
    code = await get_code(sso, platform, right)
    async with browser(sso) as http:
        attempt = await http.post(
            "/token", data=redeem(platform, code, verifier), auth=basic(platform)
        )
        holder = await http.post("/token", data=redeem(platform, code, right), auth=basic(platform))
    assert attempt.status_code == 400
    assert attempt.json()["error"] == error
    assert "access_token" not in attempt.json()
    assert holder.status_code == 200, holder.text


async def test_a_used_code_replayed_with_a_wrong_verifier_still_revokes_its_tokens(
    sso: FastAPI,
) -> None:
    platform = await make_client(sso)
    right = generate_token(48)
    code = await get_code(sso, platform, right)
    async with browser(sso) as http:
        first = await http.post("/token", data=redeem(platform, code, right), auth=basic(platform))
        replay = await http.post(
            "/token", data=redeem(platform, code, "w" * 43), auth=basic(platform)
        )
        described = await introspect(http, platform, first.json()["access_token"])
    assert first.status_code == 200
    assert replay.json()["error"] == "invalid_grant"
    assert described == {"active": False}


async def test_a_used_refresh_token_replayed_with_a_wider_scope_still_revokes_its_family(
    sso: FastAPI,
) -> None:
    platform = await make_client(sso)
    tokens = await tokens_for(sso, platform)
    async with browser(sso) as http:
        rotated = await refresh(http, platform, tokens["refresh_token"])
        replay = await http.post(
            "/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "scope": "openid profile email",
            },
            auth=basic(platform),
        )
        described = await introspect(http, platform, rotated.json()["refresh_token"])
    assert rotated.status_code == 200
    assert replay.status_code == 400
    assert described == {"active": False}
