"""The suspension policy: 8 days' grace in Paris days, several debts, any order of facts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from sso_gateway.access.policy import Debt, ManualDecision, decide, grace_deadline
from vigie_shared.kit.clock import PARIS


def paris(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def test_grace_ends_at_midnight_paris_after_eight_full_days() -> None:
    # Reminder on Tuesday 3 Nov 2026 at 10:00: the learner has 4..11 Nov; suspended on the 12th.
    assert grace_deadline(paris(2026, 11, 3, 10, 0), 8) == paris(2026, 11, 12, 0, 0)


def test_grace_uses_the_paris_day_of_a_late_evening_utc_reminder() -> None:
    # 23:30 UTC on 31 Oct is already 1 Nov in Paris (UTC+1 in winter).
    reminded = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    assert grace_deadline(reminded, 8) == paris(2026, 11, 10, 0, 0)


def test_grace_across_the_spring_clock_change_is_midnight_local_time() -> None:
    deadline = grace_deadline(paris(2026, 3, 25, 9, 0), 8)
    assert deadline == paris(2026, 4, 3, 0, 0)
    assert deadline.astimezone(UTC) == datetime(2026, 4, 2, 22, 0, tzinfo=UTC)  # CEST, UTC+2


def test_naive_reminder_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        grace_deadline(datetime(2026, 11, 3, 10, 0), 8)


def test_unpaid_debt_suspends_only_after_its_grace() -> None:
    debt = Debt("d-1", reminded_at=paris(2026, 11, 3, 10, 0))
    before = decide([debt], None, paris(2026, 11, 11, 23, 59))
    after = decide([debt], None, paris(2026, 11, 12, 0, 0))
    assert not before.suspended
    assert before.pending_debts == ("d-1",)
    assert before.next_deadline == paris(2026, 11, 12, 0, 0)
    assert after.suspended
    assert after.overdue_debts == ("d-1",)


def test_learner_stays_suspended_until_every_overdue_debt_is_settled() -> None:
    now = paris(2026, 12, 1, 12, 0)
    first = Debt("d-1", reminded_at=paris(2026, 11, 3, 10, 0))
    second = Debt("d-2", reminded_at=paris(2026, 11, 5, 10, 0))
    one_paid = [Debt("d-1", first.reminded_at, settled_at=now), second]
    both_paid = [
        Debt("d-1", first.reminded_at, settled_at=now),
        Debt("d-2", second.reminded_at, settled_at=now),
    ]
    assert decide([first, second], None, now).suspended
    assert decide(one_paid, None, now).suspended
    assert not decide(both_paid, None, now).suspended


def test_settlement_known_before_its_reminder_means_no_suspension() -> None:
    paid_first = Debt(
        "d-1", reminded_at=paris(2026, 11, 3, 10, 0), settled_at=paris(2026, 11, 2, 9, 0)
    )
    decision = decide([paid_first], None, paris(2026, 12, 1, 0, 0))
    assert not decision.suspended
    assert decision.pending_debts == ()


def test_the_decision_does_not_depend_on_the_order_facts_arrived() -> None:
    facts = [
        ("remind", "d-1", paris(2026, 11, 3, 10, 0)),
        ("remind", "d-2", paris(2026, 11, 20, 10, 0)),
        ("settle", "d-1", paris(2026, 11, 15, 10, 0)),
    ]
    now = paris(2026, 12, 1, 0, 0)
    decisions = set()
    for order in itertools.permutations(facts):
        known: dict[str, Debt] = {}
        for kind, debt_id, at in order:
            debt = known.get(debt_id, Debt(debt_id))
            known[debt_id] = (
                Debt(debt_id, at, debt.grace_days, debt.settled_at)
                if kind == "remind"
                else Debt(debt_id, debt.reminded_at, debt.grace_days, at)
            )
        decision = decide(known.values(), None, now)
        decisions.add((decision.suspended, decision.overdue_debts, decision.pending_debts))
    assert decisions == {(True, ("d-2",), ())}


def test_manual_suspension_stands_even_without_debts() -> None:
    manual = ManualDecision(True, paris(2026, 11, 1, 9, 0), "fraud check", "u-compta")
    assert decide([], manual, paris(2026, 11, 2, 0, 0)).suspended


def test_manual_restoration_lifts_the_current_debts_but_not_a_later_one() -> None:
    old = Debt("d-1", reminded_at=paris(2026, 11, 3, 10, 0))
    restored = ManualDecision(False, paris(2026, 11, 20, 9, 0), "payment plan", "u-compta")
    now = paris(2026, 12, 20, 0, 0)
    assert not decide([old], restored, now).suspended
    later = Debt("d-2", reminded_at=paris(2026, 12, 1, 10, 0))
    assert decide([old, later], restored, now).suspended


def test_zero_grace_days_suspends_from_the_next_midnight() -> None:
    debt = Debt("d-1", reminded_at=paris(2026, 11, 3, 10, 0), grace_days=0)
    assert debt.suspend_at == paris(2026, 11, 4, 0, 0)
    assert decide([debt], None, paris(2026, 11, 4, 0, 0) + timedelta(seconds=1)).suspended
