"""The admin HTTP API, for holders of an access token with the ``admin`` role issued for it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.sso_gateway.support import admin_api_token, browser, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_admin_registers_a_client_and_gets_its_secret_once(sso: FastAPI) -> None:
    token = await admin_api_token(sso, ["admin"])
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
    token = await admin_api_token(sso, ["admin"])
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
    token = await admin_api_token(sso, ["learner"])
    async with browser(sso) as http:
        forbidden = await http.get("/admin/backchannel-logout/undelivered", headers=bearer(token))
        anonymous = await http.get("/admin/backchannel-logout/undelivered")
    assert forbidden.status_code == 403
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"


async def test_admin_sees_undelivered_back_channel_logouts(sso: FastAPI) -> None:
    token = await admin_api_token(sso, ["admin"])
    async with browser(sso) as http:
        response = await http.get("/admin/backchannel-logout/undelivered", headers=bearer(token))
    assert response.status_code == 200
    assert isinstance(response.json(), list)
