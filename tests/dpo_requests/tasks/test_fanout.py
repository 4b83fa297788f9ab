"""Fan-out to data systems: manual systems, late answers retried then escalated, failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dpo_requests.requests.service import rights_request
from tests.dpo_requests.support import Dpo
from vigie_shared.events import DpoTaskCompleted, DpoTaskFailed, TaskAction

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


async def verified(dpo: Dpo, request_type: str, subject: str) -> dict[str, Any]:
    created = await dpo.http.post(
        "/requests/registered",
        json={
            "request_type": request_type,
            "requester": f"{subject}@example.org",
            "subject_id": subject,
            "channel": "email",
            "received_at": (datetime.now(UTC) - timedelta(days=3)).isoformat(),
        },
        headers=dpo.officer(),
    )
    assert created.status_code == 201, created.text
    response = await dpo.http.post(
        f"/requests/{created.json()['id']}/verify",
        json={"method": "document", "note": "copie de la carte d'étudiant"},
        headers=dpo.officer(),
    )
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = response.json()
    return detail


async def task_requests(dpo: Dpo, task_id: str) -> int:
    rows = await dpo.pool.fetch("SELECT headers, value FROM outbox ORDER BY id")
    return sum(
        1
        for r in rows
        if dict(r["headers"])["ce_type"] == "vigie.dpo.task.requested"
        and json.loads(r["value"])["task_id"] == task_id
    )


async def test_a_system_that_is_not_automated_gets_a_manual_task_closed_by_hand(
    dpo: Dpo,
) -> None:
    declared = await dpo.http.put(
        "/data-systems/paper_archives",
        json={"actions": ["restrict"], "description": "dossiers papier, bâtiment B"},
        headers=dpo.officer(),
    )
    assert declared.status_code == 200, declared.text
    assert declared.json()["automated"] is False
    request = await verified(dpo, "restriction", "u-paper")
    assert request["status"] == "in_progress"
    [task] = request["tasks"]
    assert (task["system"], task["action"], task["manual"]) == ("paper_archives", "restrict", True)
    assert await task_requests(dpo, task["id"]) == 0
    waiting = (await dpo.http.get("/tasks?manual=true", headers=dpo.officer())).json()
    assert task["id"] in [t["id"] for t in waiting]

    done = await dpo.http.post(
        f"/tasks/{task['id']}/complete",
        json={"note": "dossier mis sous scellé, armoire 4"},
        headers=dpo.officer(),
    )
    assert done.status_code == 200, done.text
    detail = (await dpo.http.get(f"/requests/{request['id']}", headers=dpo.officer())).json()
    assert detail["status"] == "completed"
    assert detail["answered_in_time"] is True
    assert detail["result"]["package_url"] is None
    assert detail["result"]["systems"] == [
        {
            "system": "paper_archives",
            "action": "restrict",
            "outcome": "done by hand: dossier mis sous scellé, armoire 4",
        }
    ]
    assert len(await dpo.events("vigie.dpo.request.completed", request["id"])) == 1
    again = await dpo.http.post(
        f"/tasks/{task['id']}/complete", json={"note": "bis"}, headers=dpo.officer()
    )
    assert again.status_code == 409


async def test_a_late_system_is_asked_again_then_its_task_escalated_to_the_dpo(dpo: Dpo) -> None:
    await dpo.http.put(
        "/data-systems/crm",
        json={"actions": ["object"], "automated": True},
        headers=dpo.officer(),
    )
    request = await verified(dpo, "objection", "u-late")
    [task] = request["tasks"]
    assert (task["status"], task["manual"], task["attempts"]) == ("pending", False, 1)
    assert await task_requests(dpo, task["id"]) == 1

    late = datetime.now(UTC) + timedelta(seconds=dpo.settings.task_timeout_seconds + 1)
    async with dpo.pool.acquire() as conn:
        await rights_request.sweep(conn, now=late, settings=dpo.settings)
    assert await task_requests(dpo, task["id"]) == 2
    for _ in range(dpo.settings.task_max_attempts):
        late += timedelta(seconds=dpo.settings.task_timeout_seconds + 1)
        async with dpo.pool.acquire() as conn:
            await rights_request.sweep(conn, now=late, settings=dpo.settings)
    detail = (await dpo.http.get(f"/requests/{request['id']}", headers=dpo.officer())).json()
    [task] = detail["tasks"]
    assert (task["status"], task["manual"]) == ("timed_out", True)
    assert task["attempts"] == dpo.settings.task_max_attempts
    assert await task_requests(dpo, task["id"]) == dpo.settings.task_max_attempts
    assert detail["status"] == "in_progress"

    unexplained = await dpo.http.post(
        f"/requests/{request['id']}/complete", json={}, headers=dpo.officer()
    )
    assert unexplained.status_code == 422
    closed = await dpo.http.post(
        f"/requests/{request['id']}/complete",
        json={"note": "le CRM est hors service ; opposition notée au dossier"},
        headers=dpo.officer(),
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "completed"
    assert closed.json()["result"]["partial"] is True
    assert closed.json()["result"]["systems"][0]["outcome"].startswith("timed_out")


async def test_a_retryable_failure_is_retried_and_a_final_one_escalated(dpo: Dpo) -> None:
    await dpo.http.put(
        "/data-systems/exams",
        json={"actions": ["rectify"], "automated": True},
        headers=dpo.officer(),
    )
    created = await dpo.http.post(
        "/requests",
        json={"request_type": "rectification", "corrections": {"lastname": "Martin"}},
        headers=dpo.learner("u-fail"),
    )
    verify = await dpo.http.post(
        f"/requests/{created.json()['id']}/verify", json={"method": "sso"}, headers=dpo.officer()
    )
    [task] = verify.json()["tasks"]

    def failure(retryable: bool) -> DpoTaskFailed:
        return DpoTaskFailed(
            task_id=task["id"],
            request_id=created.json()["id"],
            system="exams",
            action=TaskAction.RECTIFY,
            error="database locked" if retryable else "record archived, read-only",
            retryable=retryable,
        )

    async with dpo.pool.acquire() as conn, conn.transaction():
        await rights_request.on_task_failed(conn, failure(True), dpo.settings)
    assert await task_requests(dpo, task["id"]) == 2
    async with dpo.pool.acquire() as conn, conn.transaction():
        await rights_request.on_task_failed(conn, failure(False), dpo.settings)
        await rights_request.on_task_failed(conn, failure(False), dpo.settings)
    detail = (await dpo.http.get(f"/requests/{created.json()['id']}", headers=dpo.officer())).json()
    [task] = detail["tasks"]
    assert (task["status"], task["manual"], task["error"]) == (
        "failed",
        True,
        "record archived, read-only",
    )
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds.count("task.failed") == 1
    assert kinds.count("task.retried") == 1


async def test_verifying_a_request_without_a_known_subject_asks_for_one(dpo: Dpo) -> None:
    created = await dpo.http.post(
        "/requests/registered",
        json={
            "request_type": "access",
            "requester": "M. Durand, 3 rue des Lilas",
            "channel": "post",
            "received_at": datetime.now(UTC).isoformat(),
        },
        headers=dpo.officer(),
    )
    url = f"/requests/{created.json()['id']}/verify"
    response = await dpo.http.post(url, json={"method": "document"}, headers=dpo.officer())
    assert response.status_code == 422
    named = await dpo.http.post(
        url, json={"method": "document", "subject_id": "u-durand"}, headers=dpo.officer()
    )
    assert named.status_code == 200
    assert named.json()["subject_id"] == "u-durand"
    assert (
        await dpo.http.post(url, json={"method": "document"}, headers=dpo.officer())
    ).status_code == 409


async def test_a_withdrawn_request_stops_asking_late_systems(dpo: Dpo) -> None:
    await dpo.http.put(
        "/data-systems/lms", json={"actions": ["erase"], "automated": True}, headers=dpo.officer()
    )
    request = await verified(dpo, "erasure", "u-changed-mind")
    [task] = request["tasks"]
    withdrawn = await dpo.http.post(
        f"/requests/{request['id']}/withdraw", json={}, headers=dpo.learner("u-changed-mind")
    )
    assert withdrawn.json()["status"] == "withdrawn"
    late = datetime.now(UTC) + timedelta(seconds=dpo.settings.task_timeout_seconds + 1)
    async with dpo.pool.acquire() as conn:
        await rights_request.sweep(conn, now=late, settings=dpo.settings)
    assert await task_requests(dpo, task["id"]) == 1


async def test_an_answer_after_escalation_still_completes_the_request(dpo: Dpo) -> None:
    await dpo.http.put(
        "/data-systems/crm", json={"actions": ["object"], "automated": True}, headers=dpo.officer()
    )
    request = await verified(dpo, "objection", "u-slow")
    [task] = request["tasks"]
    late = datetime.now(UTC)
    for _ in range(dpo.settings.task_max_attempts):
        late += timedelta(seconds=dpo.settings.task_timeout_seconds + 1)
        async with dpo.pool.acquire() as conn:
            await rights_request.sweep(conn, now=late, settings=dpo.settings)
    answer = DpoTaskCompleted(
        task_id=task["id"],
        request_id=request["id"],
        system="crm",
        action=TaskAction.OBJECT,
        data={"marketing": "opted out"},
    )
    for _ in range(2):  # a redelivery changes nothing
        async with dpo.pool.acquire() as conn, conn.transaction():
            await rights_request.on_task_completed(conn, answer, dpo.settings)
    detail = (await dpo.http.get(f"/requests/{request['id']}", headers=dpo.officer())).json()
    assert detail["status"] == "completed"
    assert detail["tasks"][0]["status"] == "completed"
    assert detail["result"]["systems"][0]["outcome"] == "done by crm"
    assert [e["kind"] for e in detail["timeline"]].count("task.completed") == 1
    assert len(await dpo.events("vigie.dpo.request.completed", request["id"])) == 1
