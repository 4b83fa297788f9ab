"""The accounting office's suspension policy, as pure rules (no I/O).

From the institution's practice: when a debt is unpaid and the learner is active, a reminder says
that without payment within eight days access to the training platforms will be suspended; then
access is suspended; on payment it is restored. A learner with several debts is suspended while
any of them is past its grace period and unpaid, and restored when all are settled.

Events may arrive out of order, late or twice; the decision depends only on the set of facts
known (reminders, settlements, manual decisions), never on the order they came in, so replaying
them gives the same state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from vigie_shared.kit.clock import PARIS


def grace_deadline(reminded_at: datetime, grace_days: int) -> datetime:
    """When access is suspended if the debt is still unpaid.

    "Sous huit jours": the grace period counts whole Paris calendar days after the day of the
    reminder (the reminder's own day is not counted, as for periods under Regulation 1182/71,
    Art. 3(1)), and ends at the end of the last one: the suspension takes effect at midnight,
    Europe/Paris time, starting day ``grace_days + 1`` after the reminder. Zone rules (summer
    time) come from the tz database, so the UTC instant is right in March and October too.
    """
    if reminded_at.tzinfo is None:
        raise ValueError("reminded_at must be timezone-aware")
    reminder_day: date = reminded_at.astimezone(PARIS).date()
    first_day_suspended = reminder_day + timedelta(days=grace_days + 1)
    return datetime.combine(first_day_suspended, time.min, tzinfo=PARIS)


@dataclass(frozen=True)
class Debt:
    """What is known of one debt: each part may be missing while its event has not arrived."""

    debt_id: str
    reminded_at: datetime | None = None
    grace_days: int = 8
    settled_at: datetime | None = None
    exempted_at: datetime | None = None

    @property
    def suspend_at(self) -> datetime | None:
        if self.reminded_at is None:
            return None
        return grace_deadline(self.reminded_at, self.grace_days)

    @property
    def settled(self) -> bool:
        return self.settled_at is not None

    @property
    def suspends(self) -> bool:
        """Reminded, unpaid and not exempted by the accounting office."""
        return self.suspend_at is not None and not self.settled and self.exempted_at is None

    def past_grace(self, now: datetime) -> bool:
        """A reason to suspend: it suspends and its grace period is over."""
        due = self.suspend_at
        return self.suspends and due is not None and now >= due


@dataclass(frozen=True)
class ManualDecision:
    """A suspension or restoration decided by a person with the accounting role."""

    suspended: bool
    decided_at: datetime
    reason: str
    actor_id: str


@dataclass(frozen=True)
class AccessDecision:
    suspended: bool
    overdue_debts: tuple[str, ...]
    pending_debts: tuple[str, ...]
    """Reminded, unpaid, still within grace: a suspension is scheduled for each."""
    next_deadline: datetime | None
    manual: ManualDecision | None


def decide(debts: Iterable[Debt], manual: ManualDecision | None, now: datetime) -> AccessDecision:
    """The learner's access given everything known at ``now``.

    A manual decision overrides the debts only until the next fact about debts that postdates
    it: a manual restoration does not outlive a new overdue debt, and a manual suspension stands
    until it is lifted by hand (an accountant's reasoned decision, not a payment, ended it).
    """
    debts = list(debts)
    overdue = tuple(sorted(d.debt_id for d in debts if d.past_grace(now)))
    pending = tuple(sorted(d.debt_id for d in debts if d.suspends and not d.past_grace(now)))
    upcoming = [d.suspend_at for d in debts if d.debt_id in pending and d.suspend_at]
    by_debts = bool(overdue)
    suspended = by_debts
    if manual is not None:
        if manual.suspended:
            suspended = True
        else:
            newer_overdue = any(
                d.suspend_at is not None and d.suspend_at > manual.decided_at
                for d in debts
                if d.debt_id in overdue
            )
            suspended = newer_overdue
    return AccessDecision(
        suspended=suspended,
        overdue_debts=overdue,
        pending_debts=pending,
        next_deadline=min(upcoming) if upcoming else None,
        manual=manual,
    )
