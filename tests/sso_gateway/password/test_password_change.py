"""A learner changes their password from the gateway's page: the old one stops working, their
other sessions end, and each Shared Signals receiver gets one CAEP credential-change (and a
session-revoked per session ended), checked with joserfc against the published JWKS."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.sso_gateway.signals.support import (
    CREDENTIAL_CHANGE,
    SESSION_REVOKED,
    Receiver,
    create_stream,
    event_of,
    make_receiver,
    poll,
    verify_set,
)
from tests.sso_gateway.support import Account, browser, csrf_of, make_user, submit

pytestmark = pytest.mark.asyncio(loop_scope="session")

NEW_PASSWORD = "a brand new passphrase for Léa"


@contextlib.asynccontextmanager
async def signed_in_browser(sso: FastAPI, account: Account) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(sso) as http:
        response = await submit(http, account.username, account.password)
        assert response.status_code == 303, response.text
        yield http


async def change(http: httpx.AsyncClient, **fields: str) -> httpx.Response:
    page = await http.get("/password")
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf_of(page.text), "confirmation": fields.get("new_password", "")}
    data.update(fields)
    return await http.post("/password", data=data)


async def signed_in(http: httpx.AsyncClient) -> bool:
    return (await http.get("/")).status_code == 200


async def every_set(sso: FastAPI, receiver: Receiver, stream: dict[str, Any]) -> list[Any]:
    answer = await poll(sso, receiver, stream, maxEvents=100)
    await poll(sso, receiver, stream, ack=list(answer["sets"]), maxEvents=0)
    return [await verify_set(sso, t, receiver.client_id) for t in answer["sets"].values()]


async def test_a_password_change_ends_the_other_sessions_and_sends_one_credential_change(
    sso: FastAPI,
) -> None:
    receiver = await make_receiver(sso)
    stream = await create_stream(sso, receiver)
    account = await make_user(sso)
    async with (
        signed_in_browser(sso, account) as here,
        signed_in_browser(sso, account) as elsewhere,
    ):
        other_session = await sso.state.runtime.pool.fetchval(
            "SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL"
            " ORDER BY auth_time DESC LIMIT 1",
            account.id,
        )
        done = await change(here, current_password=account.password, new_password=NEW_PASSWORD)
        assert done.status_code == 200, done.text
        assert "Votre mot de passe est modifié." in done.text
        assert "Vos autres sessions sont fermées : 1." in done.text
        assert await signed_in(here)
        assert not await signed_in(elsewhere)
    async with browser(sso) as http:
        assert (await submit(http, account.username, account.password)).status_code == 200
        assert (await submit(http, account.username, NEW_PASSWORD)).status_code == 303
    claims = await every_set(sso, receiver, stream)
    assert sorted(event_of(c)[0] for c in claims) == [CREDENTIAL_CHANGE, SESSION_REVOKED]
    (changed,) = [c for c in claims if event_of(c)[0] == CREDENTIAL_CHANGE]
    (revoked,) = [c for c in claims if event_of(c)[0] == SESSION_REVOKED]
    assert changed["sub_id"] == {"format": "iss_sub", "iss": changed["iss"], "sub": account.id}
    payload = event_of(changed)[1]
    assert (payload["credential_type"], payload["change_type"]) == ("password", "update")
    assert payload["initiating_entity"] == "user"
    assert payload["reason_user"] == {
        "en": "You changed your password.",
        "fr": "Vous avez changé votre mot de passe.",
    }
    assert revoked["sub_id"]["session"]["id"] == other_session
    assert event_of(revoked)[1]["reason_admin"]["en"].startswith("Session revoked: the user")
    # One change: both SETs carry its transaction.
    assert changed["txn"] == revoked["txn"]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (
            {"current_password": "not my password", "new_password": NEW_PASSWORD},
            "Votre mot de passe actuel est incorrect.",
        ),
        (
            {"new_password": NEW_PASSWORD, "confirmation": NEW_PASSWORD + "!"},
            "Les deux nouveaux mots de passe diffèrent.",
        ),
        ({"new_password": "short"}, "au moins 12 caractères"),
    ],
)
async def test_a_refused_change_changes_nothing_and_sends_nothing(
    sso: FastAPI, fields: dict[str, str], error: str
) -> None:
    receiver = await make_receiver(sso)
    stream = await create_stream(sso, receiver)
    account = await make_user(sso)
    fields = {"current_password": account.password, **fields}
    async with (
        signed_in_browser(sso, account) as here,
        signed_in_browser(sso, account) as elsewhere,
    ):
        refused = await change(here, **fields)
        assert refused.status_code == 400
        assert error in refused.text
        assert await signed_in(elsewhere)
    async with browser(sso) as http:
        assert (await submit(http, account.username, account.password)).status_code == 303
    assert await every_set(sso, receiver, stream) == []


async def test_a_change_without_the_pages_csrf_token_is_refused(sso: FastAPI) -> None:
    account = await make_user(sso)
    async with signed_in_browser(sso, account) as here:
        await here.get("/password")
        refused = await here.post(
            "/password",
            data={
                "current_password": account.password,
                "new_password": NEW_PASSWORD,
                "confirmation": NEW_PASSWORD,
            },
        )
        assert refused.status_code == 403
        forged = await here.post(
            "/password",
            data={"csrf_token": csrf_of((await here.get("/password")).text)},
            headers={"Origin": "https://evil.example"},
        )
        assert forged.status_code == 403
    async with browser(sso) as http:
        assert (await submit(http, account.username, account.password)).status_code == 303


async def test_the_page_asks_for_a_login_first_and_comes_back_to_it(sso: FastAPI) -> None:
    account = await make_user(sso)
    async with browser(sso) as http:
        landed = await http.get("/password", params={"lang": "en"})
        assert landed.status_code == 303
        assert landed.headers["location"] == "/login?next=%2Fpassword"
        form = await http.get(landed.headers["location"])
        back = await http.post(
            "/login",
            data={
                "identifier": account.username,
                "password": account.password,
                "csrf_token": csrf_of(form.text),
                "next": "/password",
            },
        )
        assert back.headers["location"] == "/password"
        page = await http.get("/password", params={"lang": "en"})
        assert "Change your password" in page.text
        assert 'autocomplete="current-password"' in page.text
        assert (await http.post("/password", data={})).status_code == 403


async def test_wrong_current_passwords_are_throttled_like_logins(sso: FastAPI) -> None:
    account = await make_user(sso)
    limit = sso.state.provider.settings.login_max_failures_per_account
    wrong = {"current_password": "a guess", "new_password": NEW_PASSWORD}
    async with signed_in_browser(sso, account) as here:
        for _ in range(limit):
            assert (await change(here, **wrong)).status_code == 400
        throttled = await change(here, current_password=account.password, new_password=NEW_PASSWORD)
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) > 0
        assert "Trop de tentatives." in throttled.text
    # Nothing changed: the right current password was not even checked.
    stored = await sso.state.runtime.pool.fetchval(
        "SELECT count(*) FROM login_attempts WHERE identifier = $1", f"password:{account.id}"
    )
    assert stored == limit
