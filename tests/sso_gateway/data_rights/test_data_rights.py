"""The gateway as a data system: the DPO's export, erase, rectify and restrict tasks."""

from __future__ import annotations

import asyncio
import json
import time
from secrets import token_urlsafe as generate_token
from typing import Any

import pytest
from fastapi import FastAPI

from sso_gateway.config import SOURCE
from sso_gateway.data_rights.service import data_system
from tests.sso_gateway.support import (
    Platforms,
    authorize_url,
    basic,
    browser,
    csrf_of,
    deliver,
    events_about,
    make_client,
    make_user,
    signed_in,
    task,
)
from vigie_shared.events import DpoTaskRequested, TaskAction, new_event
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.kafka import Producer

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def answer(app: FastAPI, request: DpoTaskRequested) -> dict[str, Any]:
    """Run the task as the consumer does (in its transaction); return the published result."""
    system = data_system(app.state.provider.settings)
    async with app.state.runtime.pool.acquire() as conn, conn.transaction():
        await system.answer(conn, request, source=SOURCE)
    results = await events_about(app, request.request_id)
    assert len(results) == 1
    kind, data = results[0]
    return {"type": kind, **data}


async def test_a_task_sent_over_kafka_is_answered_through_the_outbox(
    sso: FastAPI, kafka: str
) -> None:
    account = await make_user(sso)
    request = task(TaskAction.EXPORT, account.id)
    producer = Producer(kafka, client_id="test-dpo")
    await producer.start()
    try:
        await producer.send_and_wait(
            encode(new_event(request, subject=request.request_id, source="/vigie/dpo_requests"))
        )
    finally:
        await producer.stop()
    # Generous: a consumer-group rebalance on Tansu under load has taken more than 30 s.
    deadline = time.monotonic() + 90
    results: list[Any] = []
    while time.monotonic() < deadline and not results:
        results = await events_about(sso, request.request_id)
        await asyncio.sleep(0.2)
    assert [t for t, _ in results] == ["vigie.dpo.task.completed"]
    assert results[0][1]["data"]["profile"]["id"] == account.id


async def test_export_gives_profile_login_history_sessions_and_platforms(sso: FastAPI) -> None:
    account = await make_user(sso)
    platform = await make_client(sso)
    async with browser(sso) as http:
        await signed_in(sso, http, platform, account)
    result = await answer(sso, task(TaskAction.EXPORT, account.id))
    assert result["type"] == "vigie.dpo.task.completed"
    data = result["data"]
    assert data["profile"]["email"] == account.email
    assert [h["succeeded"] for h in data["login_history"]] == [True]
    assert len(data["sessions"]) == 1
    assert data["platforms_used"] == [platform.client_id]
    assert data["consents"] == []
    assert "password_hash" not in json.dumps(data)


async def test_erase_anonymises_revokes_and_tells_the_platforms(sso: FastAPI) -> None:
    account = await make_user(sso)
    platform = await make_client(sso, backchannel_logout_uri="https://erase.example/bcl")
    async with browser(sso) as http:
        tokens = await signed_in(sso, http, platform, account)
        result = await answer(sso, task(TaskAction.ERASE, account.id))
        assert result["type"] == "vigie.dpo.task.completed"
        assert result["data"] == {"erased": True, "sessions_revoked": 1}
        refreshed = await http.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=basic(platform),
        )
        assert refreshed.json()["error"] == "invalid_grant"
        userinfo = await http.get(
            "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert userinfo.status_code == 401
        form = await http.get("/login")
        login = await http.post(
            "/login",
            data={
                "identifier": account.username,
                "password": account.password,
                "csrf_token": csrf_of(form.text),
                "next": "/",
            },
        )
    assert login.status_code == 200
    assert "incorrect" in login.text
    platforms = Platforms()
    await deliver(sso, platforms)
    assert [u for u, _ in platforms.received if "erase.example" in u] == [
        "https://erase.example/bcl"
    ]
    async with sso.state.runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT email, username, display_name FROM users WHERE id = $1", account.id
        )
    assert account.email != row["email"]
    assert row["username"] is None
    types = [t for t, _ in await events_about(sso, account.id)]
    assert "vigie.sso.session.revoked" in types
    assert types[-1] == "vigie.sso.user.erased"


async def test_rectify_corrects_the_fields_and_announces_which(sso: FastAPI) -> None:
    account = await make_user(sso)
    result = await answer(
        sso,
        task(TaskAction.RECTIFY, account.id, corrections={"display_name": "Léa Martin"}),
    )
    assert result["data"] == {"rectified": ["display_name"]}
    async with sso.state.runtime.pool.acquire() as conn:
        name = await conn.fetchval("SELECT display_name FROM users WHERE id = $1", account.id)
    assert name == "Léa Martin"
    assert (await events_about(sso, account.id))[-1][0] == "vigie.sso.user.rectified"


async def test_rectify_of_a_field_we_do_not_hold_is_refused(sso: FastAPI) -> None:
    account = await make_user(sso)
    result = await answer(
        sso, task(TaskAction.RECTIFY, account.id, corrections={"roles": ["admin"]})
    )
    assert result["type"] == "vigie.dpo.task.failed"
    assert "roles" in result["error"]


async def test_restrict_blocks_login_until_lifted(sso: FastAPI) -> None:
    account = await make_user(sso)
    platform = await make_client(sso)
    async with browser(sso) as http:
        await signed_in(sso, http, platform, account)
        result = await answer(sso, task(TaskAction.RESTRICT, account.id))
        assert result["data"] == {"restricted": True, "sessions_revoked": 1}
        again = await http.get(authorize_url(platform, generate_token(48)))
    assert again.headers["location"].startswith("/login")
