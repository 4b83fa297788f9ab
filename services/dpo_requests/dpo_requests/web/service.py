"""What the pages need beyond the JSON API's services: the work queue sorted by due date, and
the learner's answer to a request for identity information. Both compose the requests
feature's service and repository; neither holds SQL or lifecycle rules of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from dpo_requests.config import Settings
from dpo_requests.requests.repository import OPEN_STATUSES, request_repository
from dpo_requests.requests.schemas import RequestDetail, RequestPublic
from dpo_requests.requests.service import actor_of, rights_request
from vigie_shared.events import RequestType
from vigie_shared.kit.db import Conn
from vigie_shared.kit.http import Problem
from vigie_shared.kit.oidc import Principal

PAGE_SIZE = 25
# The queue is sorted in memory: a year is ~150 requests (issue 6); far beyond this the
# repository should sort by due date itself.
QUEUE_CAP = 5_000
Sort = Literal["due", "received"]


@dataclass(frozen=True)
class QueuePage:
    items: list[RequestPublic]
    total: int
    page: int
    pages: int


def _due_key(item: RequestPublic) -> tuple[bool, date, datetime]:
    # Stopped clocks (no due date) last: nothing is owed until the information arrives.
    return (item.due_on is None, item.due_on or date.max, item.received_at)


async def queue(
    conn: Conn,
    dpo: Principal,
    *,
    status: str | None,
    open_only: bool,
    request_type: RequestType | None,
    overdue: bool,
    sort: Sort,
    page: int,
) -> QueuePage:
    found: list[RequestPublic] = []
    cursor: str | None = None
    while len(found) < QUEUE_CAP:
        batch = await rights_request.page(
            conn,
            dpo,
            limit=200,
            cursor=cursor,
            status=status,
            request_type=request_type,
            due_before=None,
            due_after=None,
            overdue=overdue,
        )
        found += batch.items
        cursor = batch.next_cursor
        if cursor is None:
            break
    if open_only:
        found = [r for r in found if r.status in OPEN_STATUSES]
    if sort == "due":
        found.sort(key=_due_key)
    pages = max(1, -(-len(found) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    start = (page - 1) * PAGE_SIZE
    return QueuePage(
        items=found[start : start + PAGE_SIZE], total=len(found), page=page, pages=pages
    )


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
