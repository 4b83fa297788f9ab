"""No secret in logs or events: a flow through the gateway and dpo_requests with every log
record captured at DEBUG and every event read back from Kafka, scanned for each secret the flow
used; and the settings refuse shipped secrets outside development."""

from __future__ import annotations

import logging
import os
import time
from secrets import token_urlsafe as generate_token
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from pydantic import ValidationError

from audit_log.config import Settings as AuditSettings
from dpo_requests.config import Settings as DpoSettings
from sso_gateway.config import Settings as SsoSettings
from tests.security.conftest import Services, unique
from tests.sso_gateway.support import (
    ADMIN_RESOURCE,
    authorize_url,
    basic,
    browser,
    login_through_form,
    make_client,
    make_user,
    query_of,
    redeem,
    signed_in,
)
from vigie_shared import topics
from vigie_shared.kit.settings import DEV_SECRET


async def outbox_rows_after(app: FastAPI, since: int) -> list[dict[str, Any]]:
    rows = await Services.pool(app).fetch(
        "SELECT id, headers, value FROM outbox WHERE id > $1 ORDER BY id", since
    )
    return [
        {"headers": dict(row["headers"]), "value": row["value"].decode(), "id": row["id"]}
        for row in rows
    ]


async def outbox_end(app: FastAPI) -> int:
    return int(await Services.pool(app).fetchval("SELECT coalesce(max(id), 0) FROM outbox"))


async def read_back(bootstrap: str, event_ids: set[str], timeout: float = 30) -> list[str]:
    """Every record of the catalog's topics whose ``ce_id`` is one of ``event_ids``, as text
    (key, headers, value), once all arrived or at ``timeout``."""
    consumer = AIOKafkaConsumer(
        *topics.ALL, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: dict[str, str] = {}
    try:
        deadline = time.monotonic() + timeout
        while set(found) != event_ids and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    headers = {k: (v or b"").decode() for k, v in record.headers}
                    if headers.get("ce_id") in event_ids:
                        found[headers["ce_id"]] = repr(
                            (record.key, headers, (record.value or b"").decode())
                        )
    finally:
        await consumer.stop()
    assert set(found) == event_ids, f"not read back: {event_ids - set(found)}"
    return list(found.values())


@pytest.mark.broker
@pytest.mark.asyncio(loop_scope="session")
async def test_no_secret_of_a_whole_flow_reaches_a_log_line_or_an_event(
    services: Services, kafka: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sso, dpo = services.sso, services.dpo
    starts = {"sso": await outbox_end(sso), "dpo": await outbox_end(dpo)}
    secrets: dict[str, str] = {}

    admin = await make_user(sso, roles=["admin"])
    console = await make_client(sso, audiences=[ADMIN_RESOURCE])
    learner = await make_user(sso)
    async with browser(sso) as http:
        admin_tokens = await signed_in(sso, http, console, admin, resource=ADMIN_RESOURCE)
        secrets |= {
            "password": learner.password,
            "console secret": console.client_secret or "",
            "admin access token": admin_tokens["access_token"],
            "admin refresh token": admin_tokens["refresh_token"],
            "admin id token": admin_tokens["id_token"],
            "admin session cookie": http.cookies["vigie_sso"],
        }
        # Client registration over HTTP: its secret is shown once, and nowhere else.
        registered = await http.post(
            "/admin/clients",
            json={
                "client_id": unique("platform"),
                "name": "Plateforme de test",
                "redirect_uris": ["https://secrets.example.org/callback"],
            },
            headers={"Authorization": f"Bearer {admin_tokens['access_token']}"},
        )
        assert registered.status_code == 201, registered.text
        secrets["registered client secret"] = registered.json()["client_secret"]

    async with browser(sso) as http:
        platform = await make_client(sso)
        verifier = generate_token(48)
        landed = await login_through_form(http, authorize_url(platform, verifier), learner)
        code = query_of(landed.headers["location"])["code"]
        issued = (
            await http.post("/token", data=redeem(platform, code, verifier), auth=basic(platform))
        ).json()
        rotated = (
            await http.post(
                "/token",
                data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
                auth=basic(platform),
            )
        ).json()
        machine = await make_client(sso, grant_types=["client_credentials"])
        service = await http.post(
            "/token", data={"grant_type": "client_credentials"}, auth=basic(machine)
        )
        assert service.status_code == 200, service.text
        # A failed login with a near-miss password must not log what was typed either.
        form = await http.get("/login")
        near_miss = learner.password + "!"
        await http.post(
            "/login",
            data={
                "identifier": learner.username,
                "password": near_miss,
                "csrf_token": form.text.split('name="csrf_token" value="')[1].split('"')[0],
                "next": "/",
            },
        )
        secrets |= {
            "platform secret": platform.client_secret or "",
            "machine secret": machine.client_secret or "",
            "code": code,
            "code verifier": verifier,
            "access token": issued["access_token"],
            "refresh token": issued["refresh_token"],
            "rotated refresh token": rotated["refresh_token"],
            "rotated access token": rotated["access_token"],
            "id token": issued["id_token"],
            "service token": service.json()["access_token"],
            "learner session cookie": http.cookies["vigie_sso"],
            "near-miss password": near_miss,
        }

    dpo_token = services.dpo_headers(learner.id, "learner")
    async with services.client(dpo) as http:
        submitted = await http.post("/requests", json={"request_type": "access"}, headers=dpo_token)
        assert submitted.status_code == 201, submitted.text
    secrets["dpo access token"] = dpo_token["Authorization"].removeprefix("Bearer ")

    secrets["secret key"] = sso.state.provider.settings.secret_key
    for alg in ("ES256", "RS256"):
        private = sso.state.provider.keyring.signing_key(alg).key.as_dict(private=True)
        for part in ("d", "p", "q", "dp", "dq", "qi"):
            if part in private:
                secrets[f"{alg} private {part}"] = private[part]

    rows = await outbox_rows_after(sso, starts["sso"]) + await outbox_rows_after(dpo, starts["dpo"])
    assert {"vigie.sso.login.succeeded", "vigie.sso.client.registered"} <= {
        r["headers"]["ce_type"] for r in rows
    }
    events = [repr((r["headers"], r["value"])) for r in rows]
    events += await read_back(kafka, {r["headers"]["ce_id"] for r in rows})
    logs = [
        f"{record.getMessage()} {record.__dict__!r} {record.exc_text or ''}"
        for record in caplog.records
    ]
    assert len(logs) > 0
    for name, secret in secrets.items():
        assert len(secret) >= 16, name
        # The secret, and any long enough piece of it (a token cut for "readability").
        pieces = {secret, secret[:24], secret[-24:]} if len(secret) > 24 else {secret}
        for piece in pieces:
            leaked_in_logs = [line for line in logs if piece in line]
            leaked_in_events = [event for event in events if piece in event]
            assert not leaked_in_logs, f"{name} in a log line: {leaked_in_logs[0][:300]}"
            assert not leaked_in_events, f"{name} in an event: {leaked_in_events[0][:300]}"
    print(f"scanned {len(logs)} log records and {len(events)} events for {len(secrets)} secrets")


@pytest.mark.parametrize("settings_class", [SsoSettings, DpoSettings, AuditSettings])
def test_every_service_refuses_the_shipped_secret_in_production(
    settings_class: type[SsoSettings | DpoSettings | AuditSettings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith("VIGIE_"):
            monkeypatch.delenv(name)
    with pytest.raises(ValidationError, match="VIGIE_SECRET_KEY"):
        settings_class(env="production")
    with pytest.raises(ValidationError, match="VIGIE_SECRET_KEY"):
        settings_class(env="production", secret_key=DEV_SECRET)
    monkeypatch.setenv("VIGIE_ENV", "production")
    monkeypatch.setenv("VIGIE_SECRET_KEY", generate_token(32))
    assert settings_class().env == "production"


def test_settings_never_show_the_secret_key_or_the_database_password() -> None:
    """Settings end up in log lines and tracebacks (``log.info("%s", settings)``)."""
    key, password = generate_token(32), generate_token(16)
    settings = SsoSettings(
        env="production",
        secret_key=key,
        database_url=f"postgresql://vigie:{password}@db.internal:5432/vigie",
    )
    for shown in (repr(settings), str(settings)):
        assert key not in shown
        assert password not in shown
    # ... while the services still read them as they are.
    assert settings.secret_key == key
    assert password in settings.database_url
