"""Demo register for ``vigie up --demo``: two years of a DPO's rights requests.

81 requests last year and 147 this year (the institution's real growth), with the usual mix
of rights and channels, back-to-school and exam peaks, identity checks that stopped the clock
(GDPR Art. 12(6)), extensions (Art. 12(3)), answers on time and a few late ones, refusals and
withdrawals, and today's open work: some overdue, some waiting for identity information, tasks
stuck at a data system. Deterministic (fixed random seed) and seeded once per database: only
into an empty register, in one transaction under an advisory lock.

How it stays consistent with the real service:

* each request is received through :meth:`RequestService.register` (the real intake: due date
  from :func:`compute_deadline`, timeline entry, ``dpo.request.received`` in the outbox);
* what happened to it afterwards is history, and the service stamps transitions with the
  current time; so the demo writes those rows with their own dates through repositories
  (``RequestRepository.update``, ``register/seed_repository.py``) and stores the due date
  :func:`compute_deadline` gives for the very inputs ``RequestService.deadline`` reads back
  (receipt, extension, suspensions): every stored due date is the one the service would
  compute (``tests/dpo_requests/test_demo.py`` checks each request);
* the backdated transitions publish no event: an event reports a fact when it happens, and
  these happened before the demo's audit log existed.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from dpo_requests.deadlines import (
    PARIS,
    ClockSuspension,
    Deadline,
    DeadlineError,
    Extension,
    compute_deadline,
    paris_date,
)
from dpo_requests.register.seed_repository import TimelineRow, seed_repository
from dpo_requests.requests.repository import request_repository
from dpo_requests.requests.schemas import RequestCreate
from dpo_requests.requests.service import rights_request
from dpo_requests.tasks.service import ACTION_FOR, task_service
from vigie_shared.events import RequestType, TaskAction
from vigie_shared.kit import db
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn
from vigie_shared.kit.settings import ServiceSettings

PREVIOUS_YEAR_REQUESTS: Final = 81
CURRENT_YEAR_REQUESTS: Final = 147
SEED: Final = 81_147
# Requests per month follow the academic year: exams in June, back-to-school September-October.
MONTH_WEIGHTS: Final = (5, 5, 6, 5, 6, 9, 6, 4, 11, 10, 8, 6)
TYPE_WEIGHTS: Final = {
    RequestType.ACCESS: 40,
    RequestType.ERASURE: 25,
    RequestType.RECTIFICATION: 12,
    RequestType.OBJECTION: 10,
    RequestType.PORTABILITY: 7,
    RequestType.RESTRICTION: 6,
}
CHANNEL_WEIGHTS: Final = {"online": 70, "email": 20, "post": 10}
FIRST_NAMES: Final = ("camille", "yanis", "lea", "hugo", "ines", "louis", "chloe", "nathan")
LAST_NAMES: Final = ("martin", "benali", "durand", "moreau", "nguyen", "petit", "diallo", "roux")
DPO_ACTOR: Final = ("user", "dpo-demo")
SYSTEM_ACTOR: Final = ("system", "dpo_requests")
MANUAL_SYSTEM: Final = "archives_papier"
# The Moodle connector (connectors/moodle_example.py) announces itself when it runs.
AUTOMATED_SYSTEM: Final = "moodle"
TASK_TIMEOUT: Final = timedelta(days=3)
_EXTENSION_REASON: Final = "Données réparties entre plusieurs systèmes et archives papier"


@dataclass
class _Plan:
    """One request's life: what will have happened by when (None: never)."""

    request_type: RequestType
    channel: str
    requester: str
    subject_id: str | None
    corrections: dict[str, str] | None
    received_at: datetime
    asked_at: datetime | None
    answered_at: datetime | None
    extended_on: date | None
    verified_at: datetime | None
    closed_at: datetime | None
    outcome: str


def _receipts(rng: random.Random, year: int, count: int, now: datetime) -> list[datetime]:
    """``count`` receipt times in ``year`` up to ``now``, office hours, weighted by month."""
    first, last = date(year, 1, 1), min(date(year, 12, 31), paris_date(now))
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    weights = [MONTH_WEIGHTS[day.month - 1] for day in days]
    receipts = []
    for day in rng.choices(days, weights, k=count):
        at = datetime.combine(day, time(rng.randint(8, 18), rng.randint(0, 59)), tzinfo=PARIS)
        receipts.append(min(at.astimezone(UTC), now - timedelta(seconds=1)))
    return sorted(receipts)


def _deadline(
    received_at: datetime,
    extended_on: date | None,
    asked_at: datetime | None,
    answered_at: datetime | None,
) -> Deadline:
    """The inputs ``RequestService.deadline`` reads back from the stored rows."""
    extension = (
        Extension(requested_on=extended_on, reason=_EXTENSION_REASON) if extended_on else None
    )
    suspensions = [ClockSuspension(asked_on=asked_at, answered_on=answered_at)] if asked_at else []
    return compute_deadline(received_at, extended=extension, suspensions=suspensions)


def _plan(
    rng: random.Random, n: int, received_at: datetime, *, stalled: bool, waiting: bool
) -> _Plan:
    request_type = rng.choices(list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values()))[0]
    channel = rng.choices(list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values()))[0]
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    requester = (
        f"Courrier de {rng.choice(('Mme', 'M.'))} {last.capitalize()} (n° {n})"
        if channel == "post"
        else f"{first}.{last}{n}@demo.example.org"
    )
    asked_at = answered_at = None
    if waiting:
        asked_at = received_at + timedelta(days=1)
    elif rng.random() < 0.15:
        asked_at = received_at + timedelta(days=rng.randint(1, 3), hours=rng.randint(0, 4))
        answered_at = asked_at + timedelta(days=rng.randint(2, 12), hours=rng.randint(0, 6))
    extended_on = None
    if rng.random() < 0.10:
        extended_on = paris_date(received_at) + timedelta(days=rng.randint(8, 20))
    start = answered_at or received_at
    verified_at = None if waiting else start + timedelta(days=rng.randint(1, 4), hours=2)
    due_on = _deadline(received_at, extended_on, asked_at, answered_at).due_on
    outcome = rng.choices(("completed", "refused", "withdrawn"), (85, 10, 5))[0]
    closed_at = None
    if not (waiting or stalled) and due_on is not None and verified_at is not None:
        if rng.random() < 0.08:
            late_day = due_on + timedelta(days=rng.randint(1, 20))
            closed_at = datetime.combine(late_day, time(15), tzinfo=PARIS).astimezone(UTC)
        else:
            span = max(1, (due_on - paris_date(verified_at)).days - 1)
            closed_at = verified_at + timedelta(days=rng.randint(1, span), hours=1)
    return _Plan(
        request_type=request_type,
        channel=channel,
        requester=requester,
        subject_id=f"demo-learner-{n:03d}" if channel == "online" else None,
        corrections={"lastname": f"{last.capitalize()}-{rng.choice(LAST_NAMES).capitalize()}"}
        if request_type is RequestType.RECTIFICATION
        else None,
        received_at=received_at,
        asked_at=asked_at,
        answered_at=answered_at,
        extended_on=extended_on,
        verified_at=verified_at,
        closed_at=closed_at,
        outcome=outcome,
    )


def _plans(now: datetime) -> list[_Plan]:
    rng = random.Random(SEED)  # noqa: S311 - reproducible demo data, not a secret
    year = paris_date(now).year
    receipts = _receipts(rng, year - 1, PREVIOUS_YEAR_REQUESTS, now)
    receipts += _receipts(rng, year, CURRENT_YEAR_REQUESTS, now)
    today = paris_date(now)
    # Today's open work, whatever the day: the three latest requests received 35 to 90 days
    # ago were never answered (overdue), the three latest received 24 to 29 days ago are not
    # answered yet (due within the week), the two latest received 3 to 20 days ago wait for
    # identity information.
    ages = [(today - paris_date(at)).days for at in receipts]

    def latest(count: int, low: int, high: int) -> set[int]:
        return set(sorted(i for i, age in enumerate(ages) if low <= age <= high)[-count:])

    stalled = latest(3, 35, 90) | latest(3, 24, 29)
    waiting = latest(2, 3, 20)
    return [
        _plan(rng, n, at, stalled=n in stalled, waiting=n in waiting)
        for n, at in enumerate(receipts)
    ]


def _timeline(
    request_id: str, at: datetime, kind: str, actor: tuple[str, str], **detail: Any
) -> TimelineRow:
    return (request_id, at, kind, actor[0], actor[1], detail)


async def _apply(conn: Conn, request_id: str, plan: _Plan, now: datetime) -> None:
    """Write what had happened to the request by ``now``, with its dates."""
    closed_at = plan.closed_at if plan.closed_at and plan.closed_at <= now else None
    asked_at = plan.asked_at if plan.asked_at and plan.asked_at <= now else None
    answered_at = (
        plan.answered_at if asked_at and plan.answered_at and plan.answered_at <= now else None
    )
    if asked_at and closed_at and (answered_at is None or answered_at > closed_at):
        answered_at = closed_at  # closing a request ends its wait (RequestService.refuse)
    verified_at = plan.verified_at if plan.verified_at and plan.verified_at <= now else None
    if closed_at and plan.outcome != "completed":
        verified_at = verified_at if verified_at and verified_at < closed_at else None
    extended_on = plan.extended_on
    if extended_on and (extended_on > paris_date(closed_at or now)):
        extended_on = None
    try:
        deadline = _deadline(plan.received_at, extended_on, asked_at, answered_at)
    except DeadlineError:
        extended_on = None
        deadline = _deadline(plan.received_at, None, asked_at, answered_at)
    timeline: list[TimelineRow] = []
    fields: dict[str, Any] = {"due_on": deadline.due_on}
    if asked_at:
        what = "Copie d'une pièce d'identité"
        await seed_repository.add_suspension(
            conn, request_id, asked_at=asked_at, answered_at=answered_at, what=what
        )
        timeline.append(_timeline(request_id, asked_at, "identity_requested", DPO_ACTOR, what=what))
        if answered_at and (closed_at is None or answered_at < closed_at):
            timeline.append(_timeline(request_id, answered_at, "identity_received", DPO_ACTOR))
    if extended_on:
        fields.update(extended_on=extended_on, extension_reason=_EXTENSION_REASON)
        at = datetime.combine(extended_on, time(10), tzinfo=PARIS).astimezone(UTC)
        timeline.append(
            _timeline(
                request_id,
                min(at, now),
                "extended",
                DPO_ACTOR,
                reason=_EXTENSION_REASON,
                due_on=str(deadline.due_on),
            )
        )
    if verified_at:
        fields.update(
            verified_at=verified_at, verification_method="sso" if plan.subject_id else "document"
        )
        if not plan.subject_id:
            fields["subject_id"] = f"demo-verified-{request_id}"
        timeline.append(
            _timeline(
                request_id,
                verified_at,
                "verified",
                DPO_ACTOR,
                method=fields["verification_method"],
                note=None,
            )
        )
        await _tasks(
            conn,
            request_id,
            plan,
            verified_at=verified_at,
            closed_at=closed_at if plan.outcome == "completed" else None,
            now=now,
        )
    if closed_at:
        fields.update(status=plan.outcome, closed_at=closed_at)
        if plan.outcome == "refused":
            reason = "Aucune donnée de ce type n'est traitée par l'établissement"
            fields.update(refusal_ground="other", refusal_reason=reason)
            timeline.append(
                _timeline(
                    request_id, closed_at, "refused", DPO_ACTOR, ground="other", reason=reason
                )
            )
        elif plan.outcome == "withdrawn":
            timeline.append(
                _timeline(
                    request_id,
                    closed_at,
                    "withdrawn",
                    ("user", plan.subject_id or "requester"),
                    reason=None,
                )
            )
        else:
            timeline.append(
                _timeline(request_id, closed_at, "completed", SYSTEM_ACTOR, note=None, package=None)
            )
    elif asked_at and answered_at is None:
        fields["status"] = "identity_pending"
    elif verified_at:
        fields["status"] = "in_progress"
    await request_repository.update(conn, request_id, **fields)
    await seed_repository.add_timeline(conn, timeline)


async def _tasks(
    conn: Conn,
    request_id: str,
    plan: _Plan,
    *,
    verified_at: datetime,
    closed_at: datetime | None,
    now: datetime,
) -> None:
    """One task per data system answering the action, as the fan-out creates them."""
    action = ACTION_FOR[plan.request_type]
    systems = [(AUTOMATED_SYSTEM, False)]
    if action in (TaskAction.EXPORT, TaskAction.ERASE):
        systems.append((MANUAL_SYSTEM, True))
    for system, manual in systems:
        status, attempts, finished_at, note = "pending", 1, None, None
        due_at = None if manual else verified_at + TASK_TIMEOUT
        if closed_at is not None:
            status, finished_at = "completed", closed_at - timedelta(hours=1)
            note = "Dossier papier consulté" if manual else None
        elif not manual and now - verified_at > 3 * TASK_TIMEOUT:
            # Asked three times without an answer: escalated to the DPO (TaskService.sweep).
            status, manual, attempts = "timed_out", True, 3
        elif not manual:
            attempts = min(3, 1 + int((now - verified_at) / TASK_TIMEOUT))
            due_at = verified_at + attempts * TASK_TIMEOUT
        await seed_repository.add_task(
            conn,
            task_id=f"t-{uuid.uuid4().hex[:12]}",
            request_id=request_id,
            system=system,
            action=action.value,
            status=status,
            manual=manual,
            attempts=attempts,
            requested_at=verified_at,
            due_at=due_at,
            finished_at=finished_at,
            note=note,
        )


async def seed(conn: Conn, *, now: datetime) -> int:
    """Seed the demo register into an empty one; returns the requests added (0 if any)."""
    async with conn.transaction():
        await seed_repository.lock(conn)
        if await request_repository.count(conn) > 0:
            return 0
        # Not automated: every task for it is a manual task for the DPO.
        await task_service.register_system(
            conn,
            name=MANUAL_SYSTEM,
            actions=[TaskAction.EXPORT, TaskAction.ERASE],
            description="Dossiers papier des inscriptions antérieures à 2015",
            automated=False,
        )
        plans = _plans(now)
        for plan in plans:
            request = await rights_request.register(
                conn,
                RequestCreate(
                    request_type=plan.request_type,
                    requester=plan.requester,
                    subject_id=plan.subject_id,
                    channel=plan.channel,
                    corrections=plan.corrections,
                    received_at=plan.received_at,
                ),
            )
            await seed_repository.date_receipt(conn, request.id, plan.received_at)
            await _apply(conn, request.id, plan, now)
        return len(plans)


async def seed_demo(settings: ServiceSettings, *, schema: str = "dpo") -> list[str]:
    conn = await db.connect(settings.database_url, schema)
    try:
        await seed(conn, now=utcnow())
        return [f"requests   {await request_repository.count(conn)} rights requests on file"]
    finally:
        await conn.close()
