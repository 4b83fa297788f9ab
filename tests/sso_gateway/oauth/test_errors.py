"""Every error case of RFC 6749 §4.1.2.1 (authorization endpoint) and §5.2 (token endpoint)."""

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
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_unregistered_redirect_uri_is_never_redirected_to(sso: FastAPI) -> None:
    platform = await make_client(sso)
    async with browser(sso) as http:
        response = await http.get(
            authorize_url(platform, "v" * 43, redirect_uri="https://evil.example/cb")
        )
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "invalid_request" in response.text


async def test_unknown_client_gets_an_error_page_not_a_redirect(sso: FastAPI) -> None:
    platform = await make_client(sso)
    platform.client_id = "no-such-client"
    async with browser(sso) as http:
        response = await http.get(authorize_url(platform, "v" * 43))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "invalid_client" in response.text


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": ""}, "invalid_request"),
        ({"scope": "openid", "prompt": "none"}, "login_required"),
    ],
    ids=["unsupported-response-type", "pkce-plain-refused", "pkce-method-missing", "prompt-none"],
)
async def test_authorization_errors_go_back_to_the_registered_uri_with_state(
    sso: FastAPI, overrides: dict[str, str], error: str
) -> None:
    platform = await make_client(sso)
    async with browser(sso) as http:
        response = await http.get(authorize_url(platform, "v" * 43, **overrides))
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(platform.redirect_uri)
    assert query_of(location)["error"] == error
    assert query_of(location)["state"] == "st-1"


async def test_public_client_without_pkce_is_refused(sso: FastAPI) -> None:
    platform = await make_client(sso, public=True)
    async with browser(sso) as http:
        response = await http.get(
            authorize_url(platform, "v", code_challenge="", code_challenge_method="")
        )
    assert query_of(response.headers["location"])["error"] == "invalid_request"


async def test_wrong_client_secret_is_invalid_client_401(sso: FastAPI) -> None:
    platform = await make_client(sso)
    verifier = generate_token(48)
    code = await get_code(sso, platform, verifier)
    async with browser(sso) as http:
        response = await http.post(
            "/token", data=redeem(platform, code, verifier), auth=basic(platform, "vigie_cs_bad")
        )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "WWW-Authenticate" in response.headers


async def test_unknown_client_at_the_token_endpoint_is_invalid_client(sso: FastAPI) -> None:
    async with browser(sso) as http:
        response = await http.post(
            "/token",
            data={"grant_type": "client_credentials"},
            auth=httpx.BasicAuth("no-such-client", "vigie_cs_x"),
        )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_bad_code_verifier_is_invalid_grant(sso: FastAPI) -> None:
    platform = await make_client(sso)
    verifier = generate_token(48)
    code = await get_code(sso, platform, verifier)
    async with browser(sso) as http:
        response = await http.post(
            "/token",
            data=redeem(platform, code, verifier, code_verifier=generate_token(48)),
            auth=basic(platform),
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_missing_code_verifier_is_invalid_request(sso: FastAPI) -> None:
    platform = await make_client(sso)
    verifier = generate_token(48)
    code = await get_code(sso, platform, verifier)
    data = redeem(platform, code, verifier)
    del data["code_verifier"]
    async with browser(sso) as http:
        response = await http.post("/token", data=data, auth=basic(platform))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_reused_code_is_refused_and_revokes_what_it_gave(sso: FastAPI) -> None:
    platform = await make_client(sso)
    verifier = generate_token(48)
    code = await get_code(sso, platform, verifier)
    async with browser(sso) as http:
        first = await http.post(
            "/token", data=redeem(platform, code, verifier), auth=basic(platform)
        )
        assert first.status_code == 200
        second = await http.post(
            "/token", data=redeem(platform, code, verifier), auth=basic(platform)
        )
        assert second.status_code == 400
        assert second.json()["error"] == "invalid_grant"
        introspected = await http.post(
            "/introspect", data={"token": first.json()["access_token"]}, auth=basic(platform)
        )
    assert introspected.json() == {"active": False}


async def test_expired_code_is_invalid_grant(sso: FastAPI) -> None:
    platform = await make_client(sso)
    verifier = generate_token(48)
    code = await get_code(sso, platform, verifier)
    async with sso.state.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE authorization_codes SET expires_at = now() - interval '1 s'"
            " WHERE client_id = $1",
            platform.client_id,
        )
    async with browser(sso) as http:
        response = await http.post(
            "/token", data=redeem(platform, code, verifier), auth=basic(platform)
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_redirect_uri_differing_from_the_authorization_request_is_invalid_grant(
    sso: FastAPI,
) -> None:
    platform = await make_client(sso)
    verifier = generate_token(48)
    code = await get_code(sso, platform, verifier)
    async with browser(sso) as http:
        response = await http.post(
            "/token",
            data=redeem(platform, code, verifier, redirect_uri="https://other.example/cb"),
            auth=basic(platform),
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_code_issued_to_another_client_is_invalid_grant(sso: FastAPI) -> None:
    platform, other = await make_client(sso), await make_client(sso)
    verifier = generate_token(48)
    code = await get_code(sso, platform, verifier)
    async with browser(sso) as http:
        response = await http.post(
            "/token",
            data=redeem(platform, code, verifier, redirect_uri=other.redirect_uri),
            auth=basic(other),
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"grant_type": "password", "username": "x", "password": "y"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, "invalid_request"),
        ({"grant_type": "client_credentials"}, "unauthorized_client"),
        ({"grant_type": "refresh_token", "refresh_token": "vigie_rt_nope"}, "invalid_grant"),
    ],
    ids=["unsupported-grant", "missing-code", "grant-not-allowed", "unknown-refresh-token"],
)
async def test_token_endpoint_errors(sso: FastAPI, data: dict[str, str], error: str) -> None:
    platform = await make_client(sso)
    async with browser(sso) as http:
        response = await http.post("/token", data=data, auth=basic(platform))
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"
