"""Each system's outcome of a completed request is data (who, how, note, when); the pages word
it in the reader's language, and the JSON API keeps the English sentence it has always given."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dpo_requests.requests.core import How, RequestCore, TaskOutcome, outcome_of
from dpo_requests.requests.repository import request_repository
from dpo_requests.tasks.repository import Task, task_repository
from dpo_requests.web.formatting import fmt_outcome
from tests.dpo_requests.support import Dpo, unique
from tests.dpo_requests.web.support import browser
from tests.dpo_requests.web.test_formatting import new_request, text_of

FINISHED = datetime(2026, 7, 14, 23, 30, tzinfo=UTC)  # 15 July in Paris


def task(status: str, *, note: str | None = None, error: str | None = None) -> Task:
    return Task(
        id="t-1",
        request_id="r-1",
        system="moodle",
        action="erase",
        status=status,
        manual=note is not None,
        attempts=1,
        requested_at=FINISHED,
        due_at=None,
        finished_at=None if status == "pending" else FINISHED,
        data=None,
        data_ref=None,
        error=error,
        note=note,
        completed_by=None,
    )


def test_each_task_status_is_one_kind_of_outcome() -> None:
    assert outcome_of(task("completed")) == TaskOutcome(
        "moodle", "erase", How.AUTOMATED, None, FINISHED
    )
    assert outcome_of(task("completed", note="carton B-12")).how is How.BY_HAND
    assert outcome_of(task("completed", note="carton B-12")).note == "carton B-12"
    assert outcome_of(task("failed", error="no such user")).how is How.FAILED
    assert outcome_of(task("failed", error="no such user")).note == "no such user"
    assert outcome_of(task("timed_out")).how is How.TIMED_OUT
    assert outcome_of(task("pending")) == TaskOutcome("moodle", "erase", How.PENDING, None, None)


def test_the_api_keeps_its_english_sentences() -> None:
    tasks = [
        task("completed"),
        task("completed", note="rien à effacer"),
        task("pending"),
        task("failed", error="no such user"),
        task("timed_out"),
    ]
    assert [o.outcome for o in RequestCore._outcomes(tasks)] == [
        "done by moodle",
        "done by hand: rien à effacer",
        "no answer yet",
        "failed: no such user",
        "timed_out: no answer",
    ]


@pytest.mark.parametrize(
    ("outcome", "french", "english"),
    [
        (
            outcome_of(task("completed")),
            "fait par le système lui-même (15/07/2026)",
            "done by the system itself (Jul 15, 2026)",
        ),
        (
            outcome_of(task("completed", note="carton B-12")),
            "fait à la main : carton B-12 (15/07/2026)",
            "done by hand: carton B-12 (Jul 15, 2026)",
        ),
        (
            outcome_of(task("failed", error="no such user")),
            "échec : no such user (15/07/2026)",
            "failed: no such user (Jul 15, 2026)",
        ),
        (outcome_of(task("failed")), "échec (15/07/2026)", "failed (Jul 15, 2026)"),
        (
            outcome_of(task("timed_out")),
            "pas de réponse du système (15/07/2026)",
            "no answer from the system (Jul 15, 2026)",
        ),
        (outcome_of(task("pending")), "pas encore de réponse", "no answer yet"),
    ],
)
def test_an_outcome_is_worded_in_each_language(
    outcome: TaskOutcome, french: str, english: str
) -> None:
    assert fmt_outcome(outcome, "fr") == french
    assert fmt_outcome(outcome, "en") == english


@pytest.mark.broker
@pytest.mark.asyncio(loop_scope="session")
async def test_the_learner_reads_each_systems_outcome_in_their_language(dpo: Dpo) -> None:
    learner = unique("u")
    request_id = await new_request(dpo, learner)
    async with dpo.pool.acquire() as conn:
        for system, note in (("moodle", None), ("archives_papier", "carton B-12 détruit")):
            created = await task_repository.insert(
                conn,
                task_id=unique("t"),
                request_id=request_id,
                system=system,
                action="access",
                manual=note is not None,
                requested_at=FINISHED,
                due_at=None,
            )
            assert created is not None
            await task_repository.update(
                conn, created.id, status="completed", finished_at=FINISHED, note=note
            )
        await request_repository.update(conn, request_id, status="completed", closed_at=FINISHED)
    async with browser(dpo, learner, "learner") as b:
        french = text_of((await b.get(f"/pages/requests/{request_id}?lang=fr")).text)
        english = text_of((await b.get(f"/pages/requests/{request_id}?lang=en")).text)
    detail = (await dpo.http.get(f"/requests/{request_id}", headers=dpo.learner(learner))).json()
    assert {o["system"]: o["outcome"] for o in detail["result"]["systems"]} == {
        "moodle": "done by moodle",
        "archives_papier": "done by hand: carton B-12 détruit",
    }
    assert "moodle : fait par le système lui-même (15/07/2026)" in french
    assert "archives_papier : fait à la main : carton B-12 détruit (15/07/2026)" in french
    assert "done by" not in french
    assert "moodle: done by the system itself (Jul 15, 2026)" in english
    assert "archives_papier: done by hand: carton B-12 détruit (Jul 15, 2026)" in english
    assert "done by moodle" not in english
