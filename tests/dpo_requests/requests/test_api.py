"""The requests API: intake, deadlines shown with their rule, lifecycle, access control."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dpo_requests.deadlines import compute_deadline
from tests.dpo_requests.support import Dpo

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


async def register(dpo: Dpo, received_at: datetime, **fields: object) -> dict[str, Any]:
    body = {
        "request_type": "access",
        "requester": "courrier@example.org",
        "channel": "post",
        "received_at": received_at.isoformat(),
        **fields,
    }
    response = await dpo.http.post("/requests/registered", json=body, headers=dpo.officer())
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_learner_submits_a_request_and_sees_its_deadline_with_the_rule(dpo: Dpo) -> None:
    response = await dpo.http.post(
        "/requests",
        json={"request_type": "access", "message": "Tout ce que vous avez sur moi"},
        headers=dpo.learner("u-lea", email="lea@example.org"),
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["subject_id"] == "u-lea"
    assert created["requester"] == "lea@example.org"
    assert created["status"] == "received"

    detail = (await dpo.http.get(f"/requests/{created['id']}", headers=dpo.learner("u-lea"))).json()
    expected = compute_deadline(datetime.fromisoformat(created["received_at"]))
    assert detail["deadline"]["due_on"] == expected.due_on.isoformat()  # type: ignore[union-attr]
    assert detail["deadline"]["explanation_en"] == expected.explanation_en
    assert [s["kind"] for s in detail["deadline"]["rule_steps"]] == [
        s.kind.value for s in expected.rule_steps
    ]
    assert [e["kind"] for e in detail["timeline"]] == ["received"]
    received = await dpo.events("vigie.dpo.request.received", created["id"])
    assert [e["subject_id"] for e in received] == ["u-lea"]


async def test_calls_without_a_valid_token_or_role_are_refused_as_problems(dpo: Dpo) -> None:
    anonymous = await dpo.http.post("/requests", json={"request_type": "access"})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    forged = await dpo.http.get("/requests", headers={"Authorization": "Bearer abc.def.ghi"})
    assert forged.status_code == 401
    learner_as_dpo = await dpo.http.post(
        "/requests/registered",
        json={
            "request_type": "access",
            "requester": "x@example.org",
            "received_at": datetime.now(UTC).isoformat(),
        },
        headers=dpo.learner("u-1"),
    )
    assert learner_as_dpo.status_code == 403


async def test_a_learner_sees_only_their_own_requests(dpo: Dpo) -> None:
    mine = await dpo.http.post(
        "/requests", json={"request_type": "erasure"}, headers=dpo.learner("u-a")
    )
    theirs = await dpo.http.post(
        "/requests", json={"request_type": "erasure"}, headers=dpo.learner("u-b")
    )
    other_id = theirs.json()["id"]
    assert (
        await dpo.http.get(f"/requests/{other_id}", headers=dpo.learner("u-a"))
    ).status_code == 404
    withdraw = await dpo.http.post(
        f"/requests/{other_id}/withdraw", json={}, headers=dpo.learner("u-a")
    )
    assert withdraw.status_code == 404
    listed = (await dpo.http.get("/requests", headers=dpo.learner("u-a"))).json()
    assert [r["id"] for r in listed["items"]] == [mine.json()["id"]]
    everything = (await dpo.http.get("/requests", headers=dpo.officer())).json()
    assert {mine.json()["id"], other_id} <= {r["id"] for r in everything["items"]}


async def test_a_second_open_request_of_the_same_type_is_a_duplicate(dpo: Dpo) -> None:
    first = await dpo.http.post(
        "/requests", json={"request_type": "access"}, headers=dpo.learner("u-dup")
    )
    again = await dpo.http.post(
        "/requests", json={"request_type": "access"}, headers=dpo.learner("u-dup")
    )
    assert again.status_code == 409
    assert again.json()["existing"] == first.json()["id"]
    by_post = await register(
        dpo, datetime.now(UTC) - timedelta(days=1), requester="x@example.org", subject_id="u-dup"
    )
    assert by_post["duplicate_of"] == first.json()["id"]


async def test_a_postal_request_is_due_one_month_after_its_receipt_date(dpo: Dpo) -> None:
    # Received Saturday 31 January 2026 in Paris: no 31 February, so Saturday 28 February,
    # then the next working day, Monday 2 March (Regulation 1182/71 Art. 3(2)(c) and 3(4)).
    created = await register(dpo, datetime(2026, 1, 31, 10, 0, tzinfo=UTC))
    assert created["due_on"] == "2026-03-02"
    detail = (await dpo.http.get(f"/requests/{created['id']}", headers=dpo.officer())).json()
    kinds = [s["kind"] for s in detail["deadline"]["rule_steps"]]
    assert kinds == ["receipt", "last_day_of_month", "next_working_day"]
    assert detail["overdue"] is True
    assert detail["deadline"]["overdue"] is True


async def test_a_receipt_date_in_the_future_is_refused(dpo: Dpo) -> None:
    response = await dpo.http.post(
        "/requests/registered",
        json={
            "request_type": "access",
            "requester": "x@example.org",
            "received_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        },
        headers=dpo.officer(),
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_asking_for_identity_stops_the_clock_until_the_answer(dpo: Dpo) -> None:
    received_at = datetime.now(UTC) - timedelta(days=5)
    created = await register(dpo, received_at)
    request_id = created["id"]
    asked = await dpo.http.post(
        f"/requests/{request_id}/identity-request",
        json={"what": "copie d'une pièce d'identité"},
        headers=dpo.officer(),
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "identity_pending"
    assert asked.json()["deadline"]["status"] == "suspended"
    assert asked.json()["deadline"]["due_on"] is None
    # The DPO asked 4 days ago: the answer today gives the requester those 4 days back.
    asked_at = datetime.now(UTC) - timedelta(days=4)
    await dpo.pool.execute(
        "UPDATE request_suspensions SET asked_at = $2 WHERE request_id = $1", request_id, asked_at
    )
    answered = await dpo.http.post(
        f"/requests/{request_id}/identity-received", headers=dpo.officer()
    )
    assert answered.status_code == 200, answered.text
    from dpo_requests.deadlines import ClockSuspension

    expected = compute_deadline(
        received_at, suspensions=[ClockSuspension(asked_on=asked_at, answered_on=datetime.now(UTC))]
    )
    assert answered.json()["status"] == "received"
    assert answered.json()["due_on"] == expected.due_on.isoformat()  # type: ignore[union-attr]
    assert "suspension" in [s["kind"] for s in answered.json()["deadline"]["rule_steps"]]


async def test_the_extension_is_granted_once_and_the_requester_is_told(dpo: Dpo) -> None:
    received_at = datetime.now(UTC) - timedelta(days=10)
    created = await register(dpo, received_at, requester="paul@example.org")
    url = f"/requests/{created['id']}/extend"
    first = await dpo.http.post(url, json={"reason": "archives papier"}, headers=dpo.officer())
    assert first.status_code == 200, first.text
    assert first.json()["deadline"]["extended"] is True
    assert first.json()["deadline"]["can_extend"] is False
    assert "extension" in [s["kind"] for s in first.json()["deadline"]["rule_steps"]]
    assert first.json()["due_on"] > created["due_on"]
    second = await dpo.http.post(url, json={"reason": "encore"}, headers=dpo.officer())
    assert second.status_code == 422
    assert second.headers["content-type"] == "application/problem+json"
    assert "single extension" in second.json()["detail"]
    events = await dpo.events("vigie.dpo.request.extended", created["id"])
    assert [e["reason"] for e in events] == ["archives papier"]
    mail = await dpo.pool.fetch(
        "SELECT body FROM outgoing_emails WHERE recipient = 'paul@example.org'"
    )
    assert len(mail) == 1
    assert "archives papier" in mail[0]["body"]


async def test_a_learner_from_the_sso_is_written_to_at_the_token_s_email(dpo: Dpo) -> None:
    """The gateway puts the address in access tokens granted the email scope (RFC 9068
    §2.2.3.1): notices reach learners who filed online, not only postal requesters."""
    learner = f"u-{uuid.uuid4().hex[:8]}"
    address = f"{learner}@demo.example.org"
    submitted = await dpo.http.post(
        "/requests",
        json={"request_type": "access"},
        headers=dpo.learner(learner, email=address),
    )
    assert submitted.status_code == 201, submitted.text
    url = f"/requests/{submitted.json()['id']}/extend"
    extended = await dpo.http.post(url, json={"reason": "archives"}, headers=dpo.officer())
    assert extended.status_code == 200, extended.text
    mail = await dpo.pool.fetch("SELECT body FROM outgoing_emails WHERE recipient = $1", address)
    assert len(mail) == 1


async def test_an_extension_after_the_first_month_is_refused(dpo: Dpo) -> None:
    created = await register(dpo, datetime.now(UTC) - timedelta(days=45))
    response = await dpo.http.post(
        f"/requests/{created['id']}/extend", json={"reason": "trop tard"}, headers=dpo.officer()
    )
    assert response.status_code == 422
    assert "first month" in response.json()["detail"]


async def test_a_manifestly_unfounded_refusal_needs_a_written_justification(dpo: Dpo) -> None:
    created = await register(dpo, datetime.now(UTC) - timedelta(days=2))
    url = f"/requests/{created['id']}/refuse"
    bare = await dpo.http.post(
        url, json={"ground": "manifestly_unfounded", "reason": "abusif"}, headers=dpo.officer()
    )
    assert bare.status_code == 422
    refused = await dpo.http.post(
        url,
        json={
            "ground": "manifestly_unfounded",
            "reason": "douzième demande identique ce mois-ci",
            "justification": "11 demandes identiques depuis le 1er, toutes traitées",
        },
        headers=dpo.officer(),
    )
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "refused"
    assert "CNIL" in refused.json()["refusal"]["complaint_fr"]
    assert len(await dpo.events("vigie.dpo.request.refused", created["id"])) == 1
    again = await dpo.http.post(
        url, json={"ground": "other", "reason": "bis"}, headers=dpo.officer()
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


async def test_the_author_withdraws_a_request(dpo: Dpo) -> None:
    created = await dpo.http.post(
        "/requests", json={"request_type": "objection"}, headers=dpo.learner("u-w")
    )
    response = await dpo.http.post(
        f"/requests/{created.json()['id']}/withdraw",
        json={"reason": "réglé autrement"},
        headers=dpo.learner("u-w"),
    )
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert response.json()["timeline"][-1]["kind"] == "withdrawn"


async def test_a_rectification_must_list_its_corrections(dpo: Dpo) -> None:
    response = await dpo.http.post(
        "/requests", json={"request_type": "rectification"}, headers=dpo.learner("u-r")
    )
    assert response.status_code == 422
    ok = await dpo.http.post(
        "/requests",
        json={"request_type": "rectification", "corrections": {"lastname": "Dupont"}},
        headers=dpo.learner("u-r"),
    )
    assert ok.status_code == 201


async def test_requests_are_filtered_and_paged_by_keyset(dpo: Dpo) -> None:
    now = datetime.now(UTC)
    ids = []
    for days, kind in [
        (50, "access"),
        (40, "erasure"),
        (20, "access"),
        (10, "access"),
        (2, "erasure"),
    ]:
        created = await register(
            dpo, now - timedelta(days=days), request_type=kind, subject_id="u-page"
        )
        ids.append(created["id"])
    me = dpo.learner("u-page")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await dpo.http.get("/requests", params=params, headers=me)).json()
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    access = (await dpo.http.get("/requests", params={"type": "access"}, headers=me)).json()
    assert [r["id"] for r in access["items"]] == [ids[3], ids[2], ids[0]]
    overdue = (await dpo.http.get("/requests", params={"overdue": "true"}, headers=me)).json()
    assert [r["id"] for r in overdue["items"]] == [ids[1], ids[0]]
    assert all(r["overdue"] for r in overdue["items"])
    cut = (now + timedelta(days=15)).date().isoformat()
    soon = (await dpo.http.get("/requests", params={"due_before": cut}, headers=me)).json()
    assert [r["id"] for r in soon["items"]] == [ids[2], ids[1], ids[0]]
    bad = await dpo.http.get("/requests", params={"cursor": "!!"}, headers=me)
    assert bad.status_code == 400


async def test_the_api_is_described_by_an_openapi_document(dpo: Dpo) -> None:
    document = (await dpo.http.get("/openapi.json")).json()
    for path in (
        "/requests",
        "/requests/{request_id}",
        "/requests/{request_id}/extend",
        "/public/requests",
        "/tasks/{task_id}/complete",
        "/packages/{token}",
    ):
        assert path in document["paths"]
