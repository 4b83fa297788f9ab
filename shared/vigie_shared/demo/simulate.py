"""``vigie simulate billing``: stand in for the accounting system, which Vigie does not own.

It publishes ``billing.debt.reminded``, ``billing.debt.settled`` and ``billing.debt.exempted``
straight to Kafka, as the real accounting system would, on the schedule of a campaign shaped by
``demo.campaign`` (whose docstring tells how its virtual clock meets the gateway's real one),
and watches ``access.events.v1`` to pay after each suspension the campaign says is paid.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import RecordMetadata

from vigie_shared import topics
from vigie_shared.demo.campaign import Campaign, Debtor, Fate, Send, campaign, schedule
from vigie_shared.events import (
    AccessRestored,
    AccessSuspended,
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
