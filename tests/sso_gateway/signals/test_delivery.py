"""SETs from the changes that end or restore access, delivered by push (RFC 8935, to a real
HTTP receiver on loopback) and by poll (RFC 8936), each checked by a receiver written with
joserfc alone against the published JWKS."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from joserfc import jws
from joserfc.jwk import RSAKey

from sso_gateway.data_rights.service import data_rights
from sso_gateway.keys.service import KeyRing
from sso_gateway.service import SERVICE
from sso_gateway.sessions.service import sessions
from sso_gateway.signals.delivery import delivery
from sso_gateway.signals.service import signals
from tests.fixtures.serving import eventually
from tests.sso_gateway.access.test_enforcement import publish
from tests.sso_gateway.signals.support import (
    ACCOUNT_DISABLED,
    ACCOUNT_ENABLED,
    ACCOUNT_PURGED,
    PUSH,
    SESSION_REVOKED,
    VERIFICATION,
    Receiver,
    create_stream,
    event_of,
    make_receiver,
    poll,
    push_due,
    push_endpoint,
    verify_set,
)
from tests.sso_gateway.support import (
    ISSUER,
    Account,
    admin_api_token,
    browser,
    make_user,
    suspend_by_hand,
    task,
)
from vigie_shared.events import DebtReminded, DebtSettled, PaymentChannel, TaskAction
from vigie_shared.kit import db
from vigie_shared.kit.clock import utcnow

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def open_session(sso: FastAPI, account: Account) -> str:
    provider = sso.state.provider
    async with provider.pool.acquire() as conn:
        session_id, _ = await sessions.open(conn, provider.settings, user_id=account.id, ip=None)
    return session_id


async def polled_until(
    sso: FastAPI, receiver: Receiver, stream: dict[str, Any], count: int
) -> list[dict[str, Any]]:
    """What a poll receiver holds once ``count`` SETs are there, checked and acknowledged."""
    got: dict[str, str] = {}

    async def more() -> int:
        answer = await poll(sso, receiver, stream, ack=list(got))
        got.update(answer["sets"])
        return len(got)

    await eventually(more, until=lambda n: n >= count, timeout=20)
    await poll(sso, receiver, stream, ack=list(got), maxEvents=0)
    return [await verify_set(sso, token, receiver.client_id) for token in got.values()]


def kinds(claims: list[dict[str, Any]]) -> list[str]:
    return sorted(event_of(c)[0] for c in claims)


async def test_billing_suspension_and_payment_reach_a_push_receiver(
    sso: FastAPI, kafka: str
) -> None:
    receiver = await make_receiver(sso, signing_alg="RS256")
    account = await make_user(sso)
    first, second = await open_session(sso, account), await open_session(sso, account)
    async with push_endpoint() as endpoint:
        await create_stream(
            sso,
            receiver,
            delivery={
                "method": PUSH,
                "endpoint_url": endpoint.url,
                "authorization_header": "Bearer receiver-secret",
            },
        )
        debt = f"debt-{account.id}"
        await publish(
            kafka,
            DebtReminded(
                debt_id=debt,
                learner_id=account.id,
                channel=PaymentChannel.CARD,
                amount=Decimal("89.00"),
                reminded_at=utcnow() - timedelta(days=10),
            ),
        )

        async def pushed() -> int:
            await push_due(sso)
            return len(endpoint.accepted)

        await eventually(pushed, until=lambda n: n >= 3, timeout=30)
        await publish(
            kafka,
            DebtSettled(
                debt_id=debt, learner_id=account.id, amount=Decimal("89.00"), settled_at=utcnow()
            ),
        )
        await eventually(pushed, until=lambda n: n >= 4, timeout=30)
    assert {s["content_type"] for s in endpoint.seen} == {"application/secevent+jwt"}
    assert {s["authorization"] for s in endpoint.seen} == {"Bearer receiver-secret"}
    claims = [await verify_set(sso, token, receiver.client_id) for token in endpoint.accepted]
    # The CAEP interoperability profile's algorithm, with a key of at least 2048 bits.
    header = jws.extract_compact(endpoint.accepted[0].encode()).protected
    assert header["alg"] == "RS256"
    async with browser(sso) as http:
        (key,) = [k for k in (await http.get("/jwks")).json()["keys"] if k["kid"] == header["kid"]]
    assert RSAKey.import_key(key).raw_value.key_size >= 2048
    disabled, *revoked, enabled = claims
    assert event_of(disabled)[0] == ACCOUNT_DISABLED
    assert disabled["sub_id"] == {"format": "iss_sub", "iss": ISSUER, "sub": account.id}
    payload = event_of(disabled)[1]
    assert set(payload["reason_admin"]) == {"fr", "en"}
    assert payload["reason_user"]["fr"].startswith("Votre accès aux plateformes")
    assert payload["reason_admin"]["en"].startswith("Access suspended: ")
    assert sorted(event_of(c)[0] for c in revoked) == [SESSION_REVOKED, SESSION_REVOKED]
    assert {c["sub_id"]["session"]["id"] for c in revoked} == {first, second}
    assert {c["sub_id"]["user"]["sub"] for c in revoked} == {account.id}
    assert {event_of(c)[1]["initiating_entity"] for c in revoked} == {"policy"}
    # One business action, one transaction: its SETs share their txn (RFC 8417 §2.2).
    assert len({c["txn"] for c in (disabled, *revoked)}) == 1
    assert event_of(enabled)[0] == ACCOUNT_ENABLED
    assert enabled["txn"] != disabled["txn"]
    assert len({c["jti"] for c in claims}) == 4


async def test_a_push_answered_500_twice_is_retried_until_202(sso: FastAPI) -> None:
    receiver = await make_receiver(sso)
    account = await make_user(sso)
    async with push_endpoint([500, 500]) as endpoint:
        stream = await create_stream(
            sso, receiver, delivery={"method": PUSH, "endpoint_url": endpoint.url}
        )
        await suspend_by_hand(sso, account)
        pool = sso.state.runtime.pool
        for _ in range(3):
            await push_due(sso)
            # The receiver's clock moves on: the backoff's wait is over.
            await pool.execute(
                "UPDATE ssf_events SET next_at = now() WHERE stream_id = $1", stream["stream_id"]
            )
        errors = await pool.fetch(
            "SELECT attempts, last_error, delivered_at IS NOT NULL AS delivered FROM ssf_events"
            " WHERE stream_id = $1",
            stream["stream_id"],
        )
    assert len(endpoint.seen) == 3
    assert len(endpoint.accepted) == 1
    assert [(e["attempts"], e["last_error"], e["delivered"]) for e in errors] == [
        (3, "HTTP 500", True)
    ]


async def test_a_receivers_error_answer_is_recorded_and_not_retried(sso: FastAPI) -> None:
    receiver = await make_receiver(sso)
    account = await make_user(sso)
    async with push_endpoint([400]) as endpoint:
        stream = await create_stream(
            sso, receiver, delivery={"method": PUSH, "endpoint_url": endpoint.url}
        )
        await suspend_by_hand(sso, account)
        await push_due(sso)
        await sso.state.runtime.pool.execute(
            "UPDATE ssf_events SET next_at = now() WHERE stream_id = $1", stream["stream_id"]
        )
        await push_due(sso)
    assert len(endpoint.seen) == 1
    token = await admin_api_token(sso, ["admin"])
    async with browser(sso) as http:
        states = await http.get(
            "/admin/signals/streams", headers={"Authorization": f"Bearer {token}"}
        )
        metrics = await http.get("/metrics")
    (state,) = [s for s in states.json() if s["stream_id"] == stream["stream_id"]]
    assert (state["pending"], state["delivered"], state["failed"]) == (0, 0, 1)
    assert state["last_error"] == "HTTP 400 invalid_audience: not meant for us"
    assert 'vigie_sso_signals_pushes_total{client="' + receiver.client_id in metrics.text
    await delivery.housekeeping(sso.state.runtime.pool, sso.state.provider.settings)
    async with browser(sso) as http:
        refreshed = (await http.get("/metrics")).text
    for state, value in (("failed", "1.0"), ("pending", "0.0")):
        series = (
            f'vigie_sso_signals_sets{{client="{receiver.client_id}",state="{state}",'
            f'stream="{stream["stream_id"]}"}} {value}'
        )
        assert series in refreshed
    async with browser(sso) as http:
        polled = await http.post(
            f"/ssf/poll/{stream['stream_id']}", json={}, headers=receiver.headers
        )
    assert polled.status_code == 400  # a push stream is not polled


async def test_a_lease_left_by_a_killed_replica_expires_and_the_set_goes_once(
    sso: FastAPI,
) -> None:
    receiver = await make_receiver(sso)
    account = await make_user(sso)
    provider = sso.state.provider
    short = provider.settings.model_copy(update={"signals_lease_seconds": 0.2})
    async with push_endpoint() as endpoint:
        await create_stream(sso, receiver, delivery={"method": PUSH, "endpoint_url": endpoint.url})
        await suspend_by_hand(sso, account)
        # Claimed, then the replica dies before it posts: nothing recorded.
        claimed = await delivery.claim(provider.pool, short, limit=100)
        assert any(c.client_id == receiver.client_id for c in claimed)
        # Another replica meanwhile: the lease still stands, it does not post.
        await push_due(sso)
        assert endpoint.seen == []
        await asyncio.sleep(0.3)
        await push_due(sso)
        await push_due(sso)
    assert len(endpoint.accepted) == 1


async def test_a_set_written_before_a_restart_is_pushed_by_the_next_process(
    sso: FastAPI,
) -> None:
    receiver = await make_receiver(sso)
    account = await make_user(sso)
    settings = sso.state.provider.settings
    async with push_endpoint() as endpoint:
        await create_stream(sso, receiver, delivery={"method": PUSH, "endpoint_url": endpoint.url})
        await suspend_by_hand(sso, account)
        # The process that committed it is gone before any push: a new one, with nothing but
        # the database and the secret, finds the SET and pushes it.
        pool = await db.create_pool(settings.database_url, SERVICE.schema)
        try:
            keyring = KeyRing(settings.secret_key)
            await keyring.refresh(pool, force=True)
            assert await delivery.deliver_due(pool, keyring, settings) == 1
        finally:
            await pool.close()
    (claims,) = [await verify_set(sso, t, receiver.client_id) for t in endpoint.accepted]
    assert event_of(claims)[0] == ACCOUNT_DISABLED


async def test_poll_acknowledgements_max_events_and_bounded_long_polling(sso: FastAPI) -> None:
    receiver = await make_receiver(sso)
    stream = await create_stream(sso, receiver, format="email")
    account = await make_user(sso)
    await open_session(sso, account)
    await suspend_by_hand(sso, account)
    first = await poll(sso, receiver, stream, maxEvents=1)
    assert len(first["sets"]) == 1
    assert first["moreAvailable"] is True
    (jti, token), *_ = first["sets"].items()
    claims = await verify_set(sso, token, receiver.client_id)
    assert claims["jti"] == jti
    assert claims["sub_id"] == {"format": "email", "email": account.email}
    again = await poll(sso, receiver, stream, maxEvents=1)
    assert list(again["sets"]) == [jti]  # not acknowledged: returned again
    rest = await poll(sso, receiver, stream, ack=[jti])
    assert jti not in rest["sets"]
    assert len(rest["sets"]) == 1
    assert rest["moreAvailable"] is False
    empty = await poll(sso, receiver, stream, ack=list(rest["sets"]))
    assert empty == {"sets": {}, "moreAvailable": False}

    loop = asyncio.get_running_loop()
    started = loop.time()
    waited = await poll(sso, receiver, stream, returnImmediately=False)
    assert waited["sets"] == {}
    assert 0.9 <= loop.time() - started < 5  # signals_poll_max_wait_seconds, then an answer

    async def restore_soon() -> None:
        await asyncio.sleep(0.3)
        async with sso.state.runtime.pool.acquire() as conn:
            await sso.state.access.decide_manually(
                conn, account.id, suspend=False, reason="paid", actor_id="acc-1", now=utcnow()
            )

    restorer = asyncio.create_task(restore_soon())
    woken = await poll(sso, receiver, stream, returnImmediately=False)
    await restorer
    assert [
        event_of(await verify_set(sso, t, receiver.client_id))[0] for t in woken["sets"].values()
    ] == [ACCOUNT_ENABLED]


async def test_a_receivers_set_errors_are_recorded_and_not_returned_again(sso: FastAPI) -> None:
    receiver = await make_receiver(sso)
    stream = await create_stream(sso, receiver)
    await suspend_by_hand(sso, await make_user(sso))
    (jti,) = (await poll(sso, receiver, stream))["sets"]
    await poll(
        sso,
        receiver,
        stream,
        setErrs={jti: {"err": "invalid_key", "description": "unknown kid"}},
        maxEvents=0,
    )
    assert (await poll(sso, receiver, stream))["sets"] == {}
    error = await sso.state.runtime.pool.fetchval(
        "SELECT last_error FROM ssf_events WHERE jti = $1", jti
    )
    assert "invalid_key" in error


async def set_status(sso: FastAPI, receiver: Receiver, stream: dict[str, Any], status: str) -> None:
    async with browser(sso) as http:
        response = await http.post(
            "/ssf/status",
            json={"stream_id": stream["stream_id"], "status": status},
            headers=receiver.headers,
        )
    assert response.status_code == 200, response.text


async def test_a_paused_stream_holds_its_sets_and_a_disabled_one_drops_them(
    sso: FastAPI,
) -> None:
    receiver = await make_receiver(sso)
    stream = await create_stream(sso, receiver)
    held, dropped = await make_user(sso), await make_user(sso)
    await set_status(sso, receiver, stream, "paused")
    await suspend_by_hand(sso, held)
    assert (await poll(sso, receiver, stream))["sets"] == {}
    await set_status(sso, receiver, stream, "enabled")
    after_pause = await polled_until(sso, receiver, stream, 1)
    assert [c["sub_id"]["sub"] for c in after_pause] == [held.id]

    await set_status(sso, receiver, stream, "disabled")
    await suspend_by_hand(sso, dropped)
    await set_status(sso, receiver, stream, "enabled")
    assert (await poll(sso, receiver, stream))["sets"] == {}


async def test_a_paused_stream_keeps_only_its_newest_sets(sso: FastAPI) -> None:
    receiver = await make_receiver(sso)
    stream = await create_stream(sso, receiver)
    await set_status(sso, receiver, stream, "paused")
    provider = sso.state.provider
    bound = provider.settings.signals_paused_max_events
    users = [await make_user(sso) for _ in range(3)]
    provider.settings.signals_paused_max_events = 2
    try:
        for account in users:
            await suspend_by_hand(sso, account)
    finally:
        provider.settings.signals_paused_max_events = bound
    await set_status(sso, receiver, stream, "enabled")
    claims = await polled_until(sso, receiver, stream, 2)
    assert sorted(c["sub_id"]["sub"] for c in claims) == sorted(u.id for u in users[1:])
    token = await admin_api_token(sso, ["admin"])
    async with browser(sso) as http:
        states = await http.get(
            "/admin/signals/streams", headers={"Authorization": f"Bearer {token}"}
        )
    (state,) = [s for s in states.json() if s["stream_id"] == stream["stream_id"]]
    assert state["dropped"] == 1


async def test_a_replayed_suspension_yields_no_second_set(sso: FastAPI) -> None:
    receiver = await make_receiver(sso)
    stream = await create_stream(sso, receiver, events_requested=[ACCOUNT_DISABLED])
    account = await make_user(sso)
    fact = DebtReminded(
        debt_id=f"debt-{account.id}",
        learner_id=account.id,
        channel=PaymentChannel.CARD,
        amount=Decimal("10.00"),
        reminded_at=utcnow() - timedelta(days=10),
    )
    access = sso.state.access
    for _ in range(2):
        async with sso.state.runtime.pool.acquire() as conn, conn.transaction():
            await access.debt_reminded(conn, fact, utcnow())
    claims = await polled_until(sso, receiver, stream, 1)
    await asyncio.sleep(0.1)
    assert (await poll(sso, receiver, stream))["sets"] == {}
    assert kinds(claims) == [ACCOUNT_DISABLED]


async def ended(sso: FastAPI, end: Callable[[Any], Awaitable[object]]) -> None:
    async with sso.state.runtime.pool.acquire() as conn, conn.transaction():
        await end(conn)


async def test_logout_expiry_and_erasure_are_reported(sso: FastAPI) -> None:
    receiver = await make_receiver(sso)
    stream = await create_stream(sso, receiver, format="email")
    settings = sso.state.provider.settings
    account = await make_user(sso)
    logged_out, expiring, erased = [await open_session(sso, account) for _ in range(3)]
    await ended(sso, lambda conn: sessions.revoke(conn, settings, logged_out, "logout"))
    await sso.state.runtime.pool.execute(
        "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1", expiring
    )
    assert await sessions.report_expired(sso.state.runtime.pool, settings) >= 1
    assert await sessions.report_expired(sso.state.runtime.pool, settings) == 0
    await ended(
        sso, lambda conn: data_rights.erase(conn, settings, task(TaskAction.ERASE, account.id))
    )
    claims = await polled_until(sso, receiver, stream, 4)
    by_session = {
        c["sub_id"]["session"]["id"]: event_of(c)[1]
        for c in claims
        if event_of(c)[0] == SESSION_REVOKED
    }
    assert by_session[logged_out]["initiating_entity"] == "user"
    assert by_session[logged_out]["reason_user"] == {
        "en": "You signed out.",
        "fr": "Vous vous êtes déconnecté.",
    }
    assert by_session[expiring]["reason_admin"]["en"] == "The session expired."
    assert "GDPR Art. 17" in by_session[erased]["reason_admin"]["en"]
    (purged,) = [c for c in claims if event_of(c)[0] == ACCOUNT_PURGED]
    # Named as the receiver knew the account, though it is anonymised now.
    assert purged["sub_id"] == {"format": "email", "email": account.email}


async def test_verification_event_round_trip(sso: FastAPI) -> None:
    receiver = await make_receiver(sso)
    stream = await create_stream(sso, receiver)
    async with browser(sso) as http:
        asked = await http.post(
            "/ssf/verify",
            json={"stream_id": stream["stream_id"], "state": "VGhpcyBpcyBh"},
            headers=receiver.headers,
        )
    assert asked.status_code == 204
    (claims,) = await polled_until(sso, receiver, stream, 1)
    assert event_of(claims) == (VERIFICATION, {"state": "VGhpcyBpcyBh"})
    assert claims["sub_id"] == {"format": "opaque", "id": stream["stream_id"]}


async def test_a_verification_asked_again_too_soon_is_answered_429(sso: FastAPI) -> None:
    receiver = await make_receiver(sso)
    stream = await create_stream(sso, receiver)
    interval = sso.state.provider.settings.signals_min_verification_seconds
    assert stream["min_verification_interval"] == interval > 0
    settings = sso.state.provider.settings
    body = {"stream_id": stream["stream_id"], "state": "again"}
    async with browser(sso) as http:
        first = await http.post("/ssf/verify", json=body, headers=receiver.headers)
        second = await http.post("/ssf/verify", json=body, headers=receiver.headers)
    assert first.status_code == 204
    assert second.status_code == 429
    assert second.headers["content-type"] == "application/problem+json"
    assert 0 < int(second.headers["retry-after"]) <= interval
    # An operator's verification is not the receiver's: not held back.
    async with sso.state.runtime.pool.acquire() as conn:
        await signals.verify_for_operator(conn, settings, stream["stream_id"], "operator")
    claims = await polled_until(sso, receiver, stream, 2)
    assert sorted(event_of(c)[1]["state"] for c in claims) == ["again", "operator"]
    # Once the interval has passed, the receiver may ask again.
    await sso.state.runtime.pool.execute(
        "UPDATE ssf_streams SET verification_requested_at = now() - make_interval(secs => $2)"
        " WHERE id = $1",
        stream["stream_id"],
        interval,
    )
    async with browser(sso) as http:
        third = await http.post("/ssf/verify", json=body, headers=receiver.headers)
    assert third.status_code == 204


async def test_a_removed_subject_gets_no_sets_until_added_back(sso: FastAPI) -> None:
    receiver = await make_receiver(sso)
    stream = await create_stream(
        sso, receiver, events_requested=[ACCOUNT_DISABLED, ACCOUNT_ENABLED]
    )
    account = await make_user(sso)
    subject = {"format": "iss_sub", "iss": ISSUER, "sub": account.id}
    async with browser(sso) as http:
        removed = await http.post(
            "/ssf/subjects:remove",
            json={"stream_id": stream["stream_id"], "subject": subject},
            headers=receiver.headers,
        )
        unknown = await http.post(
            "/ssf/subjects:add",
            json={"stream_id": stream["stream_id"], "subject": {"format": "phone", "id": "1"}},
            headers=receiver.headers,
        )
    assert removed.status_code == 204
    assert unknown.status_code == 400
    await suspend_by_hand(sso, account)
    assert (await poll(sso, receiver, stream))["sets"] == {}
    async with browser(sso) as http:
        added = await http.post(
            "/ssf/subjects:add",
            json={
                "stream_id": stream["stream_id"],
                "subject": {"format": "email", "email": account.email},
            },
            headers=receiver.headers,
        )
    assert added.status_code == 200
    async with sso.state.runtime.pool.acquire() as conn:
        await sso.state.access.decide_manually(
            conn, account.id, suspend=False, reason="paid", actor_id="acc-1", now=utcnow()
        )
    assert kinds(await polled_until(sso, receiver, stream, 1)) == [ACCOUNT_ENABLED]
