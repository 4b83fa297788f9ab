"""Suspension enforced at the gateway, from billing events on the real broker."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from authlib.common.security import generate_token
from fastapi import FastAPI

from tests.sso_gateway.support import (
    ADMIN_RESOURCE,
    ISSUER,
    browser,
    events_about,
    login_through_form,
    make_client,
    make_user,
    person_token,
    query_of,
    relying_party,
    return_link,
)
from vigie_shared.events import DebtReminded, DebtSettled, PaymentChannel, new_event
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.kafka import Producer

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


async def publish(kafka: str, *facts: DebtReminded | DebtSettled) -> None:
    producer = Producer(kafka, client_id="accounting-test")
    await producer.start()
    try:
        for fact in facts:
            event = new_event(fact, subject=fact.learner_id, source="/accounting/test")
            await producer.send_and_wait(encode(event))
    finally:
        await producer.stop()


async def wait_for(app: FastAPI, subject: str, event_type: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(kind == event_type for kind, _ in await events_about(app, subject)):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {event_type} for {subject}: {await events_about(app, subject)}")


async def test_overdue_debt_suspends_training_platforms_only_and_payment_restores(
    sso: FastAPI, kafka: str
) -> None:
    account = await make_user(sso)
    moodle = await make_client(sso)
    payment = await make_client(sso, training_platform=False)
    verifier = generate_token(48)
    async with relying_party(sso, moodle) as rp, browser(sso) as http:
        url, _ = rp.create_authorization_url(f"{ISSUER}/authorize", code_verifier=verifier)
        landed = await login_through_form(http, url, account)
        token = await rp.fetch_token(
            f"{ISSUER}/token",
            authorization_response=landed.headers["location"],
            code_verifier=verifier,
        )
        reminded = utcnow() - timedelta(days=10)
        await publish(
            kafka,
            DebtReminded(
                debt_id=f"debt-{account.id}",
                learner_id=account.id,
                channel=PaymentChannel.CARD,
                amount=Decimal("89.00"),
                reminded_at=reminded,
            ),
        )
        await wait_for(sso, account.id, "vigie.access.suspended")

        # The refresh token was revoked with the session; a new authorization is refused: a
        # page says why, and its way back tells the platform at its verified redirect URI.
        with pytest.raises(Exception, match="invalid_grant"):
            await rp.refresh_token(f"{ISSUER}/token", refresh_token=token["refresh_token"])
        url, state = rp.create_authorization_url(f"{ISSUER}/authorize", code_verifier=verifier)
        denied = await login_through_form(http, url, account)
        assert denied.status_code == 403
        back_url = return_link(denied.text)
        answer = query_of(back_url)
        assert back_url.startswith(moodle.redirect_uri)
        assert answer["error"] == "access_denied"
        assert "suspended" in answer["error_description"]
        assert answer["state"] == state

        # The payment page is not a training platform: still reachable.
        async with relying_party(sso, payment) as pay:
            url, _ = pay.create_authorization_url(f"{ISSUER}/authorize", code_verifier=verifier)
            allowed = await http.get(url)
            assert allowed.status_code == 302
            assert "code" in query_of(allowed.headers["location"])

        await publish(
            kafka,
            DebtSettled(
                debt_id=f"debt-{account.id}",
                learner_id=account.id,
                amount=Decimal("89.00"),
                settled_at=utcnow(),
            ),
        )
        await wait_for(sso, account.id, "vigie.access.restored")
        url, _ = rp.create_authorization_url(f"{ISSUER}/authorize", code_verifier=verifier)
        back = await http.get(url)
        assert "code" in query_of(back.headers["location"])
    kinds = [kind for kind, _ in await events_about(sso, account.id)]
    assert kinds.count("vigie.access.suspended") == 1
    assert "vigie.sso.session.revoked" in kinds


async def test_manual_suspension_needs_the_accounting_role_and_a_reason(sso: FastAPI) -> None:
    learner = await make_user(sso)
    accountant = await make_user(sso, roles=["accounting"])
    other = await make_user(sso)
    tokens = {}
    for who in (accountant, other):
        # The accounting routes are the admin API's: its resource is asked for explicitly.
        tokens[who.id] = (await person_token(sso, who, resource=ADMIN_RESOURCE))["access_token"]
    async with browser(sso) as http:
        path = f"/admin/access/{learner.id}/suspend"
        refused = await http.post(
            path,
            json={"reason": "chèque rejeté"},
            headers={"Authorization": f"Bearer {tokens[other.id]}"},
        )
        no_reason = await http.post(
            path, json={"reason": ""}, headers={"Authorization": f"Bearer {tokens[accountant.id]}"}
        )
        done = await http.post(
            path,
            json={"reason": "chèque rejeté"},
            headers={"Authorization": f"Bearer {tokens[accountant.id]}"},
        )
    assert refused.status_code == 403
    assert no_reason.status_code == 422
    assert done.status_code == 200
    assert done.json()["suspended"] is True
    assert done.json()["reason"] == "chèque rejeté"
    suspended = [
        data
        for kind, data in await events_about(sso, learner.id)
        if kind == "vigie.access.suspended"
    ]
    assert suspended == [
        {
            "learner_id": learner.id,
            "debt_ids": [],
            "reason": "chèque rejeté",
            "actor": {"kind": "user", "id": accountant.id},
        }
    ]
