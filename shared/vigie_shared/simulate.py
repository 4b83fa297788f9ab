"""``vigie simulate billing``: stand in for the accounting system, which Vigie does not own.

It publishes ``billing.debt.reminded`` and ``billing.debt.settled`` straight to Kafka, as the
real accounting system would, shaped after a recovery campaign: how many reminders, how many
paid within the grace period, how many reached suspension and how many paid after it. The
defaults are the institution's direct-debit (CPA) campaign of November-December 2023: 323
reminders, 86 paid after the reminder (27 %), 158 suspensions, 78 paid after suspension (49 %).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import uuid
from datetime import timedelta
from decimal import Decimal

from vigie_shared.events import DebtReminded, DebtSettled, EventData, PaymentChannel, new_event
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.kafka import Producer
from vigie_shared.kit.settings import ServiceSettings

SOURCE = "/accounting/simulator"


def campaign(
    *,
    reminders: int,
    paid_in_grace: int,
    suspended: int,
    paid_after_suspension: int,
    channel: PaymentChannel,
    grace_days: int = 8,
    seed: int | None = None,
) -> list[tuple[str, EventData]]:
    """The campaign's events as (learner id, data), in the order the accounting system would
    send them. Learners who reach suspension were reminded more than the grace period ago."""
    if paid_in_grace + suspended > reminders or paid_after_suspension > suspended:
        raise ValueError("the campaign's counts do not add up")
    rng = random.Random(seed)  # noqa: S311 - simulation, not security
    now = utcnow()
    run = uuid.uuid4().hex[:6]
    out: list[tuple[str, EventData]] = []
    for n in range(reminders):
        learner = f"sim-{run}-{n:04d}"
        debt = f"debt-{run}-{n:04d}"
        amount = Decimal(rng.randrange(3000, 60000)) / 100
        if n < paid_in_grace:
            reminded = now - timedelta(days=rng.randint(1, grace_days), hours=rng.randint(0, 23))
        elif n < paid_in_grace + suspended:
            reminded = now - timedelta(days=grace_days + rng.randint(2, 20))
        else:
            reminded = now - timedelta(hours=rng.randint(1, 24 * (grace_days - 1)))
        out.append(
            (
                learner,
                DebtReminded(
                    debt_id=debt,
                    learner_id=learner,
                    channel=channel,
                    amount=amount,
                    reminded_at=reminded,
                    grace_days=grace_days,
                ),
            )
        )
        paid_at = None
        if n < paid_in_grace:
            paid_at = reminded + (now - reminded) * rng.random()
        elif n < paid_in_grace + paid_after_suspension:
            paid_at = now
        if paid_at is not None:
            out.append(
                (
                    learner,
                    DebtSettled(
                        debt_id=debt, learner_id=learner, amount=amount, settled_at=paid_at
                    ),
                )
            )
    return out


async def publish(bootstrap: str, events: list[tuple[str, EventData]]) -> None:
    producer = Producer(bootstrap, client_id="accounting-simulator")
    await producer.start()
    try:
        futures = [
            await producer.send(encode(new_event(data, subject=learner, source=SOURCE)))
            for learner, data in events
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def cmd_simulate_billing(args: argparse.Namespace) -> int:
    events = campaign(
        reminders=args.reminders,
        paid_in_grace=args.paid_in_grace,
        suspended=args.suspended,
        paid_after_suspension=args.paid_after_suspension,
        channel=PaymentChannel(args.channel),
        grace_days=args.grace_days,
        seed=args.seed,
    )
    asyncio.run(publish(ServiceSettings().kafka_bootstrap, events))
    print(
        f"published {len(events)} billing events: {args.reminders} reminders ({args.channel}),"
        f" {args.paid_in_grace} paid within grace, {args.suspended} past grace,"
        f" {args.paid_after_suspension} of them paid after suspension"
    )
    return 0


def register_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = sub.add_parser("simulate", help="stand in for external systems (accounting)")
    what = sim.add_subparsers(dest="what", required=True)
    billing = what.add_parser("billing", help="a debt-recovery campaign's billing events")
    billing.add_argument("--reminders", type=int, default=323)
    billing.add_argument("--paid-in-grace", type=int, default=86)
    billing.add_argument("--suspended", type=int, default=158)
    billing.add_argument("--paid-after-suspension", type=int, default=78)
    billing.add_argument("--channel", choices=[c.value for c in PaymentChannel], default="CPA")
    billing.add_argument("--grace-days", type=int, default=8)
    billing.add_argument("--seed", type=int, default=None)
    billing.set_defaults(func=cmd_simulate_billing)
