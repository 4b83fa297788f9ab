"""What the pages need beyond the JSON API's services: a request with its dates written as the
reader's language does, the systems' outcomes as data, the work queue sorted by due date, and
the learner's answer to a request for identity information. They compose the requests
feature's service and repository; none holds SQL or lifecycle rules of its own."""

from __future__ import annotations

from dataclasses import dataclass

from dpo_requests.config import Settings
from dpo_requests.deadlines import paris_date, texts
from dpo_requests.requests.core import TaskOutcome, outcome_of
from dpo_requests.requests.repository import OPEN_STATUSES, QueueSort, request_repository
from dpo_requests.requests.schemas import RequestDetail, RequestPublic
from dpo_requests.requests.service import actor_of, rights_request
from vigie_shared.events import RequestType
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn
from vigie_shared.kit.http import Problem
from vigie_shared.kit.i18n import format_date
from vigie_shared.kit.oidc import Principal

PAGE_SIZE = 25


@dataclass(frozen=True)
class QueuePage:
    items: list[RequestPublic]
    total: int
    page: int
    pages: int


async def queue(
    conn: Conn,
    *,
    status: str | None,
    open_only: bool,
    request_type: RequestType | None,
    overdue: bool,
    sort: QueueSort,
    page: int,
) -> QueuePage:
    """The DPO's work queue, filtered, sorted and paged by the database."""
    now = utcnow()
    statuses = list(OPEN_STATUSES) if open_only else [status] if status is not None else None
    found = await request_repository.queue(
        conn,
        statuses=statuses,
        request_type=request_type.value if request_type else None,
        overdue_on=paris_date(now) if overdue else None,
        sort=sort,
        limit=PAGE_SIZE,
        page=page,
    )
    return QueuePage(
        items=[rights_request.public(row, now) for row in found.rows],
        total=found.total,
        page=found.page,
        pages=found.pages,
    )


async def detail(
    conn: Conn, request_id: str, principal: Principal, settings: Settings
) -> RequestDetail:
    """A request as its page shows it: the deadline's explanation writes each date once, as
    its language does (CLDR), rather than in the API's dd/mm/yyyy."""
    with texts.dates_written_by(
        lambda day: format_date(day, "fr"), lambda day: format_date(day, "en")
    ):
        return await rights_request.detail(conn, request_id, principal, settings)


def outcomes(detail: RequestDetail) -> list[TaskOutcome]:
    """Each system's outcome of a completed request, as data for the page to word."""
    return [outcome_of(task) for task in detail.tasks] if detail.result else []


def identity_question(detail: RequestDetail) -> str | None:
    """What the DPO asked for, while the clock is stopped for it (GDPR Art. 12(6))."""
    if detail.status != "identity_pending":
        return None
    asked = [e for e in detail.timeline if e.kind == "identity_requested"]
    return str(asked[-1].detail.get("what", "")) if asked else ""


async def answer_identity(
    conn: Conn, request_id: str, answer: str, learner: Principal, settings: Settings
) -> None:
    """The learner answers the DPO's question: the answer goes on the timeline, and the clock
    restarts (the DPO then verifies), in one transaction."""
    async with conn.transaction():
        # 404 for someone else's request, as everywhere.
        detail = await rights_request.detail(conn, request_id, learner, settings)
        if detail.status != "identity_pending":
            raise Problem(409, "Invalid transition", "No information is being asked for.")
        await request_repository.add_timeline(
            conn,
            request_id,
            kind="identity_answer",
            actor_kind="user",
            actor_id=learner.subject,
            detail={"answer": answer},
        )
        await rights_request.identity_received(conn, request_id, actor_of(learner))
