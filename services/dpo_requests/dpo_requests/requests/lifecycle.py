"""The lifecycle of a rights request and its legal deadline.

States (every change is on the request's timeline and, where the event catalog has a type for
it, an event through the outbox in the same transaction)::

    received ──ask identity info──> identity_pending ──info received──> received
    received | identity_pending ──verify──> in_progress ──all tasks done / DPO closes──> completed
    received | identity_pending | in_progress ──refuse──> refused
    received | identity_pending | in_progress ──withdraw──> withdrawn
"""

from __future__ import annotations

import uuid
from typing import Any

from dpo_requests.config import SOURCE, Settings
from dpo_requests.deadlines import (
    DeadlineError,
    Extension,
    compute_deadline,
    paris_date,
    with_extension,
)
from dpo_requests.requests.completion import RequestCompletion
from dpo_requests.requests.core import SYSTEM, actor_of, conflict
from dpo_requests.requests.repository import OPEN_STATUSES, RequestRecord
from dpo_requests.requests.schemas import (
    ExtensionCreate,
    IdentityInfoAsked,
    RefusalCreate,
    RefusalPublic,
    RequestCreate,
    RequestPublic,
    RequestSubmit,
    VerificationCreate,
    WithdrawalCreate,
)
from vigie_shared.events import (
    Actor,
    DpoRequestExtended,
    DpoRequestIdentityReceived,
    DpoRequestIdentityRequested,
    DpoRequestReceived,
    DpoRequestRefused,
    DpoRequestVerified,
    DpoRequestWithdrawn,
    new_event,
)
from vigie_shared.kit import outbox
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn
from vigie_shared.kit.http import Problem
from vigie_shared.kit.oidc import Principal


class RequestLifecycle(RequestCompletion):
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
                row.id,
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
                        request_id=row.id,
                        subject_id=row.subject_id,
                        request_type=data.request_type,
                        received_on=deadline.received_on,
                        due_on=deadline.due_on,
                    ),
                    subject=row.subject_id or row.id,
                    source=SOURCE,
                ),
            )
        return self.public(row, utcnow())

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

    async def ask_identity(
        self, conn: Conn, request_id: str, data: IdentityInfoAsked, actor: Actor
    ) -> RequestRecord:
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

    async def identity_received(self, conn: Conn, request_id: str, actor: Actor) -> RequestRecord:
        """The information arrived: the clock restarts (the due date moves by the days lost)."""
        now = utcnow()
        async with conn.transaction():
            row = await self._lock(conn, request_id, "identity_pending")
            await self._repository.close_suspension(conn, request_id, answered_at=now)
            row = await self._repository.update(conn, request_id, status="received")
            row = await self._refresh_due_on(conn, row)
            await self._timeline(conn, row, "identity_received", actor, {"due_on": str(row.due_on)})
            await self._announce(
                conn,
                row,
                DpoRequestIdentityReceived(request_id=request_id, due_on=row.due_on, actor=actor),
            )
        return row

    async def verify(
        self,
        conn: Conn,
        request_id: str,
        data: VerificationCreate,
        actor: Actor,
        settings: Settings,
    ) -> RequestRecord:
        """Identity established: the request is fanned out to every data system."""
        now = utcnow()
        async with conn.transaction():
            row = await self._lock(conn, request_id, "received", "identity_pending")
            subject_id = data.subject_id or row.subject_id
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
            await self._tasks.fan_out(
                conn, row, now=now, settings=settings, timeline=self._repository
            )
            row = await self._settle(conn, request_id, settings=settings)
        return row

    async def extend(
        self, conn: Conn, request_id: str, data: ExtensionCreate, actor: Actor
    ) -> RequestRecord:
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
                        subject=row.subject_id or request_id,
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
    ) -> RequestRecord:
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
                    subject=row.subject_id or request_id,
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
    ) -> RequestRecord:
        async with conn.transaction():
            row = await self._lock(conn, request_id)
            self._check_access(row, principal)
            if row.status not in OPEN_STATUSES:
                raise conflict("Invalid transition", f"Request {request_id} is {row.status}.")
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
