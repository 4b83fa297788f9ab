"""``vigie simulate billing``: the campaign's shape, virtual time and the command line. Playing
against a running gateway is in ``tests/integration/test_campaign.py``."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from vigie_shared.cli import build_parser
from vigie_shared.demo.campaign import Fate, campaign, schedule
from vigie_shared.events import DebtExempted, DebtReminded, DebtSettled, PaymentChannel
from vigie_shared.kit.clock import PARIS, utcnow

START = datetime(2023, 11, 1, tzinfo=PARIS)


def test_the_seed_campaign_has_the_annual_reports_counts() -> None:
    plan = campaign(
        reminders=323,
        pay_after_reminder=86,
        exempt=79,
        pay_after_suspension=78,
        channel=PaymentChannel.CPA,
        start=START,
        seed=1,
    )
    fates = [plan.count(fate) for fate in Fate]
    assert fates == [86, 79, 158 - 78, 78]
    assert len(plan.learners) == 323
    # Every reminder from 1 November to 31 December 2023, during office hours in Paris.
    days = {d.reminded_at.astimezone(PARIS).date() for d in plan.debtors}
    assert min(days) >= START.date()
    assert max(days) <= datetime(2023, 12, 31).date()
    assert all(8 <= d.reminded_at.astimezone(PARIS).hour < 18 for d in plan.debtors)


def test_payments_and_exemptions_within_grace_fall_before_the_paris_midnight_ending_it() -> None:
    plan = campaign(
        reminders=200,
        pay_after_reminder=100,
        exempt=100,
        pay_after_suspension=0,
        channel=PaymentChannel.CARD,
        start=START,
        seed=3,
    )
    for debtor in plan.debtors:
        assert debtor.resolved_at is not None
        reminder_day = debtor.reminded_at.astimezone(PARIS).date()
        last_day = reminder_day + timedelta(days=plan.grace_days)
        assert debtor.reminded_at < debtor.resolved_at
        assert debtor.resolved_at.astimezone(PARIS).date() <= last_day


def test_counts_that_do_not_add_up_are_refused() -> None:
    with pytest.raises(ValueError, match="do not add up"):
        campaign(
            reminders=10,
            pay_after_reminder=6,
            exempt=5,
            pay_after_suspension=0,
            channel=PaymentChannel.CPA,
        )
    with pytest.raises(ValueError, match="do not add up"):
        campaign(
            reminders=10,
            pay_after_reminder=5,
            exempt=0,
            pay_after_suspension=6,
            channel=PaymentChannel.CPA,
        )


def test_a_campaign_that_would_end_in_the_future_is_refused() -> None:
    """Its reminders could not be dated in the past when their grace ends."""
    with pytest.raises(ValueError, match="in the future"):
        campaign(
            reminders=5,
            pay_after_reminder=0,
            exempt=0,
            pay_after_suspension=0,
            channel=PaymentChannel.CPA,
            start=utcnow() - timedelta(days=3),
        )


def test_by_default_the_whole_campaign_lies_in_the_past() -> None:
    plan = campaign(
        reminders=50,
        pay_after_reminder=10,
        exempt=10,
        pay_after_suspension=10,
        channel=PaymentChannel.CPA,
    )
    assert plan.end() <= utcnow()
    # Recent, not years ago: it starts just far enough back for 61 days of reminders and the
    # 8 days of grace (reminder days are drawn at random, so the end itself is not fixed).
    assert plan.start >= utcnow() - timedelta(days=61 + 8 + 4)


def test_reminders_are_held_until_their_grace_is_over_on_the_virtual_clock() -> None:
    plan = campaign(
        reminders=40,
        pay_after_reminder=10,
        exempt=10,
        pay_after_suspension=10,
        channel=PaymentChannel.CPA,
        start=START,
        seed=5,
    )
    sends = schedule(plan)
    assert [s.at for s in sends] == sorted(s.at for s in sends)
    reminders = [s for s in sends if isinstance(s.data, DebtReminded)]
    assert len(reminders) == 40
    for send in reminders:
        assert isinstance(send.data, DebtReminded)
        # Dated with the reminder's time, published after the midnight that ends its grace.
        assert send.dated == send.data.reminded_at
        reminder_day = send.data.reminded_at.astimezone(PARIS).date()
        grace_end = datetime.combine(
            reminder_day + timedelta(days=9), datetime.min.time(), tzinfo=PARIS
        )
        assert send.at >= grace_end
    # A payment or exemption within grace reaches the gateway before its reminder.
    position = {(s.learner_id, type(s.data)): n for n, s in enumerate(sends)}
    for debtor in plan.debtors:
        if debtor.fate is Fate.PAID_WITHIN_GRACE:
            first = position[(debtor.learner_id, DebtSettled)]
        elif debtor.fate is Fate.EXEMPTED:
            first = position[(debtor.learner_id, DebtExempted)]
        else:
            # Payments after suspension wait for the gateway's suspension.
            assert (debtor.learner_id, DebtSettled) not in position
            continue
        assert first < position[(debtor.learner_id, DebtReminded)]


def test_command_line_takes_speed_channel_and_a_paris_start_day() -> None:
    args = build_parser().parse_args(
        ["simulate", "billing", "--speed", "86400", "--channel", "card", "--start", "2023-11-01"]
    )
    assert args.speed == 86400.0
    assert args.channel is PaymentChannel.CARD
    assert args.start == START
    assert (args.reminders, args.pay_after_reminder, args.exempt) == (323, 86, 79)
    assert args.pay_after_suspension == 78
    defaults = build_parser().parse_args(["simulate", "billing"])
    assert defaults.speed is None
    assert defaults.channel is PaymentChannel.CPA
