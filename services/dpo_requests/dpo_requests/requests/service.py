"""The lifecycle of a rights request and its legal deadline.

States (every change is on the request's timeline and, where the event catalog has a type for
it, an event through the outbox in the same transaction)::

    received ──ask identity info──> identity_pending ──info received──> received
    received | identity_pending ──verify──> in_progress ──all tasks done / DPO closes──> completed
    received | identity_pending | in_progress ──refuse──> refused
    received | identity_pending | in_progress ──withdraw──> withdrawn

The due date is always recomputed from the receipt date, the extension and the suspensions by
:func:`dpo_requests.deadlines.compute_deadline` (GDPR Art. 12(3), Regulation 1182/71) and
stored for filtering and reminders.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

from dpo_requests.config import SOURCE, Settings
from dpo_requests.deadlines import (
    ClockSuspension,
    Deadline,
    DeadlineError,
    Extension,
    can_extend,
    compute_deadline,
    is_due_soon,
    is_overdue,
    paris_date,
    with_extension,
)
from dpo_requests.notifications.service import EmailSender, email_sender, is_email
from dpo_requests.packages.service import PackageService, package_service
from dpo_requests.requests.repository import OPEN_STATUSES, RequestRepository, request_repository
from dpo_requests.requests.schemas import (
    ClosingCreate,
    DeadlinePublic,
    ExtensionCreate,
    IdentityInfoAsked,
    RefusalCreate,
    RefusalPublic,
    RequestCreate,
    RequestDetail,
    RequestPage,
    RequestPublic,
    RequestSubmit,
    ResultPublic,
    RuleStepPublic,
    SystemOutcome,
    TaskPublic,
    TimelineEntry,
    VerificationCreate,
    WithdrawalCreate,
)
from dpo_requests.tasks.service import TaskService, task_service
from vigie_shared.events import (
    Actor,
    DpoRequestCompleted,
    DpoRequestExtended,
    DpoRequestIdentityReceived,
    DpoRequestIdentityRequested,
    DpoRequestReceived,
    DpoRequestRefused,
    DpoRequestVerified,
    DpoRequestWithdrawn,
    DpoTaskCompleted,
    DpoTaskFailed,
    EventData,
    RequestType,
    new_event,
)
from vigie_shared.kit import outbox
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn
from vigie_shared.kit.http import Problem
from vigie_shared.kit.oidc import Principal

SYSTEM = Actor(kind="system", id="dpo_requests")
EXPORTING = (RequestType.ACCESS, RequestType.PORTABILITY)


def actor_of(principal: Principal) -> Actor:
    return Actor(kind="user", id=principal.subject)


def _conflict(title: str, detail: str) -> Problem:
    return Problem(409, title, detail, type_="https://vigie.example/problems/invalid-transition")


def _encode_cursor(row: asyncpg.Record) -> str:
    raw = json.dumps([row["received_at"].isoformat(), row["id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, request_id = json.loads(raw)
        return datetime.fromisoformat(at), str(request_id)
    except (ValueError, TypeError) as exc:
        raise Problem(400, "Bad Request", "Invalid cursor.") from exc


class RequestService:
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

    # ------------------------------------------------------------------ deadline

    async def deadline(self, conn: Conn, request: asyncpg.Record) -> Deadline:
        suspensions = [
            ClockSuspension(asked_on=s["asked_at"], answered_on=s["answered_at"])
            for s in await self._repository.suspensions(conn, request["id"])
        ]
        extension = (
            Extension(requested_on=request["extended_on"], reason=request["extension_reason"])
            if request["extended_on"] is not None
            else None
        )
        return compute_deadline(request["received_at"], extended=extension, suspensions=suspensions)

    async def _refresh_due_on(self, conn: Conn, request: asyncpg.Record) -> asyncpg.Record:
        deadline = await self.deadline(conn, request)
        if deadline.due_on == request["due_on"]:
            return request
        return await self._repository.update(conn, request["id"], due_on=deadline.due_on)

    # ------------------------------------------------------------------ intake

    async def register(
        self,
        conn: Conn,
        data: RequestCreate,
        *,
        actor: Actor | None = None,
        origin: dict[str, Any] | None = None,
    ) -> RequestPublic:
        """Record a request with its Art. 12(3) due date and announce it, in one transaction.

        A second open request of the same type by the same person is recorded (the DPO must
        answer what was received) but flagged as a duplicate of the first.
        """
        try:
            deadline = compute_deadline(data.received_at)
        except DeadlineError as exc:
            raise Problem(422, "Invalid receipt date", str(exc)) from exc
        if deadline.received_on > paris_date(utcnow()):
            raise Problem(422, "Invalid receipt date", "The receipt date is in the future.")
        actor = actor or SYSTEM
        async with conn.transaction():
            duplicate_of = await self._repository.find_open_duplicate(
                conn,
                request_type=data.request_type.value,
                subject_id=data.subject_id,
                requester=data.requester,
            )
            row = await self._repository.insert(
                conn,
                request_id=f"r-{uuid.uuid4().hex[:12]}",
                request_type=data.request_type.value,
                requester=data.requester,
                subject_id=data.subject_id,
                message=data.message,
                channel=data.channel,
                received_at=data.received_at,
                due_on=deadline.due_on,
                corrections=data.corrections,
                duplicate_of=duplicate_of,
            )
            await self._repository.add_timeline(
                conn,
                row["id"],
                kind="received",
                actor_kind=actor.kind,
                actor_id=actor.id,
                detail={"channel": data.channel, "duplicate_of": duplicate_of, **(origin or {})},
            )
            assert deadline.due_on is not None
            await outbox.enqueue(
                conn,
                new_event(
                    DpoRequestReceived(
                        request_id=row["id"],
                        subject_id=row["subject_id"],
                        request_type=data.request_type,
                        received_on=deadline.received_on,
                        due_on=deadline.due_on,
                    ),
                    subject=row["subject_id"] or row["id"],
                    source=SOURCE,
                ),
            )
        return self._public(row, utcnow())

    async def submit(self, conn: Conn, data: RequestSubmit, learner: Principal) -> RequestPublic:
        """A learner's own request, authenticated by the SSO (the token's ``sub``)."""
        existing = await self._repository.find_open_duplicate(
            conn,
            request_type=data.request_type.value,
            subject_id=learner.subject,
            requester=learner.subject,
        )
        if existing is not None:
            raise Problem(
                409,
                "Duplicate request",
                f"Request {existing} of the same type is still being handled.",
                existing=existing,
            )
        email = learner.claims.get("email")
        return await self.register(
            conn,
            RequestCreate(
                request_type=data.request_type,
                requester=str(email) if email else learner.subject,
                subject_id=learner.subject,
                message=data.message,
                corrections=data.corrections,
                channel="online",
                received_at=utcnow(),
            ),
            actor=actor_of(learner),
        )

    # ------------------------------------------------------------------ transitions

    async def _lock(self, conn: Conn, request_id: str, *allowed: str) -> asyncpg.Record:
        row = await self._repository.get(conn, request_id, lock=True)
        if row is None:
            raise Problem(404, "Not Found", f"No request {request_id}.")
        if allowed and row["status"] not in allowed:
            raise _conflict(
                "Invalid transition",
                f"Request {request_id} is {row['status']}; this needs one of {', '.join(allowed)}.",
            )
        return row

    async def ask_identity(
        self, conn: Conn, request_id: str, data: IdentityInfoAsked, actor: Actor
    ) -> asyncpg.Record:
        """GDPR Art. 12(6): ask for information confirming identity; the clock stops."""
        now = utcnow()
        async with conn.transaction():
            row = await self._lock(conn, request_id, "received")
            await self._repository.open_suspension(conn, request_id, asked_at=now, what=data.what)
            try:
                await self.deadline(conn, row)
            except DeadlineError as exc:
                raise Problem(422, "Clock cannot be stopped", str(exc)) from exc
            row = await self._repository.update(
                conn, request_id, status="identity_pending", due_on=None
            )
            await self._timeline(conn, row, "identity_requested", actor, {"what": data.what})
            await self._announce(
                conn,
                row,
                DpoRequestIdentityRequested(request_id=request_id, what=data.what, actor=actor),
            )
        return row

    async def identity_received(self, conn: Conn, request_id: str, actor: Actor) -> asyncpg.Record:
        """The information arrived: the clock restarts (the due date moves by the days lost)."""
        now = utcnow()
        async with conn.transaction():
            row = await self._lock(conn, request_id, "identity_pending")
            await self._repository.close_suspension(conn, request_id, answered_at=now)
            row = await self._repository.update(conn, request_id, status="received")
            row = await self._refresh_due_on(conn, row)
            await self._timeline(
                conn, row, "identity_received", actor, {"due_on": str(row["due_on"])}
            )
            await self._announce(
                conn,
                row,
                DpoRequestIdentityReceived(
                    request_id=request_id, due_on=row["due_on"], actor=actor
                ),
            )
        return row

    async def verify(
        self,
        conn: Conn,
        request_id: str,
        data: VerificationCreate,
        actor: Actor,
        settings: Settings,
    ) -> asyncpg.Record:
        """Identity established: the request is fanned out to every data system."""
        now = utcnow()
        async with conn.transaction():
            row = await self._lock(conn, request_id, "received", "identity_pending")
            subject_id = data.subject_id or row["subject_id"]
            if not subject_id:
                raise Problem(
                    422,
                    "Subject unknown",
                    "Name the learner's SSO id (subject_id): data systems find data by it.",
                )
            await self._repository.close_suspension(conn, request_id, answered_at=now)
            row = await self._repository.update(
                conn,
                request_id,
                status="in_progress",
                subject_id=subject_id,
                verified_at=now,
                verification_method=data.method,
            )
            row = await self._refresh_due_on(conn, row)
            await self._timeline(
                conn, row, "verified", actor, {"method": data.method, "note": data.note}
            )
            await outbox.enqueue(
                conn,
                new_event(
                    DpoRequestVerified(request_id=request_id, actor=actor, method=data.method),
                    subject=subject_id,
                    source=SOURCE,
                ),
            )
            await self._tasks.fan_out(conn, row, now=now, settings=settings)
            row = await self._settle(conn, request_id, settings=settings)
        return row

    async def extend(
        self, conn: Conn, request_id: str, data: ExtensionCreate, actor: Actor
    ) -> asyncpg.Record:
        """GDPR Art. 12(3): two further months, once, decided within the first month, the
        requester being told why."""
        today = paris_date(utcnow())
        async with conn.transaction():
            row = await self._lock(conn, request_id, *OPEN_STATUSES)
            current = await self.deadline(conn, row)
            try:
                extended = with_extension(
                    current, Extension(requested_on=today, reason=data.reason)
                )
            except DeadlineError as exc:
                raise Problem(
                    422,
                    "Extension not allowed",
                    str(exc),
                    type_="https://vigie.example/problems/extension-not-allowed",
                ) from exc
            row = await self._repository.update(
                conn,
                request_id,
                extended_on=today,
                extension_reason=data.reason,
                due_on=extended.due_on,
            )
            shown = extended.due_on or "(clock stopped)"
            await self._timeline(
                conn, row, "extended", actor, {"reason": data.reason, "due_on": str(shown)}
            )
            if extended.due_on is not None:
                await outbox.enqueue(
                    conn,
                    new_event(
                        DpoRequestExtended(
                            request_id=request_id,
                            due_on=extended.due_on,
                            reason=data.reason,
                            actor=actor,
                        ),
                        subject=row["subject_id"] or request_id,
                        source=SOURCE,
                    ),
                )
            await self._inform(
                conn,
                row,
                "Votre demande RGPD est prolongée / Your GDPR request is extended",
                f"Le délai de réponse à votre demande {request_id} est prolongé de deux mois "
                f"(art. 12(3) RGPD), jusqu'au {shown}. Motif : {data.reason}\n\n"
                f"The time limit for your request {request_id} is extended by two months "
                f"(GDPR Art. 12(3)), to {shown}. Reason: {data.reason}",
            )
        return row

    async def refuse(
        self, conn: Conn, request_id: str, data: RefusalCreate, actor: Actor
    ) -> asyncpg.Record:
        """GDPR Art. 12(4): the refusal states its reasons and the right to complain to the
        CNIL; Art. 12(5): "manifestly unfounded or excessive" needs a written justification
        (checked by :class:`RefusalCreate`)."""
        now = utcnow()
        async with conn.transaction():
            row = await self._lock(conn, request_id, *OPEN_STATUSES)
            await self._repository.close_suspension(conn, request_id, answered_at=now)
            row = await self._repository.update(
                conn,
                request_id,
                status="refused",
                refusal_ground=data.ground,
                refusal_reason=data.reason,
                refusal_justification=data.justification,
                closed_at=now,
            )
            await self._timeline(
                conn, row, "refused", actor, {"ground": data.ground, "reason": data.reason}
            )
            await outbox.enqueue(
                conn,
                new_event(
                    DpoRequestRefused(request_id=request_id, reason=data.reason, actor=actor),
                    subject=row["subject_id"] or request_id,
                    source=SOURCE,
                ),
            )
            refusal = RefusalPublic(
                ground=data.ground, reason=data.reason, justification=data.justification
            )
            await self._inform(
                conn,
                row,
                "Réponse à votre demande RGPD / Answer to your GDPR request",
                f"Votre demande {request_id} ne peut être satisfaite : {data.reason}\n"
                f"{refusal.complaint_fr}\n\nYour request {request_id} cannot be granted: "
                f"{data.reason}\n{refusal.complaint_en}",
            )
        return row

    async def withdraw(
        self, conn: Conn, request_id: str, data: WithdrawalCreate, principal: Principal
    ) -> asyncpg.Record:
        async with conn.transaction():
            row = await self._lock(conn, request_id)
            self._check_access(row, principal)
            if row["status"] not in OPEN_STATUSES:
                raise _conflict("Invalid transition", f"Request {request_id} is {row['status']}.")
            await self._repository.close_suspension(conn, request_id, answered_at=utcnow())
            row = await self._repository.update(
                conn, request_id, status="withdrawn", closed_at=utcnow()
            )
            await self._timeline(
                conn, row, "withdrawn", actor_of(principal), {"reason": data.reason}
            )
            await self._announce(
                conn,
                row,
                DpoRequestWithdrawn(
                    request_id=request_id, reason=data.reason or "", actor=actor_of(principal)
                ),
            )
        return row

    async def close(
        self,
        conn: Conn,
        request_id: str,
        data: ClosingCreate,
        actor: Actor,
        settings: Settings,
    ) -> asyncpg.Record:
        """The DPO completes a request whose tasks did not all succeed; the note explains the
        partial result to the requester."""
        async with conn.transaction():
            row = await self._lock(conn, request_id, "in_progress")
            tasks = await self._tasks.tasks_of(conn, request_id)
            unfinished = [t for t in tasks if t["status"] != "completed"]
            if unfinished and not (data.note and data.note.strip()):
                raise Problem(
                    422,
                    "Explanation required",
                    f"{len(unfinished)} task(s) did not complete: say why in `note`.",
                )
            row = await self._complete(conn, row, tasks, actor, settings, note=data.note)
        return row

    # ------------------------------------------------------------------ tasks

    async def on_task_completed(
        self, conn: Conn, result: DpoTaskCompleted, settings: Settings
    ) -> None:
        request_id = await self._tasks.record_completed(conn, result, now=utcnow())
        if request_id is not None:
            await self._settle(conn, request_id, settings=settings)

    async def on_task_failed(self, conn: Conn, result: DpoTaskFailed, settings: Settings) -> None:
        await self._tasks.record_failed(conn, result, now=utcnow(), settings=settings)

    async def complete_task_by_hand(
        self,
        conn: Conn,
        task_id: str,
        *,
        note: str,
        data: dict[str, Any] | None,
        actor: Actor,
        settings: Settings,
    ) -> asyncpg.Record:
        async with conn.transaction():
            task = await self._tasks.complete_by_hand(
                conn, task_id, note=note, data=data, actor=actor, now=utcnow()
            )
            await self._settle(conn, task["request_id"], settings=settings)
        return task

    async def _settle(self, conn: Conn, request_id: str, *, settings: Settings) -> asyncpg.Record:
        """Complete an in-progress request once every one of its tasks is completed."""
        row = await self._lock(conn, request_id)
        if row["status"] != "in_progress":
            return row
        tasks = await self._tasks.tasks_of(conn, request_id)
        if not tasks or any(t["status"] != "completed" for t in tasks):
            return row
        return await self._complete(conn, row, tasks, SYSTEM, settings, note=None)

    async def _complete(
        self,
        conn: Conn,
        row: asyncpg.Record,
        tasks: list[asyncpg.Record],
        actor: Actor,
        settings: Settings,
        *,
        note: str | None,
    ) -> asyncpg.Record:
        now = utcnow()
        request_id = row["id"]
        package = None
        if RequestType(row["request_type"]) in EXPORTING:
            package = await self._packages.build(conn, row, tasks, now=now, settings=settings)
        row = await self._repository.update(
            conn, request_id, status="completed", closed_at=now, closing_note=note
        )
        await self._timeline(
            conn,
            row,
            "completed",
            actor,
            {"note": note, "package": package["id"] if package else None},
        )
        await outbox.enqueue(
            conn,
            new_event(
                DpoRequestCompleted(request_id=request_id, actor=actor),
                subject=row["subject_id"] or request_id,
                source=SOURCE,
            ),
        )
        outcomes = "\n".join(f"- {o.system}: {o.outcome}" for o in self._outcomes(tasks))
        body = f"Votre demande {request_id} est traitée / Your request {request_id} is done.\n"
        body += outcomes
        if package is not None:
            body += (
                f"\n\nVos données / Your data (lien valable jusqu'au / link valid until "
                f"{package['expires_at']:%d/%m/%Y %H:%M} UTC):\n"
                f"{self._packages.url(package, settings)}"
            )
        await self._inform(conn, row, "Votre demande RGPD / Your GDPR request", body)
        return row

    async def sweep(self, conn: Conn, *, now: datetime, settings: Settings) -> None:
        """Task timeouts (retry, then escalate to a manual task) and expired packages."""
        async with conn.transaction():
            await self._tasks.sweep_timeouts(conn, now=now, settings=settings)
            await self._packages.purge_expired(conn, now=now)

    # ------------------------------------------------------------------ reading

    def _check_access(self, row: asyncpg.Record, principal: Principal) -> None:
        # A learner sees only their own requests; a foreign id looks like a missing one, and
        # the attempt is recorded for the audit log (issue 8, "every such attempt is audited").
        if "dpo" not in principal.roles and row["subject_id"] != principal.subject:
            raise Problem(404, "Not Found", f"No request {row['id']}.", denial="not_owner")

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
            items=[self._public(r, now) for r in rows],
            next_cursor=_encode_cursor(rows[-1]) if more and rows else None,
        )

    def _public(self, row: asyncpg.Record, now: datetime) -> RequestPublic:
        return RequestPublic(
            id=row["id"],
            request_type=RequestType(row["request_type"]),
            requester=row["requester"],
            subject_id=row["subject_id"],
            channel=row["channel"],
            received_at=row["received_at"],
            due_on=row["due_on"],
            status=row["status"],
            overdue=row["status"] in OPEN_STATUSES
            and row["due_on"] is not None
            and row["due_on"] < paris_date(now),
            duplicate_of=row["duplicate_of"],
        )

    @staticmethod
    def _outcomes(tasks: list[asyncpg.Record]) -> list[SystemOutcome]:
        outcomes = []
        for task in tasks:
            if task["status"] == "completed" and task["note"] is not None:
                outcome = f"done by hand: {task['note']}"
            elif task["status"] == "completed":
                outcome = f"done by {task['system']}"
            elif task["status"] == "pending":
                outcome = "no answer yet"
            else:
                outcome = f"{task['status']}: {task['error'] or 'no answer'}"
            outcomes.append(
                SystemOutcome(system=task["system"], action=task["action"], outcome=outcome)
            )
        return outcomes

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
        is_open = row["status"] in OPEN_STATUSES
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
        if row["status"] == "completed":
            package = await self._packages.of_request(conn, request_id)
            outcomes = self._outcomes(tasks)
            result = ResultPublic(
                package_url=self._packages.url(package, settings) if package else None,
                package_expires_at=package["expires_at"] if package else None,
                systems=outcomes,
                partial=any(t["status"] != "completed" for t in tasks),
                note=row["closing_note"],
            )
        refusal = None
        if row["status"] == "refused":
            refusal = RefusalPublic(
                ground=row["refusal_ground"],
                reason=row["refusal_reason"],
                justification=row["refusal_justification"],
            )
        return RequestDetail(
            **self._public(row, now).model_dump(),
            message=row["message"],
            corrections=row["corrections"],
            verification_method=row["verification_method"],
            verified_at=row["verified_at"],
            extension_reason=row["extension_reason"],
            deadline=deadline_public,
            closed_at=row["closed_at"],
            answered_in_time=None
            if row["closed_at"] is None or deadline.due_on is None
            else paris_date(row["closed_at"]) <= deadline.due_on,
            refusal=refusal,
            result=result,
            tasks=[TaskPublic.model_validate(dict(t)) for t in tasks],
            timeline=[
                TimelineEntry(
                    at=e["at"],
                    kind=e["kind"],
                    actor=f"{e['actor_kind']}:{e['actor_id']}",
                    detail=e["detail"],
                )
                for e in await self._repository.timeline(conn, request_id)
            ],
        )

    # ------------------------------------------------------------------ helpers

    async def _timeline(
        self, conn: Conn, row: asyncpg.Record, kind: str, actor: Actor, detail: dict[str, Any]
    ) -> None:
        await self._repository.add_timeline(
            conn, row["id"], kind=kind, actor_kind=actor.kind, actor_id=actor.id, detail=detail
        )

    async def _announce(self, conn: Conn, row: asyncpg.Record, data: EventData) -> None:
        """Every transition is an event (keyed by the learner when known, else the request)."""
        await outbox.enqueue(
            conn, new_event(data, subject=row["subject_id"] or row["id"], source=SOURCE)
        )

    async def _inform(self, conn: Conn, row: asyncpg.Record, subject: str, body: str) -> None:
        if is_email(row["requester"]):
            await self._mail.send(conn, to=row["requester"], subject=subject, body=body)


rights_request = RequestService(request_repository, task_service, package_service, email_sender)
