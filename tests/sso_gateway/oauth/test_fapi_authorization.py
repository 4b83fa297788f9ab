"""The authorization side of the FAPI 2.0 Security Profile (§5.3.2.2) for FAPI clients: PAR
only, PKCE S256, redirect_uri in the push, response_mode query, codes of 60 seconds at most;
and RFC 9207's ``iss`` in every authorization response, for every client."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from secrets import token_urlsafe as generate_token

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import ECKey

from sso_gateway import crypto
from tests.sso_gateway.oauth.test_par import par_url, push, pushed_parameters, pushed_url, sign_in
from tests.sso_gateway.oauth.test_private_key_jwt import (
    assertion,
    authenticated,
    ec_key,
    fapi_client,
)
from tests.sso_gateway.support import (
    ISSUER,
    Platform,
    authorize_url,
    browser,
    login_through_form,
    make_client,
    make_user,
    query_of,
    return_link,
    suspend_by_hand,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass(frozen=True)
class Fapi:
    """A FAPI client as ``vigie client add --fapi`` registers it (private_key_jwt), and its key."""

    platform: Platform
    key: ECKey


@pytest.fixture
async def fapi(sso: FastAPI) -> Fapi:
    key = ec_key()
    return Fapi(await fapi_client(sso, key), key)


async def fapi_push(
    http: httpx.AsyncClient, fapi: Fapi, verifier: str, **overrides: str
) -> httpx.Response:
    """``fapi`` pushes its request, authenticated by an assertion for the PAR endpoint."""
    data = pushed_parameters(fapi.platform, verifier, **overrides)
    signed = assertion(fapi.platform.client_id, fapi.key, aud=f"{ISSUER}/par")
    return await http.post("/par", data={**data, **authenticated(signed)})


async def code_lifetime(sso: FastAPI, code: str) -> timedelta:
    code_hash = crypto.keyed_hash(sso.state.provider.settings.secret_key, code)
    async with sso.state.runtime.pool.acquire() as conn:
        left: timedelta = await conn.fetchval(
            "SELECT expires_at - now() FROM authorization_codes WHERE code_hash = $1", code_hash
        )
    return left


async def test_fapi_push_without_pkce_s256_is_refused(sso: FastAPI, fapi: Fapi) -> None:
    async with browser(sso) as http:
        without = await fapi_push(
            http, fapi, generate_token(48), code_challenge="", code_challenge_method=""
        )
        plain = await fapi_push(http, fapi, generate_token(48), code_challenge_method="plain")
        s256 = await fapi_push(http, fapi, generate_token(48))
    for refused in (without, plain):
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "invalid_request"
    assert s256.status_code == 201, s256.text


async def test_fapi_push_must_name_its_redirect_uri(sso: FastAPI, fapi: Fapi) -> None:
    other = await make_client(sso)
    async with browser(sso) as http:
        refused = await fapi_push(http, fapi, generate_token(48), redirect_uri="")
        # Only a FAPI client must: another with one registered URI may leave it out.
        allowed = await push(http, other, generate_token(48), redirect_uri="")
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_request"
    assert allowed.status_code == 201, allowed.text


async def test_fapi_response_mode_is_query_only(sso: FastAPI, fapi: Fapi) -> None:
    async with browser(sso) as http:
        fragment = await fapi_push(http, fapi, generate_token(48), response_mode="fragment")
        form_post = await fapi_push(http, fapi, generate_token(48), response_mode="form_post")
        query = await fapi_push(http, fapi, generate_token(48), response_mode="query")
    for refused in (fragment, form_post):
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "invalid_request"
    assert query.status_code == 201, query.text


async def test_fapi_client_must_push_its_requests(sso: FastAPI, fapi: Fapi) -> None:
    async with browser(sso) as http:
        refused = await http.get(authorize_url(fapi.platform, generate_token(48)))
    answer = query_of(refused.headers["location"])
    assert answer["error"] == "invalid_request"
    assert answer["error_description"] == "pushed authorization request required"


async def test_fapi_code_lives_60_seconds_whatever_code_ttl_says(
    sso: FastAPI, fapi: Fapi, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = sso.state.provider
    longer = provider.settings.model_copy(update={"code_ttl": 600})
    monkeypatch.setattr(provider, "settings", longer)
    other = await make_client(sso)
    async with browser(sso) as http:
        pushed = await fapi_push(http, fapi, generate_token(48))
        assert pushed.status_code == 201, pushed.text
        landed = await sign_in(
            sso, http, par_url(fapi.platform.client_id, pushed.json()["request_uri"])
        )
    async with browser(sso) as http:
        usual = await sign_in(sso, http, await pushed_url(http, other, generate_token(48)))
    assert await code_lifetime(sso, query_of(landed.headers["location"])["code"]) <= timedelta(
        seconds=60
    )
    assert await code_lifetime(sso, query_of(usual.headers["location"])["code"]) > timedelta(
        seconds=500
    )


async def test_iss_in_the_code_response(sso: FastAPI) -> None:
    platform = await make_client(sso)
    async with browser(sso) as http:
        landed = await sign_in(sso, http, authorize_url(platform, generate_token(48)))
    answer = query_of(landed.headers["location"])
    assert "code" in answer
    assert answer["iss"] == ISSUER


async def test_iss_in_error_responses(sso: FastAPI) -> None:
    platform = await make_client(sso)
    async with browser(sso) as http:
        direct = await http.get(authorize_url(platform, generate_token(48), prompt="none"))
        pushed = await push(http, platform, generate_token(48), prompt="none")
        by_push = await http.get(par_url(platform.client_id, pushed.json()["request_uri"]))
        bad_prompt = await http.get(
            authorize_url(platform, generate_token(48), prompt="none login", state="st-2")
        )
    for refused in (direct, by_push):
        answer = query_of(refused.headers["location"])
        assert answer["error"] == "login_required"
        assert answer["iss"] == ISSUER
    assert query_of(bad_prompt.headers["location"])["error"] == "invalid_request"
    assert query_of(bad_prompt.headers["location"])["iss"] == ISSUER


async def test_iss_on_the_suspended_learners_way_back(sso: FastAPI) -> None:
    platform = await make_client(sso)
    account = await make_user(sso)
    await suspend_by_hand(sso, account)
    async with browser(sso) as http:
        page = await login_through_form(http, authorize_url(platform, generate_token(48)), account)
        at_once = await http.get(authorize_url(platform, generate_token(48), prompt="none"))
    assert page.status_code == 403, page.text
    assert query_of(return_link(page.text))["iss"] == ISSUER
    answer = query_of(at_once.headers["location"])
    assert answer["error"] == "access_denied"
    assert answer["iss"] == ISSUER
