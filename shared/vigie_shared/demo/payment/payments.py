"""Paying a debt: the accounting system records the payment and tells Vigie.

A payment is said to be recorded only once the broker has acknowledged its
``vigie.billing.debt.settled`` (``acks=all``: every in-sync replica has it); until then the
gateway may never hear of it, and the learner must not be told otherwise. Paying is idempotent
on the debt id: a second request for a debt already paid (a double click, a reload of the form
post) publishes nothing, and requests racing for the same debt wait for the first. The event id
is derived from the debt id as well, so that a settlement published twice all the same (the
portal restarted between the broker's write and its acknowledgement) is one fact for the
gateway, whose inbox dedupes on the event id (CloudEvents §3.1.1: source + id identify it)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from enum import StrEnum

from aiokafka.errors import KafkaError

from vigie_shared.demo.payment.config import SOURCE
from vigie_shared.demo.payment.ledger import Debt, Ledger
from vigie_shared.events import DebtSettled, new_event
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.kafka import Producer

SETTLEMENT_IDS = uuid.UUID("5b0c1d9e-7a51-4c2e-9d43-0d6f3c1a2b77")
"""Namespace of the settlements' event ids (RFC 9562 §5.5, name-based UUIDs)."""


class UnknownDebt(Exception):
    """No such debt for this learner (another learner's is not theirs to see)."""


class PaymentNotRecorded(Exception):
    """The broker did not acknowledge the settlement in time: the payment is not confirmed.
    The record may still reach the broker later (a producer cannot take back what it queued);
    it is then the same fact as any retry's, by its event id, and the ledger reads it back."""


class AccessOutcome(StrEnum):
    RESTORED = "restored"
    """The gateway restored access since the learner was suspended for it."""
    WAITING = "waiting"
    """Suspended, no other debt due: the gateway has yet to act on the payment."""
    STILL_SUSPENDED = "still_suspended"
    """Other debts keep the learner suspended."""
    NOT_SUSPENDED = "not_suspended"


@dataclass(frozen=True)
class Receipt:
    debt: Debt
    paid_now: bool
    """False when the debt was already paid: this request paid nothing."""


def settlement_id(debt_id: str) -> str:
    return str(uuid.uuid5(SETTLEMENT_IDS, f"settled:{debt_id}"))


class PaymentService:
    def __init__(self, ledger: Ledger, producer: Producer, *, timeout: float) -> None:
        self._ledger = ledger
        self._producer = producer
        self._timeout = timeout
        self._locks: dict[str, asyncio.Lock] = {}

    def debt_of(self, learner_id: str, debt_id: str) -> Debt:
        debt = self._ledger.debt(debt_id)
        if debt is None or debt.learner_id != learner_id:
            raise UnknownDebt(debt_id)
        return debt

    async def pay(self, learner_id: str, debt_id: str) -> Receipt:
        lock = self._locks.setdefault(debt_id, asyncio.Lock())
        async with lock:
            debt = self.debt_of(learner_id, debt_id)
            if not debt.open:
                return Receipt(debt=debt, paid_now=False)
            paid_at = utcnow()
            event = new_event(
                DebtSettled(
                    debt_id=debt.debt_id,
                    learner_id=learner_id,
                    amount=debt.amount,
                    settled_at=paid_at,
                ),
                subject=learner_id,
                source=SOURCE,
                event_id=settlement_id(debt.debt_id),
                time=paid_at,
            )
            try:
                await asyncio.wait_for(self._producer.send_and_wait(encode(event)), self._timeout)
            except (KafkaError, TimeoutError) as exc:
                raise PaymentNotRecorded(str(exc) or type(exc).__name__) from exc
            # Recorded here at once: the ledger's read-back of the same event comes later.
            self._ledger.settle(debt.debt_id, paid_at)
            return Receipt(debt=self.debt_of(learner_id, debt_id), paid_now=True)

    def access_after(self, debt: Debt) -> AccessOutcome:
        """What the learner's access is since ``debt`` was paid."""
        fact = self._ledger.access_of(debt.learner_id)
        if fact is None:
            return AccessOutcome.NOT_SUSPENDED
        if not fact.suspended:
            restored = debt.debt_id in fact.debt_ids
            return AccessOutcome.RESTORED if restored else AccessOutcome.NOT_SUSPENDED
        # The debts the gateway suspended for, but this one, still unpaid and not exempted.
        others = [
            other
            for other in fact.debt_ids
            if other != debt.debt_id
            and (known := self._ledger.debt(other)) is not None
            and known.open
            and not known.exempted
        ]
        return AccessOutcome.STILL_SUSPENDED if others else AccessOutcome.WAITING
