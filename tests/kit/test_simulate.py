"""The accounting simulator produces a campaign shaped as asked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from vigie_shared.cli import build_parser
from vigie_shared.events import DebtExempted, DebtReminded, DebtSettled, PaymentChannel
from vigie_shared.simulate import campaign


def test_campaign_counts_match_the_institutions_cpa_figures() -> None:
    plan = campaign(
        reminders=323,
        pay_after_reminder=86,
        exempt=79,
        pay_after_suspension=78,
        channel=PaymentChannel.CPA,
        seed=1,
    )
    events = plan.first + plan.later_settlements()
    reminders = {d.debt_id: d for _, d in events if isinstance(d, DebtReminded)}
    settled = {d.debt_id: d for _, d in events if isinstance(d, DebtSettled)}
    exempted = {d.debt_id: d for _, d in events if isinstance(d, DebtExempted)}
    assert len(reminders) == 323
    assert all(r.channel is PaymentChannel.CPA and r.grace_days == 8 for r in reminders.values())
    deadline = {k: r.reminded_at + timedelta(days=9) for k, r in reminders.items()}
    in_grace = [k for k, s in settled.items() if s.settled_at < deadline[k]]
    after = [k for k, s in settled.items() if s.settled_at >= deadline[k]]
    assert len(in_grace) == 86
    assert len(exempted) == 79
    assert all(e.exempted_at < deadline[k] for k, e in exempted.items())
    assert len(after) == 78
    suspended = set(reminders) - set(in_grace) - set(exempted)
    assert len(suspended) == 158
    assert set(after) <= suspended
    assert not set(in_grace) & set(exempted)


def test_a_learner_s_events_are_sent_in_an_order_consistent_with_time() -> None:
    events = campaign(
        reminders=40,
        pay_after_reminder=10,
        exempt=10,
        pay_after_suspension=5,
        channel=PaymentChannel.CARD,
        seed=2,
    ).first
    for i, (learner, data) in enumerate(events):
        if isinstance(data, DebtSettled | DebtExempted):
            # Known within grace: sent before the past-dated reminder is acted on.
            assert events[i + 1][0] == learner
            assert isinstance(events[i + 1][1], DebtReminded)


def test_counts_that_do_not_add_up_are_refused() -> None:
    with pytest.raises(ValueError, match="add up"):
        campaign(
            reminders=10,
            pay_after_reminder=8,
            exempt=5,
            pay_after_suspension=0,
            channel=PaymentChannel.CARD,
        )


def test_command_line_takes_the_issue_s_flags() -> None:
    args = build_parser().parse_args(
        [
            "simulate",
            "billing",
            "--reminders",
            "10",
            "--pay-after-reminder",
            "2",
            "--exempt",
            "3",
            "--pay-after-suspension",
            "1",
            "--channel",
            "cpa",
        ]
    )
    assert (args.reminders, args.pay_after_reminder, args.exempt) == (10, 2, 3)
    assert args.channel is PaymentChannel.CPA
