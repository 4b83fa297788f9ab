"""``vigie simulate billing``: stand in for the accounting system, which Vigie does not own.

It publishes ``billing.debt.reminded`` and ``billing.debt.settled`` straight to Kafka, as the
real accounting system would, shaped after a recovery campaign: how many reminders, how many
paid within the grace period, how many reached suspension and how many paid after it. The
defaults are the institution's direct-debit (CPA) campaign of November-December 2023: 323
reminders, 86 paid after the reminder (27 %), 79 exempted, 158 suspensions, 78 paid after
suspension (49 %). Virtual time (the issue's ``--speed``) is not implemented: reminders are
dated in the past instead, which plays the same decisions at once.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from vigie_shared.events import (
    DebtExempted,
    DebtReminded,
    DebtSettled,
    EventData,
    PaymentChannel,
    new_event,
)
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.kafka import Producer
from vigie_shared.kit.settings import ServiceSettings

SOURCE = "/accounting/simulator"


@dataclass
class Campaign:
    first: list[tuple[str, EventData]] = field(default_factory=list)
    """Reminders, payments within grace and exemptions."""
    pay_later: list[tuple[str, str, Decimal]] = field(default_factory=list)
    """(learner, debt, amount) settled after their suspension."""

    def later_settlements(self) -> list[tuple[str, EventData]]:
        now = utcnow()
        return [
            (learner, DebtSettled(debt_id=debt, learner_id=learner, amount=amount, settled_at=now))
            for learner, debt, amount in self.pay_later
        ]


def occurred_at(data: EventData) -> datetime:
    """When the fact happened: the CloudEvents ``time`` of what the accounting system sends."""
    for name in ("reminded_at", "settled_at", "exempted_at"):
        value = getattr(data, name, None)
        if isinstance(value, datetime):
            return value
    return utcnow()


def campaign(
    *,
    reminders: int,
    pay_after_reminder: int,
    exempt: int,
    pay_after_suspension: int,
    channel: PaymentChannel,
    grace_days: int = 8,
    seed: int | None = None,
    start: datetime | None = None,
) -> Campaign:
    """The campaign's events. Every reminder is dated more than the grace period ago, so the
    gateway decides at once what the campaign's weeks decided. What was known before a
    learner's deadline (a payment within grace, an exemption) is sent before the past-dated
    reminder, so those learners are never suspended; the others are; the payments after
    suspension are sent once the suspensions are decided, dated then."""
    suspended = reminders - pay_after_reminder - exempt
    if suspended < 0 or pay_after_suspension > suspended:
        raise ValueError("the campaign's counts do not add up")
    rng = random.Random(seed)  # noqa: S311 - simulation, not security
    now = utcnow()
    run = uuid.uuid4().hex[:6]
    out = Campaign()
    for n in range(reminders):
        learner = f"sim-{run}-{n:04d}"
        debt = f"debt-{run}-{n:04d}"
        amount = Decimal(rng.randrange(3000, 60000)) / 100
        if start is not None:
            # A past campaign, e.g. the seed's November-December 2023.
            reminded = start + timedelta(days=rng.randint(0, 45), hours=rng.randint(8, 18))
        else:
            reminded = now - timedelta(
                days=grace_days + rng.randint(2, 20), hours=rng.randint(0, 23)
            )
        within_grace = reminded + timedelta(days=rng.randint(1, grace_days), hours=1)
        reminder = DebtReminded(
            debt_id=debt,
            learner_id=learner,
            channel=channel,
            amount=amount,
            reminded_at=reminded,
            grace_days=grace_days,
        )
        if n < pay_after_reminder:
            settled = DebtSettled(
                debt_id=debt, learner_id=learner, amount=amount, settled_at=within_grace
            )
            out.first += [(learner, settled), (learner, reminder)]
        elif n < pay_after_reminder + exempt:
            waived = DebtExempted(
                debt_id=debt,
                learner_id=learner,
                reason="échéancier accordé",
                exempted_at=within_grace,
            )
            out.first += [(learner, waived), (learner, reminder)]
        else:
            out.first.append((learner, reminder))
            if n < pay_after_reminder + exempt + pay_after_suspension:
                out.pay_later.append((learner, debt, amount))
    return out


async def publish(bootstrap: str, events: list[tuple[str, EventData]]) -> None:
    producer = Producer(bootstrap, client_id="accounting-simulator")
    await producer.start()
    try:
        futures = [
            await producer.send(
                encode(new_event(data, subject=learner, source=SOURCE, time=occurred_at(data)))
            )
            for learner, data in events
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def play(bootstrap: str, plan: Campaign, *, settle_after: float) -> int:
    """Send the campaign; the payments after suspension ``settle_after`` seconds later, once
    the gateway has decided the suspensions. Returns how many events were sent."""
    await publish(bootstrap, plan.first)
    await asyncio.sleep(settle_after)
    later = plan.later_settlements()
    await publish(bootstrap, later)
    return len(plan.first) + len(later)


def cmd_simulate_billing(args: argparse.Namespace) -> int:
    plan = campaign(
        reminders=args.reminders,
        pay_after_reminder=args.pay_after_reminder,
        exempt=args.exempt,
        pay_after_suspension=args.pay_after_suspension,
        channel=args.channel,
        grace_days=args.grace_days,
        seed=args.seed,
        start=args.start,
    )
    sent = asyncio.run(
        play(ServiceSettings().kafka_bootstrap, plan, settle_after=args.settle_after)
    )
    suspended = args.reminders - args.pay_after_reminder - args.exempt
    print(
        f"published {sent} billing events: {args.reminders} reminders"
        f" ({args.channel.value}),"
        f" {args.pay_after_reminder} paid within grace, {args.exempt} exempted,"
        f" {suspended} suspended, {args.pay_after_suspension} of them paid after suspension"
    )
    return 0


def _channel(value: str) -> PaymentChannel:
    for channel in PaymentChannel:
        if channel.value.lower() == value.lower():
            return channel
    raise argparse.ArgumentTypeError("cpa or card")


def register_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = sub.add_parser("simulate", help="stand in for external systems (accounting)")
    what = sim.add_subparsers(dest="what", required=True)
    billing = what.add_parser("billing", help="a debt-recovery campaign's billing events")
    billing.add_argument("--reminders", type=int, default=323)
    billing.add_argument("--pay-after-reminder", type=int, default=86, help="within grace")
    billing.add_argument(
        "--exempt", type=int, default=79, help="suspension waived (payment plan, dispute)"
    )
    billing.add_argument("--pay-after-suspension", type=int, default=78)
    billing.add_argument(
        "--channel", type=_channel, default=PaymentChannel.CPA, help="cpa (direct debit) or card"
    )
    billing.add_argument("--grace-days", type=int, default=8)
    billing.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=None,
        help="date the campaign's reminders from this day (e.g. 2023-11-01T00:00+01:00)",
    )
    billing.add_argument(
        "--settle-after",
        type=float,
        default=10.0,
        help="seconds to wait before the payments after suspension",
    )
    billing.add_argument("--seed", type=int, default=None)
    billing.set_defaults(func=cmd_simulate_billing)
