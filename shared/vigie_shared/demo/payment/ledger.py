"""The portal's ledger: the debts the accounting system reminded learners of, and what the
gateway did about them, rebuilt from the topics (the package docstring says why).

``Ledger`` holds the state and applies events; ``LedgerFollower`` reads ``billing.events.v1``
and ``access.events.v1`` from their beginning, without a consumer group (nothing is committed:
every start reads the whole history again), and says when it has caught up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from vigie_shared import topics
from vigie_shared.events import (
    AccessRestored,
    AccessSuspended,
    CloudEvent,
    DebtExempted,
    DebtReminded,
    DebtSettled,
)
from vigie_shared.kit.cloudevents import MalformedEvent, decode
from vigie_shared.kit.kafka import KafkaCredentials, client_security

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Debt:
    debt_id: str
    learner_id: str
    amount: Decimal
    currency: str
    reminded_at: datetime
    settled_at: datetime | None = None
    exempted: bool = False
    """A payment plan or a dispute: the debt no longer suspends access but is still due."""

    @property
    def open(self) -> bool:
        return self.settled_at is None


@dataclass(frozen=True)
class AccessFact:
    """The gateway's latest decision on a learner's access."""

    suspended: bool
    debt_ids: tuple[str, ...]
    at: datetime


class Ledger:
    def __init__(self) -> None:
        self._debts: dict[str, Debt] = {}
        self._settled_early: dict[str, datetime] = {}
        self._access: dict[str, AccessFact] = {}

    def apply(self, event: CloudEvent[Any]) -> None:
        data = event.data
        if isinstance(data, DebtReminded):
            debt = Debt(
                debt_id=data.debt_id,
                learner_id=data.learner_id,
                amount=data.amount,
                currency=data.currency,
                reminded_at=data.reminded_at,
                settled_at=self._settled_early.pop(data.debt_id, None),
            )
            known = self._debts.get(data.debt_id)
            self._debts[data.debt_id] = (
                debt if known is None else replace(known, amount=debt.amount)
            )
        elif isinstance(data, DebtSettled):
            self.settle(data.debt_id, data.settled_at)
        elif isinstance(data, DebtExempted):
            known = self._debts.get(data.debt_id)
            if known is not None:
                self._debts[data.debt_id] = replace(known, exempted=True)
        elif isinstance(data, AccessSuspended | AccessRestored):
            self._access[data.learner_id] = AccessFact(
                suspended=isinstance(data, AccessSuspended),
                debt_ids=tuple(data.debt_ids),
                at=event.time,
            )

    def settle(self, debt_id: str, settled_at: datetime) -> None:
        """Record a payment; the first one counts. A settlement read before its reminder (one
        learner's events are ordered, yet a payment may be recorded before the reminder is
        published) is kept for it."""
        known = self._debts.get(debt_id)
        if known is None:
            self._settled_early.setdefault(debt_id, settled_at)
        elif known.settled_at is None:
            self._debts[debt_id] = replace(known, settled_at=settled_at)

    def debt(self, debt_id: str) -> Debt | None:
        return self._debts.get(debt_id)

    def debts_of(self, learner_id: str) -> list[Debt]:
        """The learner's debts, the oldest reminder first."""
        return sorted(
            (d for d in self._debts.values() if d.learner_id == learner_id),
            key=lambda d: (d.reminded_at, d.debt_id),
        )

    def access_of(self, learner_id: str) -> AccessFact | None:
        return self._access.get(learner_id)


class LedgerFollower:
    """Feeds ``ledger`` from the broker while the portal runs."""

    TOPICS = (topics.BILLING, topics.ACCESS)

    def __init__(
        self, bootstrap: str, ledger: Ledger, *, login: KafkaCredentials | None = None
    ) -> None:
        self._bootstrap = bootstrap
        self._ledger = ledger
        self._login = login
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._caught_up = asyncio.Event()

    @property
    def caught_up(self) -> bool:
        """Whether the history present at start has been read (readiness)."""
        return self._caught_up.is_set() and self._task is not None and not self._task.done()

    async def start(self) -> None:
        # Subscribed without a group: aiokafka assigns every partition of the topics itself.
        consumer = AIOKafkaConsumer(
            *self.TOPICS,
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=5000,
            **client_security(self._login),
        )
        await consumer.start()
        try:
            partitions = await self._partitions(consumer)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        self._task = asyncio.create_task(self._follow(consumer, ends), name="payment-ledger")

    async def _partitions(
        self, consumer: AIOKafkaConsumer, timeout: float = 30.0
    ) -> list[TopicPartition]:
        """Every partition of the followed topics, once the consumer has them all: a topic
        created a moment ago (by `vigie up`, just before the portal starts) may not be in the
        broker's metadata yet."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            assigned = consumer.assignment()
            if {tp.topic for tp in assigned} >= set(self.TOPICS):
                return sorted(assigned)
            if asyncio.get_running_loop().time() > deadline:
                missing = sorted(set(self.TOPICS) - {tp.topic for tp in assigned})
                raise RuntimeError(f"the broker shows no partition of {missing} after {timeout} s")
            await asyncio.sleep(0.1)

    async def wait_caught_up(self, timeout: float) -> None:
        await asyncio.wait_for(self._caught_up.wait(), timeout)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _follow(self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> None:
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=300)
            except KafkaError:
                log.warning("payment ledger: broker unreachable, retrying", exc_info=True)
                await asyncio.sleep(1)
                continue
            for records in batches.values():
                for record in records:
                    try:
                        event = decode(record.headers, record.value)
                    except MalformedEvent as exc:
                        # Another producer's mistake is not a debt: skip it, as the gateway
                        # dead-letters it (events.ALLOWED_SOURCE_PREFIXES).
                        log.info("payment ledger: skipped a record: %s", exc.reason)
                        continue
                    self._ledger.apply(event)
            if not self._caught_up.is_set() and await _reached(consumer, ends):
                self._caught_up.set()


async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True
