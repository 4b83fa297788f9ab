"""Refresh rotation and reuse detection, client credentials with resource indicators,
introspection (RFC 7662) and revocation (RFC 7009)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.sso_gateway.support import (
    ISSUER,
    basic,
    browser,
    introspect,
    make_client,
    refresh,
    tokens_for,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_refresh_rotates_and_the_old_token_is_single_use(sso: FastAPI) -> None:
    platform = await make_client(sso)
    first = await tokens_for(sso, platform)
    async with browser(sso) as http:
        second = await refresh(http, platform, first["refresh_token"])
        assert second.status_code == 200
        assert second.json()["refresh_token"] != first["refresh_token"]
        third = await refresh(http, platform, second.json()["refresh_token"])
    assert third.status_code == 200


async def test_reused_refresh_token_revokes_the_whole_family(sso: FastAPI) -> None:
    platform = await make_client(sso)
    first = await tokens_for(sso, platform)
    async with browser(sso) as http:
        second = (await refresh(http, platform, first["refresh_token"])).json()
        replay = await refresh(http, platform, first["refresh_token"])
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
        # The legitimate holder's newer tokens die with the family.
        after = await refresh(http, platform, second["refresh_token"])
        assert after.json()["error"] == "invalid_grant"
        assert await introspect(http, platform, second["access_token"]) == {"active": False}
        assert await introspect(http, platform, second["refresh_token"]) == {"active": False}


async def test_refresh_token_of_another_client_is_invalid_grant(sso: FastAPI) -> None:
    platform, other = await make_client(sso), await make_client(sso)
    tokens = await tokens_for(sso, platform)
    async with browser(sso) as http:
        response = await refresh(http, other, tokens["refresh_token"])
        assert response.json()["error"] == "invalid_grant"
        # ... and the real owner can still use it.
        assert (await refresh(http, platform, tokens["refresh_token"])).status_code == 200


async def test_client_credentials_token_for_a_registered_resource(sso: FastAPI) -> None:
    service = await make_client(
        sso, grant_types=["client_credentials"], audiences=["dpo-requests", "audit-log"]
    )
    async with browser(sso) as http:
        response = await http.post(
            "/token",
            data={"grant_type": "client_credentials", "resource": "audit-log"},
            auth=basic(service),
        )
        jwks = KeySet.import_key_set((await http.get("/jwks")).json())
    assert response.status_code == 200, response.text
    body = response.json()
    assert "refresh_token" not in body
    token = jwt.decode(body["access_token"], jwks, algorithms=["ES256"])
    assert token.header["typ"] == "at+jwt"
    assert token.claims["aud"] == "audit-log"
    assert token.claims["sub"] == service.client_id
    assert token.claims["client_id"] == service.client_id
    assert token.claims["iss"] == ISSUER


async def test_client_credentials_default_audience_is_the_client_itself(sso: FastAPI) -> None:
    service = await make_client(sso, grant_types=["client_credentials"])
    async with browser(sso) as http:
        response = await http.post(
            "/token",
            data={
                "grant_type": "client_credentials",
                "client_id": service.client_id,
                "client_secret": service.client_secret or "",
            },
        )
        claims = await introspect(http, service, response.json()["access_token"])
    assert claims["active"] is True
    assert claims["aud"] == service.client_id


async def test_client_credentials_for_an_unregistered_resource_is_invalid_target(
    sso: FastAPI,
) -> None:
    service = await make_client(sso, grant_types=["client_credentials"], audiences=["audit-log"])
    async with browser(sso) as http:
        response = await http.post(
            "/token",
            data={"grant_type": "client_credentials", "resource": "dpo-requests"},
            auth=basic(service),
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


async def test_rs256_client_gets_rs256_tokens(sso: FastAPI) -> None:
    platform = await make_client(sso, signing_alg="RS256")
    tokens = await tokens_for(sso, platform)
    async with browser(sso) as http:
        jwks = KeySet.import_key_set((await http.get("/jwks")).json())
    for name in ("access_token", "id_token"):
        decoded = jwt.decode(tokens[name], jwks, algorithms=["RS256"])
        assert decoded.header["alg"] == "RS256"


async def test_introspection_describes_an_active_token_to_its_client(sso: FastAPI) -> None:
    platform = await make_client(sso)
    tokens = await tokens_for(sso, platform)
    async with browser(sso) as http:
        access = await introspect(http, platform, tokens["access_token"])
        refresh_info = await introspect(http, platform, tokens["refresh_token"])
    assert access["active"] is True
    assert access["client_id"] == platform.client_id
    assert access["scope"] == "openid profile"
    assert str(access["sub"]).startswith("u-")
    assert refresh_info["active"] is True
    assert refresh_info["token_type"] == "refresh_token"


async def test_introspection_by_an_unrelated_client_says_inactive(sso: FastAPI) -> None:
    platform, other = await make_client(sso), await make_client(sso)
    tokens = await tokens_for(sso, platform)
    async with browser(sso) as http:
        assert await introspect(http, other, tokens["access_token"]) == {"active": False}
        assert await introspect(http, other, "garbage") == {"active": False}


async def test_introspection_requires_client_authentication(sso: FastAPI) -> None:
    async with browser(sso) as http:
        response = await http.post("/introspect", data={"token": "x"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_revoking_a_refresh_token_kills_its_access_tokens(sso: FastAPI) -> None:
    platform = await make_client(sso)
    tokens = await tokens_for(sso, platform)
    async with browser(sso) as http:
        response = await http.post(
            "/revoke",
            data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
            auth=basic(platform),
        )
        assert response.status_code == 200
        assert (await refresh(http, platform, tokens["refresh_token"])).status_code == 400
        assert await introspect(http, platform, tokens["access_token"]) == {"active": False}
        userinfo = await http.get(
            "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
    assert userinfo.status_code == 401


async def test_revoking_an_access_token_makes_it_inactive(sso: FastAPI) -> None:
    platform = await make_client(sso)
    tokens = await tokens_for(sso, platform)
    async with browser(sso) as http:
        response = await http.post(
            "/revoke", data={"token": tokens["access_token"]}, auth=basic(platform)
        )
        assert response.status_code == 200
        assert await introspect(http, platform, tokens["access_token"]) == {"active": False}
        # The refresh token (another credential of the grant) still works.
        assert (await refresh(http, platform, tokens["refresh_token"])).status_code == 200


async def test_revoking_an_unknown_token_answers_200(sso: FastAPI) -> None:
    platform = await make_client(sso)
    async with browser(sso) as http:
        response = await http.post("/revoke", data={"token": "nope"}, auth=basic(platform))
    # RFC 7009 §2.2: an invalid token is not an error for the client.
    assert response.status_code == 200


async def test_userinfo_without_a_token_is_401_with_a_bearer_challenge(sso: FastAPI) -> None:
    async with browser(sso) as http:
        response = await http.get("/userinfo")
        forged = await http.get("/userinfo", headers={"Authorization": "Bearer a.b.c"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert forged.status_code == 401
