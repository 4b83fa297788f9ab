"""Client authentication at the token, introspection and revocation endpoints: one method per
request (RFC 6749 §2.3), and PKCE from every client, confidential ones included (RFC 9700
§2.1.1). Each test performs the attack against the real gateway."""

from __future__ import annotations

from secrets import token_urlsafe as generate_token

import httpx
import pytest
from fastapi import FastAPI

from tests.sso_gateway.support import (
    authorize_url,
    basic,
    browser,
    get_code,
    make_client,
    query_of,
    redeem,
    tokens_for,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_wrong_basic_secret_with_another_clients_post_secret_is_refused(
    sso: FastAPI,
) -> None:
    attacker = await make_client(sso)
    victim = await make_client(sso, grant_types=["client_credentials"])
    async with browser(sso) as http:
        mixed = await http.post(
            "/token",
            data={
                "grant_type": "client_credentials",
                "client_id": victim.client_id,
                "client_secret": victim.client_secret or "",
            },
            auth=basic(attacker, "vigie_cs_wrong"),
        )
        alone = await http.post(
            "/token",
            data={
                "grant_type": "client_credentials",
                "client_id": victim.client_id,
                "client_secret": victim.client_secret or "",
            },
        )
    assert mixed.status_code == 400, mixed.text
    assert mixed.json()["error"] == "invalid_request"
    assert "access_token" not in mixed.json()
    assert alone.status_code == 200  # the post method alone still works


@pytest.mark.parametrize("endpoint", ["/introspect", "/revoke"])
async def test_two_authentication_methods_are_refused_at_the_token_endpoints(
    sso: FastAPI, endpoint: str
) -> None:
    owner, other = await make_client(sso), await make_client(sso)
    tokens = await tokens_for(sso, owner)
    async with browser(sso) as http:
        mixed = await http.post(
            endpoint,
            data={
                "token": tokens["access_token"],
                "client_id": owner.client_id,
                "client_secret": owner.client_secret or "",
            },
            auth=basic(other, "vigie_cs_wrong"),
        )
        described = await http.post(
            "/introspect", data={"token": tokens["access_token"]}, auth=basic(owner)
        )
    assert mixed.status_code == 400, mixed.text
    assert mixed.json()["error"] == "invalid_request"
    assert described.json()["active"] is True  # not revoked by the refused request


async def test_basic_naming_one_client_and_a_body_naming_another_is_refused(
    sso: FastAPI,
) -> None:
    platform, public = await make_client(sso), await make_client(sso, public=True)
    verifier = generate_token(48)
    code = await get_code(sso, public, verifier)
    async with browser(sso) as http:
        mixed = await http.post(
            "/token",
            data=redeem(public, code, verifier, client_id=public.client_id),
            auth=basic(platform, "vigie_cs_wrong"),
        )
    assert mixed.status_code == 400, mixed.text
    assert mixed.json()["error"] == "invalid_request"


async def test_a_confidential_client_without_pkce_is_refused(sso: FastAPI) -> None:
    platform = await make_client(sso)
    assert platform.client_secret is not None  # confidential
    async with browser(sso) as http:
        response = await http.get(
            authorize_url(platform, "v", code_challenge="", code_challenge_method="")
        )
    location = response.headers["location"]
    assert location.startswith(platform.redirect_uri)
    assert query_of(location)["error"] == "invalid_request"
    assert "code" not in query_of(location)


async def test_basic_with_the_same_client_id_in_the_body_is_still_accepted(
    sso: FastAPI,
) -> None:
    """Many client libraries send ``client_id`` in the body next to Basic: that is one method."""
    platform = await make_client(sso, grant_types=["client_credentials"])
    async with browser(sso) as http:
        response: httpx.Response = await http.post(
            "/token",
            data={"grant_type": "client_credentials", "client_id": platform.client_id},
            auth=basic(platform),
        )
    assert response.status_code == 200, response.text
