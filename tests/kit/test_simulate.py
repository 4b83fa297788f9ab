"""The accounting simulator produces a campaign shaped as asked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from vigie_shared.events import DebtReminded, DebtSettled, PaymentChannel
from vigie_shared.kit.clock import utcnow
from vigie_shared.simulate import campaign


def test_campaign_counts_match_the_institutions_cpa_figures() -> None:
    events = campaign(
        reminders=323,
        paid_in_grace=86,
        suspended=158,
        paid_after_suspension=78,
        channel=PaymentChannel.CPA,
        seed=1,
    )
    reminders = [d for _, d in events if isinstance(d, DebtReminded)]
    settlements = {d.debt_id: d for _, d in events if isinstance(d, DebtSettled)}
    now = utcnow()
    assert len(reminders) == 323
    assert all(r.channel is PaymentChannel.CPA and r.grace_days == 8 for r in reminders)
    in_grace = [
        r
        for r in reminders
        if r.debt_id in settlements
        and settlements[r.debt_id].settled_at < r.reminded_at + timedelta(days=9)
    ]
    assert len(in_grace) == 86
    past_grace = [r for r in reminders if (now - r.reminded_at).days >= 9]
    assert len(past_grace) == 158
    assert sum(1 for r in past_grace if r.debt_id in settlements) == 78
    # A learner's settlement follows its reminder (same key, so same partition and order).
    order = [(learner, type(d).__name__) for learner, d in events]
    for i, (learner, kind) in enumerate(order):
        if kind == "DebtSettled":
            assert order[i - 1] == (learner, "DebtReminded")


def test_counts_that_do_not_add_up_are_refused() -> None:
    with pytest.raises(ValueError, match="add up"):
        campaign(
            reminders=10,
            paid_in_grace=8,
            suspended=5,
            paid_after_suspension=1,
            channel=PaymentChannel.CARD,
        )
