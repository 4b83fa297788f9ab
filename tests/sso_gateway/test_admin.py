"""The admin HTTP API, for holders of an access token with the ``admin`` role."""

from __future__ import annotations

from secrets import token_urlsafe as generate_token

import httpx
import pytest
from fastapi import FastAPI

from tests.sso_gateway.conftest import (
    browser,
    login_through_form,
    make_client,
    make_user,
    query_of,
    unique,
)
from tests.sso_gateway.test_errors import authorize_url, basic, redeem

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def access_token(app: FastAPI, roles: list[str]) -> str:
    account = await make_user(app, roles=roles)
    platform = await make_client(app)
    verifier = generate_token(48)
    async with browser(app) as http:
        landed = await login_through_form(http, authorize_url(platform, verifier), account)
        code = query_of(landed.headers["location"])["code"]
        response = await http.post(
            "/token", data=redeem(platform, code, verifier), auth=basic(platform)
        )
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_admin_registers_a_client_and_gets_its_secret_once(sso: FastAPI) -> None:
    token = await access_token(sso, ["admin"])
    client_id = unique("api")
    async with browser(sso) as http:
        response = await http.post(
            "/admin/clients",
            json={
                "client_id": client_id,
                "name": "Exam prep",
                "redirect_uris": ["https://prep.example/cb"],
                "grant_types": ["client_credentials"],
            },
            headers=bearer(token),
        )
        assert response.status_code == 201
        secret = response.json()["client_secret"]
        assert secret.startswith("vigie_cs_")
        issued = await http.post(
            "/token",
            data={"grant_type": "client_credentials"},
            auth=httpx.BasicAuth(client_id, secret),
        )
        assert issued.status_code == 200
        again = await http.post(
            "/admin/clients",
            json={"client_id": client_id, "name": "Exam prep"},
            headers=bearer(token),
        )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


async def test_admin_creates_a_user(sso: FastAPI) -> None:
    token = await access_token(sso, ["admin"])
    username = unique("new")
    async with browser(sso) as http:
        response = await http.post(
            "/admin/users",
            json={
                "username": username,
                "email": f"{username}@example.org",
                "display_name": "Nouvel apprenant",
                "password": "a long enough password",
            },
            headers=bearer(token),
        )
    assert response.status_code == 201
    assert response.json()["roles"] == ["learner"]


async def test_admin_api_refuses_learners_and_anonymous_callers(sso: FastAPI) -> None:
    token = await access_token(sso, ["learner"])
    async with browser(sso) as http:
        forbidden = await http.get("/admin/backchannel-logout/undelivered", headers=bearer(token))
        anonymous = await http.get("/admin/backchannel-logout/undelivered")
    assert forbidden.status_code == 403
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"


async def test_admin_sees_undelivered_back_channel_logouts(sso: FastAPI) -> None:
    token = await access_token(sso, ["admin"])
    async with browser(sso) as http:
        response = await http.get("/admin/backchannel-logout/undelivered", headers=bearer(token))
    assert response.status_code == 200
    assert isinstance(response.json(), list)
