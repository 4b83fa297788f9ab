"""``vigie simulate billing``: stand in for the accounting system, which Vigie does not own.

It publishes ``billing.debt.reminded``, ``billing.debt.settled`` and ``billing.debt.exempted``
straight to Kafka, as the real accounting system would, shaped after a recovery campaign: how
many reminders, how many paid within the grace period, how many the office exempted (payment
plan, dispute), how many reached suspension and how many paid after it. The defaults are the
institution's direct-debit (CPA) campaign of November-December 2023: 323 reminders, 86 paid
within grace (27 %), 79 exempted, 158 suspensions, 78 paid after suspension (49 %).

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
  dated with the real time of payment. The gateway's suspension and restoration are real-time
  facts, so the report's times from suspension to restoration are compressed by the speed.

Without ``--speed`` the whole campaign is sent at once, in the same order (what happened within
grace, then the reminders), and the payments after suspension as soon as the suspensions are
seen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import RecordMetadata

from vigie_shared import topics
from vigie_shared.events import (
    AccessRestored,
    AccessSuspended,
    DebtExempted,
    DebtReminded,
    DebtSettled,
    EventData,
    PaymentChannel,
    new_event,
)
from vigie_shared.kit.clock import PARIS, utcnow
from vigie_shared.kit.cloudevents import MalformedEvent, decode, encode
from vigie_shared.kit.kafka import (
    KafkaCredentials,
    Producer,
    client_security,
    ensure_topics,
    service_login,
)
from vigie_shared.kit.settings import ServiceSettings

SOURCE = "/accounting/simulator"


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


@dataclass
class Outcome:
    sent: int = 0
    suspended: set[str] = field(default_factory=set)
    restored: set[str] = field(default_factory=set)
    paid_after_suspension: set[str] = field(default_factory=set)


Progress = Callable[[str], None]
Acked = asyncio.Future[RecordMetadata]


async def play(
    bootstrap: str,
    plan: Campaign,
    *,
    speed: float | None = None,
    wait: float = 120.0,
    progress: Progress | None = None,
    outcome: Outcome | None = None,
    login: KafkaCredentials | None = None,
) -> Outcome:
    """Play the campaign against a running gateway and return once the gateway has suspended
    every learner due, every payment after suspension is made and the gateway has restored
    those learners (or after ``wait`` seconds without the gateway's answers: ``TimeoutError``).
    ``outcome``, if given, is filled as the campaign goes, for whoever watches it. ``login``:
    the accounting system's broker user where the broker authenticates its clients (the one
    principal allowed to write billing events, and to read access events without a group)."""
    if speed is not None and speed <= 0:
        raise ValueError("speed must be positive")
    await ensure_topics(bootstrap, [topics.BILLING, topics.ACCESS], login=login)
    outcome = outcome if outcome is not None else Outcome()
    payers = {d.learner_id: d for d in plan.debtors if d.fate is Fate.PAID_AFTER_SUSPENSION}
    learners = plan.learners
    producer = Producer(bootstrap, client_id="accounting-simulator", login=login)
    watcher = AIOKafkaConsumer(
        topics.ACCESS,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        metadata_max_age_ms=1000,
        **client_security(login),
    )
    await producer.start()
    await watcher.start()
    payments: list[asyncio.Task[None]] = []

    async def send(learner_id: str, data: EventData, dated: datetime) -> Acked:
        """Queue one event; queued in call order, so one learner's events stay in order."""
        event = new_event(data, subject=learner_id, source=SOURCE, time=dated)
        acked = await producer.send(encode(event))
        outcome.sent += 1
        return acked

    async def pay_after(debtor: Debtor) -> None:
        await asyncio.sleep(debtor.pay_delay.total_seconds() / speed if speed else 0)
        paid = utcnow()
        acked = await send(
            debtor.learner_id,
            DebtSettled(
                debt_id=debtor.debt_id,
                learner_id=debtor.learner_id,
                amount=debtor.amount,
                settled_at=paid,
            ),
            paid,
        )
        await acked
        outcome.paid_after_suspension.add(debtor.learner_id)

    async def watch() -> None:
        while True:
            for records in (await watcher.getmany(timeout_ms=200)).values():
                for record in records:
                    try:
                        event = decode(record.headers, record.value)
                    except MalformedEvent:
                        continue
                    learner = getattr(event.data, "learner_id", None)
                    if learner not in learners:
                        continue
                    if isinstance(event.data, AccessSuspended):
                        outcome.suspended.add(learner)
                        if learner in payers and learner not in outcome.paid_after_suspension:
                            payments.append(asyncio.create_task(pay_after(payers.pop(learner))))
                    elif isinstance(event.data, AccessRestored):
                        outcome.restored.add(learner)

    watching = asyncio.create_task(watch())
    expected_payers = len(payers)
    due = {
        d.learner_id for d in plan.debtors if d.fate in (Fate.UNPAID, Fate.PAID_AFTER_SUSPENSION)
    }
    try:
        await _send_schedule(plan, schedule(plan), send, speed, progress, outcome)
        deadline = time.monotonic() + wait
        while (
            len(outcome.restored & outcome.paid_after_suspension) < expected_payers
            or not due <= outcome.suspended
        ):
            if watching.done():
                watching.result()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"after {wait:.0f} s: {len(outcome.suspended)}/{len(due)} learners suspended,"
                    f" {len(outcome.paid_after_suspension)}/{expected_payers} paid after"
                    f" suspension, {len(outcome.restored)} restored"
                )
            await asyncio.sleep(0.2)
        await asyncio.gather(*payments)
    finally:
        watching.cancel()
        for task in payments:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(watching, *payments, return_exceptions=True)
        await watcher.stop()
        await producer.stop()
    if progress is not None:
        progress(
            f"done: {outcome.sent} billing events, {len(outcome.suspended)} suspended,"
            f" {len(outcome.restored)} restored"
        )
    return outcome


async def _send_schedule(
    plan: Campaign,
    sends: list[Send],
    send: Callable[[str, EventData, datetime], Awaitable[Acked]],
    speed: float | None,
    progress: Progress | None,
    outcome: Outcome,
) -> None:
    """Publish each event when the virtual clock reaches it (at once without a speed)."""
    origin = time.monotonic()
    day = plan.start.astimezone(PARIS).date()
    acks: list[Acked] = []
    for item in sends:
        if speed is not None:
            due = origin + (item.at - plan.start).total_seconds() / speed
            if due > time.monotonic():
                await asyncio.gather(*acks)
                acks.clear()
                await asyncio.sleep(due - time.monotonic())
            today = item.at.astimezone(PARIS).date()
            if progress is not None and today != day:
                day = today
                progress(
                    f"{today:%Y-%m-%d} (virtual): {outcome.sent} billing events sent,"
                    f" {len(outcome.suspended)} suspended, {len(outcome.restored)} restored"
                )
        acks.append(await send(item.learner_id, item.data, item.dated))
    await asyncio.gather(*acks)


def cmd_simulate_billing(args: argparse.Namespace) -> int:
    plan = campaign(
        reminders=args.reminders,
        pay_after_reminder=args.pay_after_reminder,
        exempt=args.exempt,
        pay_after_suspension=args.pay_after_suspension,
        channel=args.channel,
        grace_days=args.grace_days,
        days=args.days,
        seed=args.seed,
        start=args.start,
    )
    to_suspend = plan.count(Fate.UNPAID) + plan.count(Fate.PAID_AFTER_SUSPENSION)
    print(
        f"campaign {plan.start:%Y-%m-%d} → {plan.end():%Y-%m-%d} ({plan.channel.value}):"
        f" {len(plan.debtors)} reminders, {plan.count(Fate.PAID_WITHIN_GRACE)} paid within"
        f" grace, {plan.count(Fate.EXEMPTED)} exempted, {to_suspend} to suspend,"
        f" {plan.count(Fate.PAID_AFTER_SUSPENSION)} of them paying after suspension",
        flush=True,
    )
    settings = ServiceSettings()
    try:
        asyncio.run(
            play(
                settings.kafka_bootstrap,
                plan,
                speed=args.speed,
                wait=args.wait,
                progress=lambda line: print(line, flush=True),
                login=service_login(settings),
            )
        )
    except TimeoutError as error:
        print(f"the gateway did not answer in time: {error}")
        return 1
    return 0


def _channel(value: str) -> PaymentChannel:
    for channel in PaymentChannel:
        if channel.value.lower() == value.lower():
            return channel
    raise argparse.ArgumentTypeError("cpa or card")


def _aware(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=PARIS)


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
    billing.add_argument("--days", type=int, default=61, help="days the reminders span")
    billing.add_argument(
        "--start",
        type=_aware,
        default=None,
        help="first day of the campaign, in the past (e.g. 2023-11-01; Paris time unless an"
        " offset is given); default: early enough for the whole campaign to be over",
    )
    billing.add_argument(
        "--speed",
        type=float,
        default=None,
        help="virtual seconds per real second (86400: a day per second); default: all at once",
    )
    billing.add_argument(
        "--wait",
        type=float,
        default=120.0,
        help="seconds to wait for the gateway's suspensions and restorations",
    )
    billing.add_argument("--seed", type=int, default=None)
    billing.set_defaults(func=cmd_simulate_billing)
