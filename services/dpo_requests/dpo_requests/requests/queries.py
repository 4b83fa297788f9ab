"""Reading requests: the caller's page of requests (keyset pagination) and one request in
full, with its deadline explained, its tasks, its result and its timeline."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime

from dpo_requests.config import Settings
from dpo_requests.deadlines import can_extend, is_due_soon, is_overdue, paris_date
from dpo_requests.requests.core import RequestCore
from dpo_requests.requests.repository import OPEN_STATUSES, RequestRecord
from dpo_requests.requests.schemas import (
    DeadlinePublic,
    RefusalPublic,
    RequestDetail,
    RequestPage,
    ResultPublic,
    RuleStepPublic,
    TimelineEntry,
)
from dpo_requests.tasks.schemas import TaskPublic
from vigie_shared.events import RequestType
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn
from vigie_shared.kit.http import Problem
from vigie_shared.kit.oidc import Principal


def _encode_cursor(row: RequestRecord) -> str:
    raw = json.dumps([row.received_at.isoformat(), row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, request_id = json.loads(raw)
        return datetime.fromisoformat(at), str(request_id)
    except (ValueError, TypeError) as exc:
        raise Problem(400, "Bad Request", "Invalid cursor.") from exc


class RequestQueries(RequestCore):
    async def page(
        self,
        conn: Conn,
        principal: Principal,
        *,
        limit: int,
        cursor: str | None,
        status: str | None,
        request_type: RequestType | None,
        due_before: date | None,
        due_after: date | None,
        overdue: bool,
    ) -> RequestPage:
        now = utcnow()
        rows = await self._repository.page(
            conn,
            limit=limit + 1,
            after=_decode_cursor(cursor) if cursor else None,
            subject_id=None if "dpo" in principal.roles else principal.subject,
            status=status,
            request_type=request_type.value if request_type else None,
            due_before=due_before,
            due_after=due_after,
            overdue_on=paris_date(now) if overdue else None,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return RequestPage(
            items=[self.public(r, now) for r in rows],
            next_cursor=_encode_cursor(rows[-1]) if more and rows else None,
        )

    async def detail(
        self, conn: Conn, request_id: str, principal: Principal, settings: Settings
    ) -> RequestDetail:
        row = await self._repository.get(conn, request_id)
        if row is None:
            raise Problem(404, "Not Found", f"No request {request_id}.")
        self._check_access(row, principal)
        now = utcnow()
        today = paris_date(now)
        # Shown for closed requests too: was it answered in time? The flags are for open ones.
        is_open = row.status in OPEN_STATUSES
        deadline = await self.deadline(conn, row)
        deadline_public = DeadlinePublic(
            due_on=deadline.due_on,
            status=deadline.status.value,
            extended=deadline.extended,
            days_left=deadline.days_left(today),
            overdue=is_open and is_overdue(deadline, today),
            due_soon=is_open and is_due_soon(deadline, today),
            can_extend=is_open and can_extend(deadline, today),
            explanation_fr=deadline.explanation_fr,
            explanation_en=deadline.explanation_en,
            rule_steps=[
                RuleStepPublic(
                    kind=s.kind.value,
                    on=s.on,
                    legal_basis=s.legal_basis.value,
                    text_fr=s.text_fr,
                    text_en=s.text_en,
                )
                for s in deadline.rule_steps
            ],
        )
        tasks = await self._tasks.tasks_of(conn, request_id)
        result = None
        if row.status == "completed":
            package = await self._packages.of_request(conn, request_id)
            outcomes = self._outcomes(tasks)
            result = ResultPublic(
                package_url=self._packages.url(package, settings) if package else None,
                package_expires_at=package.expires_at if package else None,
                systems=outcomes,
                partial=any(t.status != "completed" for t in tasks),
                note=row.closing_note,
            )
        refusal = None
        if row.status == "refused":
            refusal = RefusalPublic(
                ground=row.refusal_ground,
                reason=row.refusal_reason,
                justification=row.refusal_justification,
            )
        return RequestDetail(
            **self.public(row, now).model_dump(),
            message=row.message,
            corrections=row.corrections,
            verification_method=row.verification_method,
            verified_at=row.verified_at,
            extension_reason=row.extension_reason,
            deadline=deadline_public,
            closed_at=row.closed_at,
            answered_in_time=None
            if row.closed_at is None or deadline.due_on is None
            else paris_date(row.closed_at) <= deadline.due_on,
            refusal=refusal,
            result=result,
            tasks=[TaskPublic.model_validate(t) for t in tasks],
            timeline=[
                TimelineEntry(
                    at=e.at,
                    kind=e.kind,
                    actor=f"{e.actor_kind}:{e.actor_id}",
                    detail=e.detail,
                )
                for e in await self._repository.timeline(conn, request_id)
            ],
        )
