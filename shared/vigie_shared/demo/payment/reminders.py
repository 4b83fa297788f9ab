"""A reminder the accounting office sends, for trying the payment page on ``vigie up --demo``:
``python -m vigie_shared.demo.payment remind --learner ID``. The reminder is dated one day past
its grace period (as ``vigie simulate billing`` holds its reminders), so the gateway suspends
the learner as soon as it reads it, and the portal lists the debt."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from vigie_shared.demo.payment.config import SOURCE
from vigie_shared.events import DebtReminded, PaymentChannel, new_event
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.kafka import KafkaCredentials, Producer

GRACE_DAYS = 8


async def remind(
    bootstrap: str,
    learner_id: str,
    *,
    amount: Decimal,
    debt_id: str | None = None,
    login: KafkaCredentials | None = None,
    now: datetime | None = None,
) -> str:
    """Publish an overdue reminder of ``amount`` to ``learner_id``; the debt's id."""
    debt_id = debt_id or f"demo-{uuid.uuid4().hex[:8]}"
    reminded_at = (now or utcnow()) - timedelta(days=GRACE_DAYS + 1)
    data = DebtReminded(
        debt_id=debt_id,
        learner_id=learner_id,
        channel=PaymentChannel.CARD,
        amount=amount,
        reminded_at=reminded_at,
        grace_days=GRACE_DAYS,
    )
    producer = Producer(bootstrap, client_id="accounting-demo-payment", login=login)
    await producer.start()
    try:
        await producer.send_and_wait(
            encode(new_event(data, subject=learner_id, source=SOURCE, time=reminded_at))
        )
    finally:
        await producer.stop()
    return debt_id
