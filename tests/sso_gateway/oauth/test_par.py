"""Pushed authorization requests (RFC 9126): the PAR endpoint, the request_uri at /authorize
(one use, its client only, not past its lifetime), and clients or a server that accept no
other way in."""

from __future__ import annotations

from secrets import token_urlsafe as generate_token
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from sso_gateway import crypto
from tests.sso_gateway.support import (
    ISSUER,
    Platform,
    authorize_url,
    basic,
    browser,
    login_through_form,
    make_client,
    make_user,
    query_of,
    redeem,
    s256,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"


def pushed_parameters(platform: Platform, verifier: str, **overrides: str) -> dict[str, str]:
    """An authorization request of ``platform`` (code, PKCE S256) as a form to push; an
    override of ``""`` leaves that parameter out."""
    params = {
        "response_type": "code",
        "redirect_uri": platform.redirect_uri,
        "scope": "openid profile",
        "state": "st-pushed",
        "nonce": generate_token(12),
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v != ""}


async def push(
    http: httpx.AsyncClient, platform: Platform, verifier: str, **overrides: str
) -> httpx.Response:
    """``platform`` pushes its request, authenticated with its secret (Basic) if it has one."""
    data = pushed_parameters(platform, verifier, **overrides)
    if platform.client_secret:
        return await http.post("/par", data=data, auth=basic(platform))
    # A public client names itself (RFC 6749 §2.3: no credentials).
    return await http.post("/par", data={**data, "client_id": platform.client_id})


async def pushed_url(http: httpx.AsyncClient, platform: Platform, verifier: str) -> str:
    """The /authorize URL of a request ``platform`` has just pushed."""
    response = await push(http, platform, verifier)
    assert response.status_code == 201, response.text
    return par_url(platform.client_id, response.json()["request_uri"])


def par_url(client_id: str, request_uri: str, **beside: str) -> str:
    return "/authorize?" + urlencode({"client_id": client_id, "request_uri": request_uri, **beside})


async def sign_in(sso: FastAPI, http: httpx.AsyncClient, url: str) -> httpx.Response:
    """A new person signs in through ``url``: the gateway's last answer (to the platform)."""
    return await login_through_form(http, url, await make_user(sso))


def error_code_of(page: httpx.Response) -> str:
    """The OAuth error code an error page shows (it redirects nowhere)."""
    assert page.status_code == 400, page.text
    assert "location" not in page.headers
    return page.text.split("<code>", 1)[1].split("</code>", 1)[0]


async def expire(sso: FastAPI, request_uri: str) -> None:
    """The pushed request's lifetime (RFC 9126 §2.2) is over."""
    uri_hash = crypto.keyed_hash(sso.state.provider.settings.secret_key, request_uri)
    async with sso.state.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE pushed_requests SET expires_at = now() - interval '1 second'"
            " WHERE uri_hash = $1",
            uri_hash,
        )


async def stored(sso: FastAPI, request_uri: str) -> bool:
    uri_hash = crypto.keyed_hash(sso.state.provider.settings.secret_key, request_uri)
    async with sso.state.runtime.pool.acquire() as conn:
        found: bool = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pushed_requests WHERE uri_hash = $1)", uri_hash
        )
    return found


async def test_pushed_request_leads_through_login_to_a_code_and_tokens(sso: FastAPI) -> None:
    platform = await make_client(sso, require_pushed_authorization_requests=True)
    verifier = generate_token(48)
    async with browser(sso) as http:
        response = await push(http, platform, verifier)
        assert response.status_code == 201, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert body["expires_in"] == sso.state.provider.settings.par_request_uri_ttl
        request_uri = body["request_uri"]
        assert request_uri.startswith(REQUEST_URI_PREFIX)
        assert len(request_uri) > len(REQUEST_URI_PREFIX) + 40
        # Only a keyed hash of it is stored.
        async with sso.state.runtime.pool.acquire() as conn:
            assert not await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pushed_requests WHERE uri_hash = $1)", request_uri
            )
        assert await stored(sso, request_uri)

        url = par_url(platform.client_id, request_uri)
        to_login = await http.get(url)
        # The login page comes back by client_id and request_uri alone (RFC 9126 §4).
        next_url = parse_qs(urlsplit(to_login.headers["location"]).query)["next"][0]
        assert query_of(next_url) == {"client_id": platform.client_id, "request_uri": request_uri}
        landed = await sign_in(sso, http, url)
        callback = landed.headers["location"]
        assert callback.startswith(platform.redirect_uri + "?")
        answer = query_of(callback)
        assert answer["state"] == "st-pushed"
        assert answer["iss"] == ISSUER
        token = await http.post(
            "/token", data=redeem(platform, answer["code"], verifier), auth=basic(platform)
        )
    assert token.status_code == 200, token.text
    assert {"access_token", "id_token", "refresh_token"} <= set(token.json())


async def test_public_client_pushes_with_its_client_id(sso: FastAPI) -> None:
    platform = await make_client(sso, public=True)
    async with browser(sso) as http:
        response = await push(http, platform, generate_token(48))
    assert response.status_code == 201, response.text


async def test_parameters_beside_request_uri_are_ignored(sso: FastAPI) -> None:
    """RFC 9126 §4: the pushed request is what is answered, whatever the browser adds."""
    pushed_to, other = "https://b.example.org/cb", "https://a.example.org/cb"
    registered = await make_client(sso, redirect_uris=[other, pushed_to])
    platform = Platform(registered.client_id, registered.client_secret, pushed_to, "")
    verifier = generate_token(48)
    async with browser(sso) as http:
        pushed = await push(http, platform, verifier)
        url = par_url(
            platform.client_id,
            pushed.json()["request_uri"],
            state="st-browser",
            redirect_uri=other,
            scope="openid email",
        )
        landed = await sign_in(sso, http, url)
    callback = landed.headers["location"]
    assert callback.startswith(pushed_to + "?")
    assert query_of(callback)["state"] == "st-pushed"


async def test_request_uri_is_refused_once_used(sso: FastAPI) -> None:
    platform = await make_client(sso)
    async with browser(sso) as http:
        url = await pushed_url(http, platform, generate_token(48))
        landed = await sign_in(sso, http, url)
        assert "code" in query_of(landed.headers["location"])
        # The same browser, still signed in: a second code would come at once.
        again = await http.get(url)
    assert error_code_of(again) == "invalid_request_uri"


async def test_error_sent_back_uses_the_request_uri_up(sso: FastAPI) -> None:
    """An error redirect is an authorization response too (RFC 9126 §4: used once)."""
    platform = await make_client(sso)
    async with browser(sso) as http:
        pushed = await push(http, platform, generate_token(48), prompt="none")
        url = par_url(platform.client_id, pushed.json()["request_uri"])
        refused = await http.get(url)
        assert query_of(refused.headers["location"])["error"] == "login_required"
        again = await http.get(url)
    assert error_code_of(again) == "invalid_request_uri"


async def test_expired_request_uri_is_refused(sso: FastAPI) -> None:
    platform = await make_client(sso)
    async with browser(sso) as http:
        pushed = await push(http, platform, generate_token(48))
        request_uri = pushed.json()["request_uri"]
        await expire(sso, request_uri)
        page = await http.get(par_url(platform.client_id, request_uri))
    assert error_code_of(page) == "invalid_request_uri"


async def test_expired_pushed_requests_are_deleted_by_later_pushes(sso: FastAPI) -> None:
    platform = await make_client(sso)
    async with browser(sso) as http:
        first = (await push(http, platform, generate_token(48))).json()["request_uri"]
        await expire(sso, first)
        assert await stored(sso, first)
        second = (await push(http, platform, generate_token(48))).json()["request_uri"]
    assert not await stored(sso, first)
    assert await stored(sso, second)


async def test_another_clients_request_uri_is_refused(sso: FastAPI) -> None:
    owner = await make_client(sso)
    other = await make_client(sso)
    async with browser(sso) as http:
        pushed = await push(http, owner, generate_token(48))
        request_uri = pushed.json()["request_uri"]
        page = await http.get(par_url(other.client_id, request_uri))
        assert error_code_of(page) == "invalid_request_uri"
        unknown = await http.get(par_url(owner.client_id, REQUEST_URI_PREFIX + "guessed"))
        assert error_code_of(unknown) == "invalid_request_uri"
        # The owner's request is still good.
        landed = await sign_in(sso, http, par_url(owner.client_id, request_uri))
    assert "code" in query_of(landed.headers["location"])


async def test_request_uri_without_client_id_is_refused(sso: FastAPI) -> None:
    platform = await make_client(sso)
    async with browser(sso) as http:
        pushed = await push(http, platform, generate_token(48))
        query = urlencode({"request_uri": pushed.json()["request_uri"]})
        page = await http.get(f"/authorize?{query}")
    assert error_code_of(page) == "invalid_request"


async def test_par_only_client_is_refused_without_a_push(sso: FastAPI) -> None:
    """RFC 9126 §4: ``invalid_request``, sent back to the registered redirect URI (verified
    exactly, RFC 6749 §4.1.2.1), before any login is asked for."""
    platform = await make_client(sso, require_pushed_authorization_requests=True)
    async with browser(sso) as http:
        refused = await http.get(authorize_url(platform, generate_token(48)))
        unregistered = await http.get(
            authorize_url(platform, generate_token(48), redirect_uri="https://evil.example/cb")
        )
    callback = refused.headers["location"]
    assert callback.startswith(platform.redirect_uri + "?")
    answer = query_of(callback)
    assert answer["error"] == "invalid_request"
    assert answer["error_description"] == "pushed authorization request required"
    assert answer["state"] == "st-1"
    assert answer["iss"] == ISSUER
    assert error_code_of(unregistered) == "invalid_request"


async def test_server_wide_setting_requires_every_client_to_push(
    sso: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = sso.state.provider
    monkeypatch.setattr(
        provider,
        "settings",
        provider.settings.model_copy(update={"require_pushed_authorization_requests": True}),
    )
    platform = await make_client(sso)
    verifier = generate_token(48)
    async with browser(sso) as http:
        refused = await http.get(authorize_url(platform, verifier))
        doc = (await http.get("/.well-known/openid-configuration")).json()
        landed = await sign_in(sso, http, await pushed_url(http, platform, verifier))
    assert query_of(refused.headers["location"])["error"] == "invalid_request"
    assert doc["require_pushed_authorization_requests"] is True
    assert "code" in query_of(landed.headers["location"])


async def test_a_client_not_required_to_push_may_still_send_its_request_directly(
    sso: FastAPI,
) -> None:
    platform = await make_client(sso)
    async with browser(sso) as http:
        landed = await sign_in(sso, http, authorize_url(platform, generate_token(48)))
    assert "code" in query_of(landed.headers["location"])


BAD_PUSHES: list[tuple[str, dict[str, str], int, str]] = [
    ("request_uri inside a push (§2.1)", {"request_uri": REQUEST_URI_PREFIX + "x"}, 400,
     "invalid_request"),
    ("a request object (JAR)", {"request": "eyJhbGciOiJub25lIn0.e30."}, 400,
     "request_not_supported"),
    ("unregistered redirect_uri", {"redirect_uri": "https://evil.example/cb"}, 400,
     "invalid_request"),
    ("implicit flow", {"response_type": "token"}, 400, "unsupported_response_type"),
    ("no response_type", {"response_type": ""}, 400, "unsupported_response_type"),
    ("no PKCE", {"code_challenge": "", "code_challenge_method": ""}, 400, "invalid_request"),
    ("PKCE plain", {"code_challenge_method": "plain"}, 400, "invalid_request"),
    ("a resource it may not have", {"resource": "https://elsewhere.example"}, 400,
     "invalid_target"),
    ("twice the state", {}, 400, "invalid_request"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "overrides", "status", "error"), BAD_PUSHES, ids=[c[0] for c in BAD_PUSHES]
)
async def test_bad_push_is_refused_with_a_json_error(
    sso: FastAPI, case: str, overrides: dict[str, str], status: int, error: str
) -> None:
    platform = await make_client(sso)
    pairs = list(pushed_parameters(platform, generate_token(48), **overrides).items())
    if case == "twice the state":
        pairs.append(("state", "other"))
    async with browser(sso) as http:
        response = await http.post(
            "/par",
            content=urlencode(pairs),
            headers={"content-type": "application/x-www-form-urlencoded"},
            auth=basic(platform),
        )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "location" not in response.headers
    assert response.json()["error"] == error


async def test_push_without_client_authentication_is_refused(sso: FastAPI) -> None:
    platform = await make_client(sso)
    verifier = generate_token(48)
    data = pushed_parameters(platform, verifier)
    async with browser(sso) as http:
        anonymous = await http.post("/par", data={**data, "client_id": platform.client_id})
        wrong = await http.post("/par", data=data, auth=basic(platform, "vigie_cs_wrong"))
        other = await make_client(sso)
        mixed = await http.post(
            "/par", data={**data, "client_id": other.client_id}, auth=basic(platform)
        )
        in_query = await http.post(f"/par?{urlencode(data)}", auth=basic(platform))
    for refused in (anonymous, wrong):
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"] == "invalid_client"
    assert mixed.status_code == 400
    assert mixed.json()["error"] == "invalid_request"
    assert in_query.status_code == 400
    assert in_query.json()["error"] == "invalid_request"


async def test_par_endpoint_only_takes_posts(sso: FastAPI) -> None:
    async with browser(sso) as http:
        response = await http.get("/par")
    assert response.status_code == 405


async def test_login_continuation_of_a_pushed_request_is_not_a_loop(sso: FastAPI) -> None:
    """prompt=login and max_age=0 are answered by the login the push led to."""
    platform = await make_client(sso)
    account = await make_user(sso)
    async with browser(sso) as http:
        await login_through_form(http, authorize_url(platform, generate_token(48)), account)
        pushed = await push(http, platform, generate_token(48), prompt="login", max_age="0")
        url = par_url(platform.client_id, pushed.json()["request_uri"])
        # Signed in already: prompt=login still asks for a login ...
        to_login = await http.get(url)
        assert urlsplit(to_login.headers["location"]).path == "/login"
        landed = await login_through_form(http, url, account)
        # ... and once signed in after the push, the code comes.
        assert "code" in query_of(landed.headers["location"])
