"""RFC 8707 resource indicators on a person's grants: the resource named at /authorize is the
audience of the grant's access tokens, through refreshes too, and a token request may not name
one the authorization did not."""

from __future__ import annotations

import base64
import json
import secrets

import httpx
import pytest
from fastapi import FastAPI

from tests.sso_gateway.support import (
    ADMIN_RESOURCE,
    authorize_url,
    browser,
    login_through_form,
    make_client,
    make_user,
    person_token,
    query_of,
    redeem,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


def audience(token: str) -> object:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["aud"]


async def refresh(
    app: FastAPI, client_id: str, secret: str, refresh_token: str, **extra: str
) -> httpx.Response:
    async with browser(app) as http:
        return await http.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token, **extra},
            auth=httpx.BasicAuth(client_id, secret),
        )


async def test_the_resource_named_at_authorization_is_the_audience_through_refreshes(
    sso: FastAPI,
) -> None:
    admin = await make_user(sso, roles=["admin"])
    console = await make_client(sso, audiences=[ADMIN_RESOURCE])
    issued = await person_token(sso, admin, resource=ADMIN_RESOURCE, platform=console)
    assert audience(issued["access_token"]) == ADMIN_RESOURCE
    secret = console.client_secret or ""
    rotated = await refresh(sso, console.client_id, secret, issued["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    assert audience(rotated.json()["access_token"]) == ADMIN_RESOURCE
    # The client itself stays a resource of the grant, when asked for by name.
    own = await refresh(
        sso, console.client_id, secret, rotated.json()["refresh_token"], resource=console.client_id
    )
    assert own.status_code == 200, own.text
    assert audience(own.json()["access_token"]) == console.client_id


async def test_without_a_resource_a_persons_token_is_for_the_platform_alone(sso: FastAPI) -> None:
    admin = await make_user(sso, roles=["admin"])
    console = await make_client(sso, audiences=[ADMIN_RESOURCE])
    issued = await person_token(sso, admin, platform=console)
    assert audience(issued["access_token"]) == console.client_id
    # Registered for the admin API, the client still cannot widen a grant made without it.
    widened = await refresh(
        sso,
        console.client_id,
        console.client_secret or "",
        issued["refresh_token"],
        resource=ADMIN_RESOURCE,
    )
    assert widened.status_code == 400
    assert widened.json()["error"] == "invalid_target"
    # Refused before it was used up: the refresh token still works, for the platform.
    again = await refresh(
        sso, console.client_id, console.client_secret or "", issued["refresh_token"]
    )
    assert again.status_code == 200, again.text
    assert audience(again.json()["access_token"]) == console.client_id


async def test_a_code_redeemed_for_a_resource_it_was_not_granted_is_refused_and_kept(
    sso: FastAPI,
) -> None:
    admin = await make_user(sso, roles=["admin"])
    console = await make_client(sso, audiences=[ADMIN_RESOURCE])
    verifier = secrets.token_urlsafe(48)
    async with browser(sso) as http:
        landed = await login_through_form(http, authorize_url(console, verifier), admin)
        code = query_of(landed.headers["location"])["code"]
        auth = httpx.BasicAuth(console.client_id, console.client_secret or "")
        widened = await http.post(
            "/token", data=redeem(console, code, verifier, resource=ADMIN_RESOURCE), auth=auth
        )
        redeemed = await http.post("/token", data=redeem(console, code, verifier), auth=auth)
    assert widened.status_code == 400
    assert widened.json()["error"] == "invalid_target"
    assert redeemed.status_code == 200, redeemed.text
    assert audience(redeemed.json()["access_token"]) == console.client_id


async def test_one_resource_per_authorization(sso: FastAPI) -> None:
    console = await make_client(sso, audiences=[ADMIN_RESOURCE, "audit-log"])
    async with browser(sso) as http:
        response = await http.get(
            "/authorize",
            params=[
                ("response_type", "code"),
                ("client_id", console.client_id),
                ("redirect_uri", console.redirect_uri),
                ("scope", "openid"),
                ("state", "st-2"),
                ("code_challenge", "E9Melhoe2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                ("code_challenge_method", "S256"),
                ("resource", ADMIN_RESOURCE),
                ("resource", "audit-log"),
            ],
        )
    assert response.status_code == 302
    assert response.headers["location"].startswith(console.redirect_uri)
    assert "error=invalid_target" in response.headers["location"]
