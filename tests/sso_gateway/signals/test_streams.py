"""Transmitter metadata and stream management (SSF 1.0 §7, §8), for receivers holding their own
access token with the CAEP interoperability profile's scopes."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.sso_gateway.signals.support import (
    ALL_EVENTS,
    POLL,
    PUSH,
    client_token,
    create_stream,
    make_receiver,
)
from tests.sso_gateway.support import ISSUER, browser, make_client, make_user, person_token

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_metadata_names_every_endpoint_and_both_delivery_methods(sso: FastAPI) -> None:
    async with browser(sso) as http:
        response = await http.get("/.well-known/ssf-configuration")
    assert response.status_code == 200
    meta = response.json()
    assert meta["issuer"] == ISSUER
    assert meta["jwks_uri"] == f"{ISSUER}/jwks"
    assert meta["delivery_methods_supported"] == [PUSH, POLL]
    for name in (
        "configuration_endpoint",
        "status_endpoint",
        "add_subject_endpoint",
        "remove_subject_endpoint",
        "verification_endpoint",
    ):
        assert meta[name].startswith(f"{ISSUER}/ssf/")
    assert meta["authorization_schemes"] == [{"spec_urn": "urn:ietf:rfc:6749"}]
    assert meta["default_subjects"] == "ALL"


async def test_a_stream_is_created_read_updated_replaced_and_deleted(sso: FastAPI) -> None:
    receiver = await make_receiver(sso)
    created = await create_stream(
        sso, receiver, events_requested=[*ALL_EVENTS, "urn:example:unknown"], description="LMS"
    )
    stream_id = created["stream_id"]
    assert created["aud"] == receiver.client_id
    assert created["iss"] == ISSUER
    assert created["events_delivered"] == ALL_EVENTS
    assert created["delivery"] == {
        "method": POLL,
        "endpoint_url": f"{ISSUER}/ssf/poll/{stream_id}",
    }
    async with browser(sso) as http:
        read = await http.get(f"/ssf/stream?stream_id={stream_id}", headers=receiver.headers)
        listed = await http.get("/ssf/stream", headers=receiver.headers)
        patched = await http.patch(
            "/ssf/stream",
            json={"stream_id": stream_id, "events_requested": [ALL_EVENTS[0]]},
            headers=receiver.headers,
        )
        replaced = await http.put(
            "/ssf/stream",
            json={
                "stream_id": stream_id,
                "events_requested": ALL_EVENTS[1:],
                "delivery": {"method": PUSH, "endpoint_url": "https://lms.example/ssf"},
                "format": "email",
            },
            headers=receiver.headers,
        )
        deleted = await http.delete(f"/ssf/stream?stream_id={stream_id}", headers=receiver.headers)
        gone = await http.get(f"/ssf/stream?stream_id={stream_id}", headers=receiver.headers)
    assert read.json() == created
    assert [s["stream_id"] for s in listed.json()] == [stream_id]
    assert patched.json()["events_delivered"] == [ALL_EVENTS[0]]
    assert patched.json()["description"] == "LMS"
    assert replaced.json()["events_delivered"] == ALL_EVENTS[1:]
    assert replaced.json()["description"] is None
    assert replaced.json()["delivery"] == {
        "method": PUSH,
        "endpoint_url": "https://lms.example/ssf",
    }
    assert replaced.json()["format"] == "email"
    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"


async def test_stream_status_moves_between_enabled_paused_and_disabled(sso: FastAPI) -> None:
    receiver = await make_receiver(sso)
    stream_id = (await create_stream(sso, receiver))["stream_id"]
    async with browser(sso) as http:
        initial = await http.get(f"/ssf/status?stream_id={stream_id}", headers=receiver.headers)
        paused = await http.post(
            "/ssf/status",
            json={"stream_id": stream_id, "status": "paused", "reason": "maintenance"},
            headers=receiver.headers,
        )
        after = await http.get(f"/ssf/status?stream_id={stream_id}", headers=receiver.headers)
        wrong = await http.post(
            "/ssf/status",
            json={"stream_id": stream_id, "status": "asleep"},
            headers=receiver.headers,
        )
    assert initial.json() == {"stream_id": stream_id, "status": "enabled", "reason": None}
    assert paused.json() == {"stream_id": stream_id, "status": "paused", "reason": "maintenance"}
    assert after.json() == paused.json()
    assert wrong.status_code == 400
    assert wrong.headers["content-type"] == "application/problem+json"


async def test_a_receiver_never_sees_or_changes_another_receivers_stream(sso: FastAPI) -> None:
    owner = await make_receiver(sso)
    other = await make_receiver(sso)
    stream_id = (await create_stream(sso, owner))["stream_id"]
    async with browser(sso) as http:
        read = await http.get(f"/ssf/stream?stream_id={stream_id}", headers=other.headers)
        listed = await http.get("/ssf/stream", headers=other.headers)
        status = await http.post(
            "/ssf/status",
            json={"stream_id": stream_id, "status": "disabled"},
            headers=other.headers,
        )
        deleted = await http.delete(f"/ssf/stream?stream_id={stream_id}", headers=other.headers)
        polled = await http.post(
            f"/ssf/poll/{stream_id}", json={"returnImmediately": True}, headers=other.headers
        )
        still = await http.get(f"/ssf/status?stream_id={stream_id}", headers=owner.headers)
    assert [read.status_code, status.status_code, deleted.status_code, polled.status_code] == [
        404,
        404,
        404,
        404,
    ]
    assert listed.json() == []
    assert still.json()["status"] == "enabled"


async def test_read_scope_reads_but_does_not_manage(sso: FastAPI) -> None:
    manager = await make_receiver(sso)
    stream_id = (await create_stream(sso, manager))["stream_id"]
    reader_token = (await client_token(sso, manager.platform, "ssf.read")).json()["access_token"]
    headers = {"Authorization": f"Bearer {reader_token}"}
    async with browser(sso) as http:
        read = await http.get(f"/ssf/stream?stream_id={stream_id}", headers=headers)
        created = await http.post("/ssf/stream", json={}, headers=headers)
        deleted = await http.delete(f"/ssf/stream?stream_id={stream_id}", headers=headers)
    assert read.status_code == 200
    assert created.status_code == 403
    assert 'error="insufficient_scope"' in created.headers["www-authenticate"]
    assert deleted.status_code == 403


async def test_only_clients_registered_for_the_scopes_and_their_own_tokens_get_in(
    sso: FastAPI,
) -> None:
    plain = await make_client(
        sso, grant_types=["client_credentials"], redirect_uris=[], post_logout_redirect_uris=[]
    )
    issued = await client_token(sso, plain, "ssf.manage")
    # A person's token for a receiver platform is the person's, not the receiver's.
    person = await person_token(sso, await make_user(sso))
    async with browser(sso) as http:
        anonymous = await http.post("/ssf/stream", json={})
        plain_client = await http.post(
            "/ssf/stream",
            json={},
            headers={"Authorization": f"Bearer {issued.json()['access_token']}"},
        )
        as_person = await http.post(
            "/ssf/stream", json={}, headers={"Authorization": f"Bearer {person['access_token']}"}
        )
    assert anonymous.status_code == 401
    # Not registered for them: granted no SSF scope, so its token is only for itself.
    assert issued.json()["scope"] == ""
    assert plain_client.status_code == 401
    assert as_person.status_code == 401


async def test_malformed_stream_configurations_are_refused_and_change_nothing(
    sso: FastAPI,
) -> None:
    receiver = await make_receiver(sso)
    async with browser(sso) as http:
        unknown_method = await http.post(
            "/ssf/stream",
            json={"delivery": {"method": "urn:example:carrier-pigeon"}},
            headers=receiver.headers,
        )
        push_nowhere = await http.post(
            "/ssf/stream", json={"delivery": {"method": PUSH}}, headers=receiver.headers
        )
        plain_http = await http.post(
            "/ssf/stream",
            json={"delivery": {"method": PUSH, "endpoint_url": "http://lms.example/ssf"}},
            headers=receiver.headers,
        )
        not_a_list = await http.post(
            "/ssf/stream", json={"events_requested": "all"}, headers=receiver.headers
        )
        listed = await http.get("/ssf/stream", headers=receiver.headers)
    assert unknown_method.status_code == 400
    assert push_nowhere.status_code == 400
    assert not_a_list.status_code == 400
    for refused in (unknown_method, push_nowhere, not_a_list):
        assert refused.headers["content-type"] == "application/problem+json"
    # A body the schema refuses says where (SSF §8.1.1.1: 400, not FastAPI's 422).
    assert not_a_list.json()["errors"][0]["loc"] == ["body", "events_requested"]
    # The tests' gateway runs in development, where plain HTTP pushes are allowed.
    assert plain_http.status_code == 201
    assert len(listed.json()) == 1


async def test_a_receiver_has_a_bounded_number_of_streams(sso: FastAPI) -> None:
    receiver = await make_receiver(sso)
    limit = sso.state.provider.settings.signals_max_streams_per_receiver
    for _ in range(limit):
        await create_stream(sso, receiver)
    async with browser(sso) as http:
        one_more = await http.post("/ssf/stream", json={}, headers=receiver.headers)
    assert one_more.status_code == 409


async def test_oversized_bodies_are_refused_and_create_nothing(sso: FastAPI) -> None:
    receiver = await make_receiver(sso)
    too_big = sso.state.provider.settings.max_body_bytes + 1
    async with browser(sso) as http:
        long_description = await http.post(
            "/ssf/stream", json={"description": "x" * 501}, headers=receiver.headers
        )
        huge = await http.post(
            "/ssf/stream",
            content=b'{"description": "' + b"x" * too_big + b'"}',
            headers={**receiver.headers, "Content-Type": "application/json"},
        )
        listed = await http.get("/ssf/stream", headers=receiver.headers)
    assert long_description.status_code == 400
    assert huge.status_code == 413
    assert huge.headers["content-type"] == "application/problem+json"
    assert listed.json() == []
