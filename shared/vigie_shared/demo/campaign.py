"""The shape of a debt-recovery campaign, and when the accounting system publishes each of its
facts on a virtual clock (``vigie simulate billing``, played by ``demo.simulate``).

A campaign says how many reminders, how many paid within the grace period, how many the office
exempted (payment plan, dispute), how many reached suspension and how many paid after it. The
command's defaults are the institution's direct-debit (CPA) campaign of November-December 2023:
323 reminders, 86 paid within grace (27 %), 79 exempted, 158 suspensions, 78 paid after
suspension (49 %).

Virtual time (``--speed``)
--------------------------
The campaign runs on a virtual clock that starts at ``--start`` (by default far enough in the
past for the whole campaign to have happened) and advances ``speed`` times faster than the real
one: ``--speed 86400`` makes a virtual day pass in a second. The gateway is not told about this
clock and has none: it keeps its real one, its real Europe/Paris grace rule (eight whole Paris
days, suspension at midnight) and its real grace scheduler. What the simulator controls is
*when* each fact reaches the gateway and the time written on it:

- a payment or an exemption within grace is published when the virtual clock reaches it, dated
  then;
- a reminder is published once its grace period is over on the virtual clock (reminder time +
  grace days + 1, always past the Paris midnight that ends the grace), dated with its virtual
  reminder time. That date lies in the real past, so the gateway computes its deadline from it,
  finds it passed and suspends, unless a payment or an exemption within grace came first (a
  settlement that arrives before its reminder cancels it, the order-insensitivity the gateway
  guarantees anyway). A held reminder is the only way to compress time without a fake clock in
  the gateway: the gateway's real clock is always ahead of the virtual one, so a reminder
  published at its own virtual time would be judged against real time, not virtual time. The
  price: the gateway learns about a debt only when its grace has ended, so no
  ``access.suspension.scheduled`` is visible during a compressed grace period;
- a payment after suspension answers the suspension: the simulator watches ``access.events.v1``
  and, once the gateway has suspended the learner, pays ``delay / speed`` real seconds later,
  dated with the real time of payment (``demo.simulate``). The gateway's suspension and
  restoration are real-time facts, so the report's times from suspension to restoration are
  compressed by the speed.

Without ``--speed`` the whole campaign is sent at once, in the same order (what happened within
grace, then the reminders), and the payments after suspension as soon as the suspensions are
seen.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from vigie_shared.events import (
    DebtExempted,
    DebtReminded,
    DebtSettled,
    EventData,
    PaymentChannel,
)
from vigie_shared.kit.clock import PARIS, utcnow


class Fate(StrEnum):
    PAID_WITHIN_GRACE = "paid within grace"
    EXEMPTED = "exempted"
    UNPAID = "suspended, still unpaid"
    PAID_AFTER_SUSPENSION = "paid after suspension"


@dataclass(frozen=True)
class Debtor:
    """One learner's story in the campaign, on the virtual clock."""

    learner_id: str
    debt_id: str
    amount: Decimal
    reminded_at: datetime
    fate: Fate
    resolved_at: datetime | None = None
    """When a payment or an exemption within grace happened."""
    pay_delay: timedelta = timedelta(0)
    """How long after the suspension the learner pays (``PAID_AFTER_SUSPENSION``)."""


@dataclass
class Campaign:
    channel: PaymentChannel
    grace_days: int
    start: datetime
    debtors: list[Debtor] = field(default_factory=list)

    @property
    def learners(self) -> set[str]:
        return {d.learner_id for d in self.debtors}

    def count(self, fate: Fate) -> int:
        return sum(d.fate is fate for d in self.debtors)

    def reminder(self, debtor: Debtor) -> DebtReminded:
        return DebtReminded(
            debt_id=debtor.debt_id,
            learner_id=debtor.learner_id,
            channel=self.channel,
            amount=debtor.amount,
            reminded_at=debtor.reminded_at,
            grace_days=self.grace_days,
        )

    def held_until(self, debtor: Debtor) -> datetime:
        """Virtual time the reminder is published at: its grace period is over by then,
        whatever the Paris calendar (the gateway alone computes the exact deadline)."""
        return debtor.reminded_at + timedelta(days=self.grace_days + 1)

    def end(self) -> datetime:
        return max((self.held_until(d) for d in self.debtors), default=self.start)


def campaign(
    *,
    reminders: int,
    pay_after_reminder: int,
    exempt: int,
    pay_after_suspension: int,
    channel: PaymentChannel,
    grace_days: int = 8,
    days: int = 61,
    seed: int | None = None,
    start: datetime | None = None,
) -> Campaign:
    """The campaign's learners and what happens to each. Reminders are spread over ``days``
    days from ``start`` (office hours, Paris); the default start leaves the whole campaign in
    the past. A campaign that would end in the future is refused: its reminders must be dated
    in the real past for the gateway's deadlines to have passed (module docstring)."""
    suspended = reminders - pay_after_reminder - exempt
    if min(reminders, pay_after_reminder, exempt, pay_after_suspension) < 0 or days < 1:
        raise ValueError("counts and days must not be negative")
    if suspended < 0 or pay_after_suspension > suspended:
        raise ValueError(
            "the campaign's counts do not add up: reminders = paid within grace + exempted"
            " + suspended, and only the suspended can pay after suspension"
        )
    now = utcnow()
    if start is None:
        first_day = (now - timedelta(days=days + grace_days + 3)).astimezone(PARIS).date()
        start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=PARIS)
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware, e.g. 2023-11-01T00:00+01:00")
    rng = random.Random(seed)  # noqa: S311 - simulation, not security
    run = uuid.uuid4().hex[:6]
    plan = Campaign(channel=channel, grace_days=grace_days, start=start)
    for n in range(reminders):
        # Wall-clock arithmetic in Paris: a reminder sent during office hours.
        day = (start.astimezone(PARIS) + timedelta(days=rng.randrange(days))).date()
        reminded = datetime(day.year, day.month, day.day, rng.randint(8, 17), tzinfo=PARIS)
        reminded += timedelta(minutes=rng.randrange(60))
        # Within grace: the reminder's own day up to its last day, before the midnight
        # that ends the grace period (a reminder is sent before 18:00, so +5 h stays inside).
        within = reminded + timedelta(days=rng.randrange(grace_days + 1), hours=rng.randint(1, 5))
        if n < pay_after_reminder:
            fate, resolved = Fate.PAID_WITHIN_GRACE, within
        elif n < pay_after_reminder + exempt:
            fate, resolved = Fate.EXEMPTED, within
        elif n < pay_after_reminder + exempt + pay_after_suspension:
            fate, resolved = Fate.PAID_AFTER_SUSPENSION, None
        else:
            fate, resolved = Fate.UNPAID, None
        plan.debtors.append(
            Debtor(
                learner_id=f"sim-{run}-{n:04d}",
                debt_id=f"debt-{run}-{n:04d}",
                amount=Decimal(rng.randrange(3000, 60000)) / 100,
                reminded_at=reminded,
                fate=fate,
                resolved_at=resolved,
                pay_delay=timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 23)),
            )
        )
    if plan.end() > now:
        raise ValueError(
            f"the campaign would end on {plan.end():%Y-%m-%d}, in the future: start it earlier"
        )
    return plan


@dataclass(frozen=True, order=True)
class Send:
    at: datetime
    """Virtual time of publication."""
    seq: int
    learner_id: str = field(compare=False)
    data: EventData = field(compare=False)
    dated: datetime = field(compare=False)


def schedule(plan: Campaign) -> list[Send]:
    """What the accounting system publishes before any suspension, in virtual-time order: a
    learner's payment or exemption within grace always precedes their (held) reminder."""
    sends: list[Send] = []
    for d in plan.debtors:
        if d.resolved_at is not None:
            resolution: EventData = (
                DebtSettled(
                    debt_id=d.debt_id,
                    learner_id=d.learner_id,
                    amount=d.amount,
                    settled_at=d.resolved_at,
                )
                if d.fate is Fate.PAID_WITHIN_GRACE
                else DebtExempted(
                    debt_id=d.debt_id,
                    learner_id=d.learner_id,
                    reason="échéancier accordé",
                    exempted_at=d.resolved_at,
                )
            )
            sends.append(Send(d.resolved_at, len(sends), d.learner_id, resolution, d.resolved_at))
        sends.append(
            Send(plan.held_until(d), len(sends), d.learner_id, plan.reminder(d), d.reminded_at)
        )
    return sorted(sends)
