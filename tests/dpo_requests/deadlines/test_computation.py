"""GDPR Art. 12(3) deadlines per Regulation 1182/71 Art. 3 (pure computation).

Every expected date states its weekday, and ``_assert_due`` checks that weekday against
``date.weekday()`` so that no expectation relies on a guessed calendar.
"""

import calendar
import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from dpo_requests.deadlines import (
    PARIS,
    ClockSuspension,
    Deadline,
    DeadlineError,
    DeadlineStatus,
    Extension,
    ExtensionAlreadyGrantedError,
    ExtensionTooLateError,
    InvalidExtensionError,
    InvalidSuspensionError,
    LegalBasis,
    NaiveDatetimeError,
    RuleKind,
    SuspensionAfterDueDateError,
    can_extend,
    compute_deadline,
    french_public_holidays,
    is_due_soon,
    is_overdue,
    is_working_day,
    next_working_day,
    paris_date,
    with_extension,
)


def _assert_due(deadline: Deadline, expected: date, weekday: int) -> None:
    assert expected.weekday() == weekday, calendar.day_name[expected.weekday()]
    assert deadline.due_on == expected
    assert deadline.running


def _kinds(deadline: Deadline) -> list[RuleKind]:
    return [step.kind for step in deadline.rule_steps]


# --------------------------------------------------------------- one month, Art. 3(2)(c)


def test_15_march_is_due_15_april_a_working_tuesday() -> None:
    deadline = compute_deadline(date(2025, 3, 15))

    _assert_due(deadline, date(2025, 4, 15), calendar.TUESDAY)
    assert _kinds(deadline) == [RuleKind.RECEIPT, RuleKind.SAME_DAY_NUMBER, RuleKind.WORKING_DAY]


def test_31_january_is_due_28_february_in_a_non_leap_year() -> None:
    deadline = compute_deadline(date(2025, 1, 31))

    _assert_due(deadline, date(2025, 2, 28), calendar.FRIDAY)
    assert deadline.rule_steps[1].kind is RuleKind.LAST_DAY_OF_MONTH


def test_31_january_is_due_29_february_in_leap_year_2028() -> None:
    deadline = compute_deadline(date(2028, 1, 31))

    _assert_due(deadline, date(2028, 2, 29), calendar.TUESDAY)
    assert deadline.rule_steps[1].kind is RuleKind.LAST_DAY_OF_MONTH


def test_31_march_is_due_30_april_the_last_day_of_april() -> None:
    deadline = compute_deadline(date(2025, 3, 31))

    _assert_due(deadline, date(2025, 4, 30), calendar.WEDNESDAY)
    assert deadline.rule_steps[1].kind is RuleKind.LAST_DAY_OF_MONTH


def test_28_february_is_due_28_march_not_the_end_of_march() -> None:
    deadline = compute_deadline(date(2025, 2, 28))

    _assert_due(deadline, date(2025, 3, 28), calendar.FRIDAY)
    assert deadline.rule_steps[1].kind is RuleKind.SAME_DAY_NUMBER


def test_period_crossing_the_year_end_lands_in_january() -> None:
    deadline = compute_deadline(date(2025, 12, 10))

    _assert_due(deadline, date(2026, 1, 12), calendar.MONDAY)
    assert deadline.rule_steps[1].on == date(2026, 1, 10)


# --------------------------------------------------------- next working day, Art. 3(4)


def test_due_date_on_a_saturday_moves_to_monday() -> None:
    deadline = compute_deadline(date(2025, 2, 15))

    assert date(2025, 3, 15).weekday() == calendar.SATURDAY
    _assert_due(deadline, date(2025, 3, 17), calendar.MONDAY)
    roll = deadline.rule_steps[-1]
    assert roll.kind is RuleKind.NEXT_WORKING_DAY
    assert [skipped.day for skipped in roll.skipped] == [date(2025, 3, 15), date(2025, 3, 16)]
    assert all(skipped.is_weekend and skipped.holiday is None for skipped in roll.skipped)


def test_due_date_on_easter_monday_2026_moves_to_tuesday() -> None:
    deadline = compute_deadline(date(2026, 3, 6))

    assert date(2026, 4, 6).weekday() == calendar.MONDAY
    _assert_due(deadline, date(2026, 4, 7), calendar.TUESDAY)
    (skipped,) = deadline.rule_steps[-1].skipped
    assert skipped.holiday is not None
    assert skipped.holiday.name_fr == "Lundi de Pâques"
    assert not skipped.is_weekend


def test_due_date_on_friday_1_may_2026_rolls_over_the_weekend_to_monday() -> None:
    deadline = compute_deadline(date(2026, 4, 1))

    assert date(2026, 5, 1).weekday() == calendar.FRIDAY
    _assert_due(deadline, date(2026, 5, 4), calendar.MONDAY)
    assert [s.day for s in deadline.rule_steps[-1].skipped] == [
        date(2026, 5, 1),
        date(2026, 5, 2),
        date(2026, 5, 3),
    ]


def test_due_date_on_friday_8_may_2026_rolls_over_the_weekend_to_monday() -> None:
    deadline = compute_deadline(date(2026, 4, 8))

    assert date(2026, 5, 8).weekday() == calendar.FRIDAY
    _assert_due(deadline, date(2026, 5, 11), calendar.MONDAY)


def test_due_date_on_ascension_thursday_2026_moves_to_friday() -> None:
    deadline = compute_deadline(date(2026, 4, 14))

    assert date(2026, 5, 14).weekday() == calendar.THURSDAY
    _assert_due(deadline, date(2026, 5, 15), calendar.FRIDAY)
    (skipped,) = deadline.rule_steps[-1].skipped
    assert skipped.holiday is not None
    assert skipped.holiday.name_fr == "Ascension"


def test_due_date_on_whit_monday_2026_moves_to_tuesday() -> None:
    deadline = compute_deadline(date(2026, 4, 25))

    assert date(2026, 5, 25).weekday() == calendar.MONDAY
    _assert_due(deadline, date(2026, 5, 26), calendar.TUESDAY)


def test_due_date_on_tuesday_14_july_2026_moves_to_wednesday() -> None:
    deadline = compute_deadline(date(2026, 6, 14))

    assert date(2026, 7, 14).weekday() == calendar.TUESDAY
    _assert_due(deadline, date(2026, 7, 15), calendar.WEDNESDAY)


def test_due_date_on_saturday_15_august_2026_moves_to_monday() -> None:
    deadline = compute_deadline(date(2026, 7, 15))

    assert date(2026, 8, 15).weekday() == calendar.SATURDAY
    _assert_due(deadline, date(2026, 8, 17), calendar.MONDAY)


def test_due_date_on_sunday_1_november_2026_moves_to_monday_2_november() -> None:
    deadline = compute_deadline(date(2026, 10, 1))

    assert date(2026, 11, 1).weekday() == calendar.SUNDAY
    _assert_due(deadline, date(2026, 11, 2), calendar.MONDAY)


def test_due_date_on_saturday_1_november_2025_moves_to_monday_3_november() -> None:
    deadline = compute_deadline(date(2025, 10, 1))

    assert date(2025, 11, 1).weekday() == calendar.SATURDAY
    _assert_due(deadline, date(2025, 11, 3), calendar.MONDAY)


def test_due_date_on_wednesday_11_november_2026_moves_to_thursday() -> None:
    deadline = compute_deadline(date(2026, 10, 11))

    assert date(2026, 11, 11).weekday() == calendar.WEDNESDAY
    _assert_due(deadline, date(2026, 11, 12), calendar.THURSDAY)


def test_due_date_on_friday_25_december_2026_rolls_over_the_weekend_to_monday() -> None:
    deadline = compute_deadline(date(2026, 11, 25))

    assert date(2026, 12, 25).weekday() == calendar.FRIDAY
    _assert_due(deadline, date(2026, 12, 28), calendar.MONDAY)


def test_due_date_on_thursday_25_december_2025_moves_to_friday_26_not_an_alsace_holiday() -> None:
    deadline = compute_deadline(date(2025, 11, 25))

    assert date(2025, 12, 25).weekday() == calendar.THURSDAY
    _assert_due(deadline, date(2025, 12, 26), calendar.FRIDAY)


def test_due_date_on_new_year_saturday_2028_rolls_into_the_next_year_calendar() -> None:
    deadline = compute_deadline(date(2027, 12, 1))

    assert date(2028, 1, 1).weekday() == calendar.SATURDAY
    _assert_due(deadline, date(2028, 1, 3), calendar.MONDAY)
    first = deadline.rule_steps[-1].skipped[0]
    assert first.is_weekend
    assert first.holiday is not None
    assert first.holiday.name_fr == "Jour de l'an"


# ------------------------------------------------------------ Europe/Paris receipt date


def test_utc_timestamp_late_on_31_december_counts_from_1_january_in_paris() -> None:
    received_at = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)

    deadline = compute_deadline(received_at)

    assert deadline.received_on == date(2026, 1, 1)
    assert date(2026, 2, 1).weekday() == calendar.SUNDAY
    _assert_due(deadline, date(2026, 2, 2), calendar.MONDAY)
    assert deadline.rule_steps[0].text_fr == (
        "Réception le 31/12/2025 à 23:30 UTC, soit le 01/01/2026 à Paris"
    )


def test_utc_timestamp_late_on_31_january_is_1_february_in_paris() -> None:
    deadline = compute_deadline(datetime(2025, 1, 31, 23, 30, tzinfo=UTC))

    assert deadline.received_on == date(2025, 2, 1)
    _assert_due(deadline, date(2025, 3, 3), calendar.MONDAY)


def test_utc_timestamp_before_midnight_in_summer_time_stays_on_the_same_paris_day() -> None:
    deadline = compute_deadline(datetime(2025, 6, 30, 21, 30, tzinfo=UTC))

    assert deadline.received_on == date(2025, 6, 30)
    _assert_due(deadline, date(2025, 7, 30), calendar.WEDNESDAY)


def test_utc_timestamp_after_paris_midnight_in_summer_time_is_the_next_day() -> None:
    deadline = compute_deadline(datetime(2025, 6, 30, 22, 30, tzinfo=UTC))

    assert deadline.received_on == date(2025, 7, 1)
    _assert_due(deadline, date(2025, 8, 1), calendar.FRIDAY)


def test_paris_timestamp_and_paris_date_give_the_same_deadline() -> None:
    at_paris = compute_deadline(datetime(2025, 3, 15, 9, 0, tzinfo=PARIS))

    assert at_paris.due_on == compute_deadline(date(2025, 3, 15)).due_on
    assert at_paris.explanation_fr.startswith("Réception le 15/03/2025 ;")


def test_naive_receipt_timestamp_is_rejected() -> None:
    with pytest.raises(NaiveDatetimeError):
        compute_deadline(datetime(2025, 3, 15, 9, 0))


def test_paris_date_converts_a_fixed_offset_timestamp() -> None:
    minus_five = timezone(timedelta(hours=-5))

    assert paris_date(datetime(2025, 1, 31, 19, 0, tzinfo=minus_five)) == date(2025, 2, 1)


# ------------------------------------------------------------ extension, GDPR Art. 12(3)


def test_extension_runs_three_months_from_receipt_with_month_end_and_weekend_rules() -> None:
    deadline = compute_deadline(
        date(2025, 11, 30), extended=Extension(date(2025, 12, 10), reason="volume")
    )

    assert date(2026, 2, 28).weekday() == calendar.SATURDAY
    _assert_due(deadline, date(2026, 3, 2), calendar.MONDAY)
    assert _kinds(deadline) == [
        RuleKind.RECEIPT,
        RuleKind.EXTENSION,
        RuleKind.LAST_DAY_OF_MONTH,
        RuleKind.NEXT_WORKING_DAY,
    ]
    assert deadline.rule_steps[2].months == 3
    assert deadline.extended


def test_extension_from_30_november_2027_ends_29_february_2028() -> None:
    deadline = compute_deadline(
        date(2027, 11, 30), extended=Extension(date(2027, 12, 20), reason="complexity")
    )

    _assert_due(deadline, date(2028, 2, 29), calendar.TUESDAY)


def test_extension_counts_from_receipt_not_from_the_rolled_first_due_date() -> None:
    first = compute_deadline(date(2025, 2, 15))
    extended = with_extension(first, Extension(date(2025, 3, 1), reason="volume"))

    _assert_due(first, date(2025, 3, 17), calendar.MONDAY)
    _assert_due(extended, date(2025, 5, 15), calendar.THURSDAY)


def test_extension_decided_on_the_first_due_date_is_allowed() -> None:
    deadline = compute_deadline(date(2025, 2, 15))

    extended = with_extension(deadline, Extension(date(2025, 3, 17), reason="volume"))

    assert extended.due_on == date(2025, 5, 15)


def test_extension_decided_after_the_first_due_date_is_refused() -> None:
    with pytest.raises(ExtensionTooLateError, match="2025-03-17"):
        compute_deadline(date(2025, 2, 15), extended=Extension(date(2025, 3, 18), reason="volume"))


def test_second_extension_is_refused() -> None:
    once = with_extension(
        compute_deadline(date(2025, 2, 15)), Extension(date(2025, 3, 1), reason="volume")
    )

    with pytest.raises(ExtensionAlreadyGrantedError):
        with_extension(once, Extension(date(2025, 3, 2), reason="still more volume"))


def test_extension_errors_are_deadline_errors_and_value_errors() -> None:
    assert issubclass(ExtensionTooLateError, DeadlineError)
    assert issubclass(ExtensionAlreadyGrantedError, DeadlineError)
    assert issubclass(DeadlineError, ValueError)


def test_extension_without_reasons_is_refused() -> None:
    with pytest.raises(InvalidExtensionError, match=r"12\(3\)"):
        Extension(date(2025, 3, 1), reason="  ")


def test_extension_decided_before_receipt_is_refused() -> None:
    with pytest.raises(InvalidExtensionError):
        compute_deadline(date(2025, 2, 15), extended=Extension(date(2025, 2, 14), reason="x"))


def test_can_extend_until_the_first_due_date_only() -> None:
    deadline = compute_deadline(date(2025, 2, 15))

    assert can_extend(deadline, date(2025, 3, 17))
    assert not can_extend(deadline, date(2025, 3, 18))


def test_extended_deadline_cannot_be_extended_again() -> None:
    deadline = compute_deadline(
        date(2025, 2, 15), extended=Extension(date(2025, 3, 1), reason="volume")
    )

    assert not can_extend(deadline, date(2025, 3, 2))


# ---------------------------------------------------------------- clock suspension


def test_ten_day_suspension_pushes_the_deadline_by_ten_days() -> None:
    deadline = compute_deadline(
        date(2025, 3, 15), suspensions=[ClockSuspension(date(2025, 4, 1), date(2025, 4, 11))]
    )

    _assert_due(deadline, date(2025, 4, 25), calendar.FRIDAY)
    suspension_step = next(s for s in deadline.rule_steps if s.kind is RuleKind.SUSPENSION)
    assert suspension_step.days == 10
    assert suspension_step.legal_basis is LegalBasis.IDENTITY_CHECK


def test_suspension_landing_on_easter_weekend_rolls_to_the_next_working_day() -> None:
    deadline = compute_deadline(
        date(2025, 3, 15), suspensions=[ClockSuspension(date(2025, 4, 1), date(2025, 4, 5))]
    )

    assert date(2025, 4, 19).weekday() == calendar.SATURDAY
    assert date(2025, 4, 21).weekday() == calendar.MONDAY
    _assert_due(deadline, date(2025, 4, 22), calendar.TUESDAY)


def test_several_suspensions_add_up() -> None:
    deadline = compute_deadline(
        date(2025, 3, 15),
        suspensions=[
            ClockSuspension(date(2025, 4, 7), date(2025, 4, 11)),
            ClockSuspension(date(2025, 4, 1), date(2025, 4, 4)),
        ],
    )

    # 15/04 + 3 days = Friday 18/04 (Good Friday is a working day outside Alsace-Moselle),
    # then + 4 days = Tuesday 22/04.
    _assert_due(deadline, date(2025, 4, 22), calendar.TUESDAY)
    assert [s.days for s in deadline.rule_steps if s.kind is RuleKind.SUSPENSION] == [3, 4]


def test_overlapping_suspensions_stop_the_clock_once() -> None:
    deadline = compute_deadline(
        date(2025, 3, 15),
        suspensions=[
            ClockSuspension(date(2025, 4, 1), date(2025, 4, 11)),
            ClockSuspension(date(2025, 4, 5), date(2025, 4, 8)),
        ],
    )

    _assert_due(deadline, date(2025, 4, 25), calendar.FRIDAY)


def test_same_day_answer_stops_the_clock_for_zero_days() -> None:
    deadline = compute_deadline(
        date(2025, 3, 15), suspensions=[ClockSuspension(date(2025, 4, 1), date(2025, 4, 1))]
    )

    _assert_due(deadline, date(2025, 4, 15), calendar.TUESDAY)


def test_open_suspension_freezes_the_clock() -> None:
    deadline = compute_deadline(date(2025, 3, 15), suspensions=[ClockSuspension(date(2025, 4, 5))])

    assert deadline.due_on is None
    assert not deadline.running
    assert deadline.status is DeadlineStatus.SUSPENDED
    assert deadline.frozen_days_left == 10
    assert deadline.days_left(date(2025, 4, 30)) == 10
    assert deadline.rule_steps[-1].kind is RuleKind.CLOCK_STOPPED
    assert "10 jours restants" in deadline.explanation_fr


def test_suspended_deadline_is_neither_overdue_nor_due_soon() -> None:
    deadline = compute_deadline(date(2025, 3, 15), suspensions=[ClockSuspension(date(2025, 4, 14))])

    assert not is_overdue(deadline, date(2025, 6, 1))
    assert not is_due_soon(deadline, date(2025, 4, 14))


def test_answered_suspension_resumes_with_the_days_left_when_it_stopped() -> None:
    stopped = compute_deadline(date(2025, 3, 15), suspensions=[ClockSuspension(date(2025, 4, 5))])
    resumed = compute_deadline(
        date(2025, 3, 15), suspensions=[ClockSuspension(date(2025, 4, 5), date(2025, 4, 20))]
    )

    _assert_due(resumed, date(2025, 4, 30), calendar.WEDNESDAY)
    assert resumed.days_left(date(2025, 4, 20)) == stopped.days_left(date(2025, 4, 20)) == 10


def test_suspension_started_on_the_due_date_is_accepted() -> None:
    deadline = compute_deadline(
        date(2025, 3, 15), suspensions=[ClockSuspension(date(2025, 4, 15), date(2025, 4, 17))]
    )

    _assert_due(deadline, date(2025, 4, 17), calendar.THURSDAY)


def test_suspension_started_after_the_due_date_is_refused() -> None:
    with pytest.raises(SuspensionAfterDueDateError, match="2025-04-15"):
        compute_deadline(
            date(2025, 3, 15), suspensions=[ClockSuspension(date(2025, 4, 16), date(2025, 4, 20))]
        )


def test_suspension_dates_given_as_timestamps_are_taken_in_paris() -> None:
    suspension = ClockSuspension(
        datetime(2025, 3, 31, 22, 30, tzinfo=UTC), datetime(2025, 4, 10, 8, 0, tzinfo=UTC)
    )

    assert suspension.asked_on == date(2025, 4, 1)
    assert suspension.answered_on == date(2025, 4, 10)
    assert suspension.days == 9


def test_suspension_answered_before_it_was_asked_is_refused() -> None:
    with pytest.raises(InvalidSuspensionError):
        ClockSuspension(date(2025, 4, 10), date(2025, 4, 9))


def test_suspension_before_receipt_is_refused() -> None:
    with pytest.raises(InvalidSuspensionError):
        compute_deadline(
            date(2025, 3, 15), suspensions=[ClockSuspension(date(2025, 3, 14), date(2025, 3, 20))]
        )


def test_extension_decided_while_the_clock_is_stopped_is_allowed() -> None:
    deadline = compute_deadline(
        date(2025, 3, 15),
        extended=Extension(date(2025, 4, 30), reason="volume"),
        suspensions=[ClockSuspension(date(2025, 4, 10))],
    )

    # Three months: Sunday 15/06/2025 -> Monday 16/06/2025, frozen from 10/04/2025.
    assert date(2025, 6, 16).weekday() == calendar.MONDAY
    assert deadline.frozen_days_left == (date(2025, 6, 16) - date(2025, 4, 10)).days


def test_suspension_pushes_the_first_due_date_for_the_extension_decision() -> None:
    deadline = compute_deadline(
        date(2025, 3, 15),
        extended=Extension(date(2025, 4, 24), reason="volume"),
        suspensions=[ClockSuspension(date(2025, 4, 1), date(2025, 4, 11))],
    )

    # 15/06/2025 is a Sunday -> Monday 16/06, + 10 stopped days -> Thursday 26/06.
    _assert_due(deadline, date(2025, 6, 26), calendar.THURSDAY)


def test_suspension_started_after_a_late_extension_does_not_cure_it() -> None:
    with pytest.raises(ExtensionTooLateError):
        compute_deadline(
            date(2025, 3, 15),
            extended=Extension(date(2025, 4, 20), reason="volume"),
            suspensions=[ClockSuspension(date(2025, 4, 25), date(2025, 5, 5))],
        )


# ---------------------------------------------------------------- explanations


def test_explanation_in_french_names_the_month_end_rule() -> None:
    deadline = compute_deadline(date(2025, 1, 31))

    assert deadline.explanation_fr == (
        "Réception le 31/01/2025 ; un mois → 28/02/2025 "
        "(dernier jour du mois, art. 3(2)(c) du règlement 1182/71) ; vendredi ouvré."
    )


def test_explanation_in_english_names_the_month_end_rule() -> None:
    deadline = compute_deadline(date(2025, 1, 31))

    assert deadline.explanation_en == (
        "Received on 31/01/2025; one month → 28/02/2025 "
        "(last day of the month, Art. 3(2)(c) of Regulation 1182/71); Friday, a working day."
    )


def test_explanation_names_the_holiday_and_the_working_day_rule() -> None:
    deadline = compute_deadline(date(2026, 3, 6))

    assert deadline.explanation_fr.endswith(
        "lundi 06/04/2026 (Lundi de Pâques) non ouvré → mardi 07/04/2026 "
        "(jour ouvré suivant, art. 3(4) du règlement 1182/71)."
    )
    assert "Art. 3(4) of Regulation 1182/71" in deadline.explanation_en
    assert deadline.rule_steps[-1].legal_basis is LegalBasis.WORKING_DAY


def test_explanation_mentions_the_extension_article() -> None:
    deadline = compute_deadline(
        date(2025, 11, 30), extended=Extension(date(2025, 12, 10), reason="volume")
    )

    assert "prolongation de deux mois décidée le 10/12/2025 (art. 12(3) RGPD)" in (
        deadline.explanation_fr
    )
    assert "trois mois → 28/02/2026" in deadline.explanation_fr


def test_deadline_is_immutable() -> None:
    deadline = compute_deadline(date(2025, 3, 15))

    with pytest.raises(dataclasses.FrozenInstanceError):
        deadline.due_on = date(2025, 5, 1)  # type: ignore[misc]


# ---------------------------------------------------------------- dashboard helpers


def test_not_overdue_on_the_due_date_itself() -> None:
    deadline = compute_deadline(date(2025, 3, 15))

    assert not is_overdue(deadline, date(2025, 4, 15))
    assert deadline.days_left(date(2025, 4, 15)) == 0


def test_overdue_the_day_after_the_due_date() -> None:
    deadline = compute_deadline(date(2025, 3, 15))

    assert is_overdue(deadline, date(2025, 4, 16))
    assert deadline.days_left(date(2025, 4, 16)) == -1
    assert not is_due_soon(deadline, date(2025, 4, 16))


def test_due_soon_within_seven_days_by_default() -> None:
    deadline = compute_deadline(date(2025, 3, 15))

    assert is_due_soon(deadline, date(2025, 4, 8))
    assert not is_due_soon(deadline, date(2025, 4, 7))


def test_due_soon_with_a_custom_horizon() -> None:
    deadline = compute_deadline(date(2025, 3, 15))

    assert is_due_soon(deadline, date(2025, 4, 1), within_days=14)
    assert not is_due_soon(deadline, date(2025, 4, 14), within_days=0)
    assert is_due_soon(deadline, date(2025, 4, 15), within_days=0)


def test_due_soon_refuses_a_negative_horizon() -> None:
    with pytest.raises(ValueError, match="within_days"):
        is_due_soon(compute_deadline(date(2025, 3, 15)), date(2025, 4, 1), within_days=-1)


def test_overdue_check_uses_the_paris_date_of_a_timestamp() -> None:
    deadline = compute_deadline(date(2025, 3, 15))

    assert not is_overdue(deadline, datetime(2025, 4, 15, 21, 59, tzinfo=UTC))
    assert is_overdue(deadline, datetime(2025, 4, 15, 22, 0, tzinfo=UTC))


# ---------------------------------------------------------------- working days


def test_whit_monday_is_a_public_holiday() -> None:
    assert not is_working_day(date(2026, 5, 25))
    assert french_public_holidays(2026)[date(2026, 5, 25)].name_fr == "Lundi de Pentecôte"


def test_good_friday_is_a_working_day_outside_alsace_moselle() -> None:
    assert date(2026, 4, 3).weekday() == calendar.FRIDAY
    assert is_working_day(date(2026, 4, 3))


def test_weekends_are_not_working_days() -> None:
    assert not is_working_day(date(2026, 5, 2))
    assert not is_working_day(date(2026, 5, 3))


def test_next_working_day_of_a_working_day_is_itself() -> None:
    assert next_working_day(date(2026, 5, 5)) == date(2026, 5, 5)


def test_next_working_day_skips_holiday_and_weekend() -> None:
    assert next_working_day(date(2026, 5, 1)) == date(2026, 5, 4)


def test_metropolitan_calendar_has_eleven_public_holidays() -> None:
    assert len(french_public_holidays(2026)) == 11


def test_public_holiday_calendar_is_cached_per_year() -> None:
    assert french_public_holidays(2026) is french_public_holidays(2026)
    assert french_public_holidays(2026) is not french_public_holidays(2027)
