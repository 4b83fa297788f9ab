"""Authorization code + PKCE through the login form, with a relying party written only with
Authlib's OAuth client (an ordinary OIDC client library)."""

from __future__ import annotations

import time
from secrets import token_urlsafe as generate_token

import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.sso_gateway.support import (
    ISSUER,
    browser,
    login_through_form,
    make_client,
    make_user,
    query_of,
    relying_party,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_discovery_document_names_every_endpoint_and_only_s256(sso: FastAPI) -> None:
    async with browser(sso) as http:
        doc = (await http.get("/.well-known/openid-configuration")).json()
        jwks = (await http.get(doc["jwks_uri"].removeprefix(ISSUER))).json()
    assert doc["issuer"] == ISSUER
    assert doc["jwks_uri"] == f"{ISSUER}/jwks"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["id_token_signing_alg_values_supported"]) == {"ES256", "RS256"}
    for name in ("authorization", "token", "userinfo", "introspection", "revocation"):
        assert doc[f"{name}_endpoint"].startswith(ISSUER)
    assert doc["end_session_endpoint"] == f"{ISSUER}/logout"
    assert doc["pushed_authorization_request_endpoint"] == f"{ISSUER}/par"
    assert doc["require_pushed_authorization_requests"] is False
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert {k["alg"] for k in jwks["keys"]} >= {"ES256", "RS256"}
    assert all("d" not in k for k in jwks["keys"])


async def test_code_flow_with_pkce_gives_verified_id_token_refresh_and_userinfo(
    sso: FastAPI,
) -> None:
    account = await make_user(sso)
    platform = await make_client(sso)
    verifier = generate_token(48)
    nonce = generate_token(16)
    async with relying_party(sso, platform) as rp, browser(sso) as http:
        url, state = rp.create_authorization_url(
            f"{ISSUER}/authorize", code_verifier=verifier, nonce=nonce
        )
        landed = await login_through_form(http, url, account)
        assert landed.status_code == 302
        callback = landed.headers["location"]
        assert callback.startswith(platform.redirect_uri)
        assert query_of(callback)["state"] == state
        token = await rp.fetch_token(
            f"{ISSUER}/token", authorization_response=callback, code_verifier=verifier
        )
        jwks = KeySet.import_key_set((await http.get("/jwks")).json())
        id_token = jwt.decode(token["id_token"], jwks, algorithms=["ES256"])
        claims = id_token.claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": platform.client_id},
            nonce={"essential": True, "value": nonce},
            sub={"essential": True, "value": account.id},
        ).validate(claims)
        assert {"auth_time", "sid", "at_hash", "exp", "iat"} <= set(claims)
        assert id_token.header["kid"]
        access = jwt.decode(token["access_token"], jwks, algorithms=["ES256"])
        assert access.header["typ"] == "at+jwt"
        assert access.claims["aud"] == platform.client_id
        assert access.claims["roles"] == ["learner"]
        assert access.claims["sid"] == claims["sid"]
        # Granted the email scope: the address rides in the token (RFC 9068 §2.2.3.1).
        assert access.claims["email"] == account.email
        assert token["refresh_token"].startswith("vigie_rt_")

        info = (await rp.get(f"{ISSUER}/userinfo")).json()
        assert info == {
            "sub": account.id,
            "name": "Léa Dupont",
            "preferred_username": account.username,
            "email": account.email,
            "email_verified": True,
        }
        refreshed = await rp.refresh_token(f"{ISSUER}/token")
        assert refreshed["refresh_token"] != token["refresh_token"]
        assert refreshed["access_token"] != token["access_token"]
        assert (await rp.get(f"{ISSUER}/userinfo")).json()["sub"] == account.id


async def test_public_client_completes_the_flow_with_pkce_and_no_secret(sso: FastAPI) -> None:
    account = await make_user(sso)
    platform = await make_client(sso, public=True)
    assert platform.client_secret is None
    verifier = generate_token(48)
    async with relying_party(sso, platform) as rp, browser(sso) as http:
        url, _ = rp.create_authorization_url(f"{ISSUER}/authorize", code_verifier=verifier)
        landed = await login_through_form(http, url, account)
        token = await rp.fetch_token(
            f"{ISSUER}/token",
            authorization_response=landed.headers["location"],
            code_verifier=verifier,
        )
    assert token["token_type"] == "Bearer"
    assert int(token["expires_at"]) > time.time()


async def test_second_authorization_reuses_the_session_without_the_form(sso: FastAPI) -> None:
    account = await make_user(sso)
    first, second = await make_client(sso), await make_client(sso)
    async with browser(sso) as http:
        async with relying_party(sso, first) as rp:
            url, _ = rp.create_authorization_url(
                f"{ISSUER}/authorize", code_verifier=generate_token(48)
            )
            await login_through_form(http, url, account)
        async with relying_party(sso, second) as rp:
            url, _ = rp.create_authorization_url(
                f"{ISSUER}/authorize", code_verifier=generate_token(48)
            )
            response = await http.get(url)
    assert response.status_code == 302
    assert response.headers["location"].startswith(second.redirect_uri)
    assert "code" in query_of(response.headers["location"])
