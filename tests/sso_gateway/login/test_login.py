"""The login page: accessible form in French (English available), CSRF, session cookie,
argon2id, throttling without user enumeration, and the events it publishes."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.responses import Response

from sso_gateway.config import Settings
from sso_gateway.login.pages import set_session_cookie
from sso_gateway.users.repository import user_repository
from sso_gateway.users.service import password_hasher
from tests.sso_gateway.support import (
    Account,
    authorize_url,
    browser,
    csrf_of,
    events_about,
    login_through_form,
    make_client,
    make_user,
    submit,
    unique,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_login_page_is_french_by_default_with_labelled_fields(sso: FastAPI) -> None:
    async with browser(sso) as http:
        page = await http.get("/login")
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    assert "Mot de passe" in page.text
    for field in ("identifier", "password"):
        assert f'<label for="{field}">' in page.text
        assert re.search(rf'<input id="{field}" name="{field}"', page.text)
    assert page.headers["x-frame-options"] == "DENY"
    assert "httponly" in page.headers["set-cookie"].lower()


async def test_login_page_in_english_on_request(sso: FastAPI) -> None:
    async with browser(sso) as http:
        page = await http.get("/login", params={"lang": "en"})
    assert '<html lang="en">' in page.text
    assert "Password" in page.text


async def test_successful_login_sets_an_httponly_lax_session_cookie(sso: FastAPI) -> None:
    account = await make_user(sso)
    async with browser(sso) as http:
        response = await submit(http, account.email, account.password)
    assert response.status_code == 303
    cookie = [c for c in response.headers.get_list("set-cookie") if c.startswith("vigie_sso=")]
    assert cookie
    assert "httponly" in cookie[0].lower()
    assert "samesite=lax" in cookie[0].lower()
    assert "vigie_st_" in cookie[0]


async def test_session_cookie_is_secure_outside_development() -> None:
    response = Response()
    set_session_cookie(response, Settings(env="production", secret_key="s" * 40), "vigie_st_x")
    assert "secure" in response.headers["set-cookie"].lower()


async def test_login_without_the_csrf_token_is_refused(sso: FastAPI) -> None:
    account = await make_user(sso)
    async with browser(sso) as http:
        await http.get("/login")
        response = await http.post(
            "/login",
            data={"identifier": account.username, "password": account.password, "next": "/"},
        )
    assert response.status_code == 403
    assert "vigie_sso=" not in response.headers.get("set-cookie", "")


async def test_wrong_password_and_unknown_account_look_the_same(sso: FastAPI) -> None:
    account = await make_user(sso)
    async with browser(sso) as http:
        wrong = await submit(http, account.username, "not the password at all")
        unknown = await submit(http, unique("nobody"), "not the password at all")
    assert wrong.status_code == unknown.status_code == 200
    message = "Identifiant ou mot de passe incorrect."
    assert message in wrong.text
    assert message in unknown.text


async def test_repeated_failures_throttle_the_account_even_with_the_right_password(
    sso: FastAPI,
) -> None:
    account = await make_user(sso)
    limit = sso.state.provider.settings.login_max_failures_per_account
    async with browser(sso) as http:
        for _ in range(limit):
            await submit(http, account.username, "wrong password, again")
        throttled = await submit(http, account.username, account.password)
        unknown = unique("ghost")
        for _ in range(limit):
            await submit(http, unknown, "wrong password, again")
        unknown_throttled = await submit(http, unknown, "wrong password, again")
    assert throttled.status_code == 429
    assert "Trop de tentatives" in throttled.text
    assert "retry-after" in throttled.headers
    assert unknown_throttled.status_code == 429


async def test_throttling_per_ip(database_url: str, kafka: str) -> None:
    from sso_gateway.app import create_app

    app = create_app(
        Settings(
            database_url=database_url,
            kafka_bootstrap=kafka,
            env="development",
            login_max_failures_per_ip=3,
            backchannel_poll_seconds=0,
        )
    )
    async with app.router.lifespan_context(app), browser(app) as http:
        # Failures from this IP in earlier tests count too: any new name is throttled.
        for _ in range(3):
            await submit(http, unique("spray"), "wrong password, again")
        response = await submit(http, unique("spray"), "wrong password, again")
        async with app.state.runtime.pool.acquire() as conn:
            await conn.execute("DELETE FROM login_attempts")
    assert response.status_code == 429


async def test_login_success_and_failure_are_published(sso: FastAPI) -> None:
    account: Account = await make_user(sso)
    platform = await make_client(sso)
    async with browser(sso) as http:
        await submit(http, account.username, "wrong password, again")
        await login_through_form(http, authorize_url(platform, "v" * 43), account)
    events = await events_about(sso, account.id)
    types = [t for t, _ in events]
    assert types == [
        "vigie.sso.user.created",
        "vigie.sso.login.failed",
        "vigie.sso.login.succeeded",
    ]
    assert events[1][1]["reason"] == "bad_credentials"
    assert events[2][1]["client_id"] == platform.client_id
    assert events[2][1]["session_id"].startswith("s-")


async def test_login_follows_only_our_own_authorization_endpoint(sso: FastAPI) -> None:
    account = await make_user(sso)
    async with browser(sso) as http:
        form = await http.get("/login")
        response = await http.post(
            "/login",
            data={
                "identifier": account.username,
                "password": account.password,
                "csrf_token": csrf_of(form.text),
                "next": "https://evil.example/phish",
            },
        )
    assert response.status_code == 303
    assert response.headers["location"] == "/"


async def test_a_login_without_a_platform_lands_on_the_signed_in_page(sso: FastAPI) -> None:
    account = await make_user(sso)
    async with browser(sso) as http:
        assert (await http.get("/")).headers["location"] == "/login"
        await submit(http, account.username, account.password)
        page = await http.get("/")
    assert page.status_code == 200
    assert "Vous êtes connecté, Léa Dupont." in page.text


async def test_a_hash_made_with_other_parameters_verifies_and_is_rehashed_at_login(
    sso: FastAPI,
) -> None:
    account = await make_user(sso)
    stronger = PasswordHasher()  # the library's default: 64 MiB x 3, 4 lanes
    async with sso.state.runtime.pool.acquire() as conn:
        await user_repository.set_password_hash(conn, account.id, stronger.hash(account.password))
    async with browser(sso) as http:
        response = await submit(http, account.username, account.password)
    assert response.status_code == 303
    async with sso.state.runtime.pool.acquire() as conn:
        stored = await conn.fetchval("SELECT password_hash FROM users WHERE id = $1", account.id)
    # OWASP's parameters now, and the same password still opens it.
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert password_hasher.verify(stored, account.password)
