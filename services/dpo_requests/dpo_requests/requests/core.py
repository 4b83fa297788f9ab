"""What every part of the request service shares: the stored request's deadline and its
lock, its journal (timeline entry, event, mail to the requester) and its public shape.

The due date is always recomputed from the receipt date, the extension and the suspensions by
:func:`dpo_requests.deadlines.compute_deadline` (GDPR Art. 12(3), Regulation 1182/71) and
stored for filtering and reminders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from dpo_requests.config import SOURCE
from dpo_requests.deadlines import (
    ClockSuspension,
    Deadline,
    Extension,
    compute_deadline,
    paris_date,
)
from dpo_requests.notifications.service import EmailSender, is_email
from dpo_requests.packages.service import PackageService
from dpo_requests.requests.repository import OPEN_STATUSES, RequestRecord, RequestRepository
from dpo_requests.requests.schemas import RequestPublic, SystemOutcome
from dpo_requests.tasks.repository import Task
from dpo_requests.tasks.service import TaskService
from vigie_shared.events import Actor, EventData, RequestType, new_event
from vigie_shared.kit import outbox
from vigie_shared.kit.db import Conn
from vigie_shared.kit.http import Problem
from vigie_shared.kit.oidc import Principal

SYSTEM = Actor(kind="system", id="dpo_requests")


class How(StrEnum):
    """How a data system's part of a request ended."""

    AUTOMATED = "automated"
    BY_HAND = "by_hand"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    PENDING = "pending"


class TaskState(Protocol):
    """What an outcome is read from: a stored task, or the API's view of one."""

    @property
    def system(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def note(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def finished_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """One system's outcome as data: the pages word it in the reader's language."""

    system: str
    action: str
    how: How
    note: str | None
    """The DPO's note for a task done by hand, the system's error for a failed one."""
    at: datetime | None

    @property
    def english(self) -> str:
        """The sentence the JSON API has always given in ``SystemOutcome.outcome``."""
        if self.how is How.BY_HAND:
            return f"done by hand: {self.note}"
        if self.how is How.AUTOMATED:
            return f"done by {self.system}"
        if self.how is How.PENDING:
            return "no answer yet"
        return f"{self.how.value}: {self.note or 'no answer'}"


def outcome_of(task: TaskState) -> TaskOutcome:
    if task.status == "completed":
        how, note = (How.AUTOMATED, None) if task.note is None else (How.BY_HAND, task.note)
    elif task.status == "pending":
        how, note = How.PENDING, None
    else:
        how = How.TIMED_OUT if task.status == "timed_out" else How.FAILED
        note = task.error
    return TaskOutcome(task.system, task.action, how, note, task.finished_at)


def actor_of(principal: Principal) -> Actor:
    return Actor(kind="user", id=principal.subject)


def conflict(title: str, detail: str) -> Problem:
    return Problem(409, title, detail, type_="https://vigie.example/problems/invalid-transition")


class RequestCore:
    def __init__(
        self,
        repository: RequestRepository,
        tasks: TaskService,
        packages: PackageService,
        mail: EmailSender,
    ) -> None:
        self._repository = repository
        self._tasks = tasks
        self._packages = packages
        self._mail = mail

    async def deadline(self, conn: Conn, request: RequestRecord) -> Deadline:
        suspensions = [
            ClockSuspension(asked_on=s.asked_at, answered_on=s.answered_at)
            for s in await self._repository.suspensions(conn, request.id)
        ]
        extension = None
        if request.extended_on is not None:
            # extend() writes the date and the reasons together (GDPR Art. 12(3)).
            assert request.extension_reason is not None
            extension = Extension(requested_on=request.extended_on, reason=request.extension_reason)
        return compute_deadline(request.received_at, extended=extension, suspensions=suspensions)

    async def _refresh_due_on(self, conn: Conn, request: RequestRecord) -> RequestRecord:
        deadline = await self.deadline(conn, request)
        if deadline.due_on == request.due_on:
            return request
        return await self._repository.update(conn, request.id, due_on=deadline.due_on)

    async def _lock(self, conn: Conn, request_id: str, *allowed: str) -> RequestRecord:
        row = await self._repository.get(conn, request_id, lock=True)
        if row is None:
            raise Problem(404, "Not Found", f"No request {request_id}.")
        if allowed and row.status not in allowed:
            raise conflict(
                "Invalid transition",
                f"Request {request_id} is {row.status}; this needs one of {', '.join(allowed)}.",
            )
        return row

    def _check_access(self, row: RequestRecord, principal: Principal) -> None:
        # A learner sees only their own requests; a foreign id looks like a missing one, and
        # the attempt is recorded for the audit log.
        if "dpo" not in principal.roles and row.subject_id != principal.subject:
            raise Problem(404, "Not Found", f"No request {row.id}.", denial="not_owner")

    def public(self, row: RequestRecord, now: datetime) -> RequestPublic:
        return RequestPublic(
            id=row.id,
            request_type=RequestType(row.request_type),
            requester=row.requester,
            subject_id=row.subject_id,
            channel=row.channel,
            received_at=row.received_at,
            due_on=row.due_on,
            status=row.status,
            overdue=row.status in OPEN_STATUSES
            and row.due_on is not None
            and row.due_on < paris_date(now),
            duplicate_of=row.duplicate_of,
        )

    @staticmethod
    def _outcomes(tasks: list[Task]) -> list[SystemOutcome]:
        """The API's shape of each outcome: ``outcome`` is the English sentence clients already
        read; pages build theirs in the reader's language from :func:`outcome_of`."""
        return [
            SystemOutcome(system=task.system, action=task.action, outcome=outcome_of(task).english)
            for task in tasks
        ]

    async def _timeline(
        self, conn: Conn, row: RequestRecord, kind: str, actor: Actor, detail: dict[str, Any]
    ) -> None:
        await self._repository.add_timeline(
            conn, row.id, kind=kind, actor_kind=actor.kind, actor_id=actor.id, detail=detail
        )

    async def _announce(self, conn: Conn, row: RequestRecord, data: EventData) -> None:
        """Every transition is an event (keyed by the learner when known, else the request)."""
        await outbox.enqueue(conn, new_event(data, subject=row.subject_id or row.id, source=SOURCE))

    async def _inform(self, conn: Conn, row: RequestRecord, subject: str, body: str) -> None:
        if is_email(row.requester):
            await self._mail.send(conn, to=row.requester, subject=subject, body=body)
