"""Paying against a real broker that stops answering: the payment is not said to be recorded
unless the broker acknowledged it. A broker of the test's own, since the test kills it."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

import pytest

from tests.fixtures.stack import Broker
from vigie_shared import topics
from vigie_shared.demo.payment.ledger import Ledger
from vigie_shared.demo.payment.payments import PaymentNotRecorded, PaymentService
from vigie_shared.events import DebtReminded, PaymentChannel, new_event
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.kafka import Producer, ensure_topics

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


def reminded(ledger: Ledger, learner_id: str, debt_id: str) -> None:
    data = DebtReminded(
        debt_id=debt_id,
        learner_id=learner_id,
        channel=PaymentChannel.CPA,
        amount=Decimal("30.00"),
        reminded_at=utcnow(),
    )
    ledger.apply(new_event(data, subject=learner_id, source="/accounting/test-office"))


async def test_a_payment_the_broker_does_not_acknowledge_is_not_said_to_be_recorded(
    private_broker: Broker,
) -> None:
    await ensure_topics(private_broker.bootstrap, [topics.BILLING])
    ledger = Ledger()
    reminded(ledger, "u-1", "debt-acked")
    reminded(ledger, "u-1", "debt-unacked")
    producer = Producer(private_broker.bootstrap, client_id="accounting-test")
    await producer.start()
    try:
        payments = PaymentService(ledger, producer, timeout=3)
        receipt = await payments.pay("u-1", "debt-acked")
        assert receipt.paid_now
        private_broker.kill()
        with pytest.raises(PaymentNotRecorded):
            await payments.pay("u-1", "debt-unacked")
        unacked = ledger.debt("debt-unacked")
        assert unacked is not None
        assert unacked.open
    finally:
        # What the dead broker never took stays queued: stopping must not wait for it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(producer.stop(), 15)
