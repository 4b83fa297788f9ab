"""Requests from people without an account, filed once the e-mailed one-time code is confirmed."""

from __future__ import annotations

import re

import pytest

from tests.dpo_requests.support import Dpo

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


async def submit(dpo: Dpo, email: str) -> tuple[str, str]:
    response = await dpo.http.post(
        "/public/requests",
        json={"email": email, "request_type": "erasure", "message": "Supprimez mon compte"},
    )
    assert response.status_code == 202, response.text
    body = await dpo.pool.fetchval(
        "SELECT body FROM outgoing_emails WHERE recipient = $1 ORDER BY id DESC LIMIT 1", email
    )
    code = re.search(r"\b(\d{6})\b", body)
    assert code is not None
    assert code.group(1) not in response.text
    return response.json()["id"], code.group(1)


async def test_a_request_without_account_is_filed_when_the_emailed_code_is_confirmed(
    dpo: Dpo,
) -> None:
    submission, code = await submit(dpo, "sans.compte@example.org")
    assert await dpo.pool.fetchval("SELECT count(*) FROM requests") == 0
    stored = await dpo.pool.fetchval(
        "SELECT code_hash FROM email_submissions WHERE id = $1", submission
    )
    assert code not in stored
    confirmed = await dpo.http.post(f"/public/requests/{submission}/confirm", json={"code": code})
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["requester"] == "sans.compte@example.org"
    assert confirmed.json()["request_type"] == "erasure"
    assert confirmed.json()["status"] == "received"
    replay = await dpo.http.post(f"/public/requests/{submission}/confirm", json={"code": code})
    assert replay.status_code == 404
    detail = (
        await dpo.http.get(f"/requests/{confirmed.json()['id']}", headers=dpo.officer())
    ).json()
    assert detail["timeline"][0]["detail"]["identity"].startswith("e-mail address confirmed")


async def test_wrong_codes_are_counted_and_the_code_dies_after_too_many(dpo: Dpo) -> None:
    submission, code = await submit(dpo, "devine@example.org")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(dpo.settings.email_code_max_attempts):
        response = await dpo.http.post(
            f"/public/requests/{submission}/confirm", json={"code": wrong}
        )
        assert response.status_code == 422
    right = await dpo.http.post(f"/public/requests/{submission}/confirm", json={"code": code})
    assert right.status_code == 429
    assert right.headers["content-type"] == "application/problem+json"


async def test_an_expired_code_is_refused(dpo: Dpo) -> None:
    submission, code = await submit(dpo, "tardif@example.org")
    await dpo.pool.execute(
        "UPDATE email_submissions SET expires_at = now() - interval '1 second' WHERE id = $1",
        submission,
    )
    response = await dpo.http.post(f"/public/requests/{submission}/confirm", json={"code": code})
    assert response.status_code == 410


async def test_one_address_cannot_be_flooded_with_codes(dpo: Dpo) -> None:
    for _ in range(dpo.settings.email_submissions_per_hour):
        await submit(dpo, "cible@example.org")
    response = await dpo.http.post(
        "/public/requests", json={"email": "Cible@example.org", "request_type": "access"}
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3600"
