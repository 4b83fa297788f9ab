"""How a response deadline is derived from the receipt, the extension and the suspensions.

* GDPR Art. 12(3): the controller answers "without undue delay and in any event within
  one month of receipt"; the period "may be extended by two further months where
  necessary", the data subject being informed of the extension, with reasons, within the
  first month.
* Periods are computed under Regulation (EEC, Euratom) No 1182/71, the general rules for
  periods, dates and time limits in Union acts (Art. 1), used for GDPR periods:

  - Art. 3(1), second subparagraph: the day of the event (receipt) is not counted;
  - Art. 3(2)(c): a period expressed in months ends at the end of the day, in the last
    month, that has the same number as the day of receipt; if that day does not exist in
    the last month, the period ends at the end of that month's last day;
  - Art. 3(3): Saturdays, Sundays and public holidays inside the period are counted;
  - Art. 3(4): if the last day is a public holiday, Saturday or Sunday, the period ends at
    the end of the following working day.

* Clock suspension while waiting for information the DPO asked for to confirm the
  requester's identity (GDPR Art. 12(6)), see :class:`ClockSuspension`.

Pure, no I/O.
"""

import calendar
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Final

from dpo_requests.deadlines import texts
from dpo_requests.deadlines.civil_calendar import (
    SATURDAY,
    is_working_day,
    paris_date,
    public_holiday,
)
from dpo_requests.deadlines.errors import (
    DeadlineError,
    ExtensionAlreadyGrantedError,
    ExtensionTooLateError,
    InvalidExtensionError,
    InvalidSuspensionError,
    SuspensionAfterDueDateError,
)
from dpo_requests.deadlines.values import (
    ClockSuspension,
    Deadline,
    Extension,
    LegalBasis,
    NonWorkingDay,
    RuleKind,
    RuleStep,
)

#: GDPR Art. 12(3): "within one month of receipt".
INITIAL_PERIOD_MONTHS: Final = 1
#: GDPR Art. 12(3): one month "extended by two further months", counted from receipt.
EXTENDED_PERIOD_MONTHS: Final = 3
#: Default horizon of the dashboard's "due soon" flag.
DUE_SOON_DAYS: Final = 7


def _step(
    kind: RuleKind,
    on: date,
    legal_basis: LegalBasis,
    text: texts.Texts,
    *,
    months: int | None = None,
    days: int | None = None,
    skipped: tuple[NonWorkingDay, ...] = (),
) -> RuleStep:
    text_fr, text_en = text
    return RuleStep(
        kind=kind,
        on=on,
        legal_basis=legal_basis,
        text_fr=text_fr,
        text_en=text_en,
        months=months,
        days=days,
        skipped=skipped,
    )


def _receipt_step(received_at: datetime | date, received_on: date) -> RuleStep:
    return _step(
        RuleKind.RECEIPT,
        received_on,
        LegalBasis.RECEIPT_DAY_NOT_COUNTED,
        texts.receipt(received_at, received_on),
    )


def _extension_step(extension: Extension) -> RuleStep:
    on = extension.requested_on
    return _step(RuleKind.EXTENSION, on, LegalBasis.GDPR_PERIOD, texts.extension(on))


def _period_step(received_on: date, months: int) -> RuleStep:
    """Regulation 1182/71 Art. 3(2)(c): end of a period expressed in months."""
    index = received_on.month - 1 + months
    year, month = received_on.year + index // 12, index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    if received_on.day > last_day:
        # Art. 3(2)(c), second sentence: the same-numbered day does not exist.
        end = date(year, month, last_day)
        text = texts.last_day_of_month(months, end)
        kind = RuleKind.LAST_DAY_OF_MONTH
    else:
        end = date(year, month, received_on.day)
        text = texts.same_day_number(months, end)
        kind = RuleKind.SAME_DAY_NUMBER
    return _step(kind, end, LegalBasis.MONTH_PERIOD, text, months=months)


def _working_day_step(last_day: date) -> RuleStep:
    """Regulation 1182/71 Art. 3(4): a period cannot end on a non-working day."""
    if is_working_day(last_day):
        return _step(
            RuleKind.WORKING_DAY, last_day, LegalBasis.WORKING_DAY, texts.working_day(last_day)
        )
    skipped: list[NonWorkingDay] = []
    day = last_day
    while not is_working_day(day):
        skipped.append(
            NonWorkingDay(
                day=day, is_weekend=day.weekday() >= SATURDAY, holiday=public_holiday(day)
            )
        )
        day += timedelta(days=1)
    text = texts.next_working_day([(s.text_fr, s.text_en) for s in skipped], day)
    return _step(
        RuleKind.NEXT_WORKING_DAY, day, LegalBasis.WORKING_DAY, text, skipped=tuple(skipped)
    )


def _suspension_step(suspension: ClockSuspension, due_on: date) -> RuleStep:
    assert suspension.answered_on is not None
    days = (suspension.answered_on - suspension.asked_on).days
    pushed = due_on + timedelta(days=days)
    text = texts.suspension(suspension.asked_on, suspension.answered_on, days, pushed)
    return _step(RuleKind.SUSPENSION, pushed, LegalBasis.IDENTITY_CHECK, text, days=days)


def _clock_stopped_step(asked_on: date, frozen: int) -> RuleStep:
    text = texts.clock_stopped(asked_on, frozen)
    return _step(RuleKind.CLOCK_STOPPED, asked_on, LegalBasis.IDENTITY_CHECK, text, days=frozen)


def _derive(
    received_on: date, months: int, closed: Sequence[ClockSuspension]
) -> tuple[date, list[RuleStep]]:
    """Due date for a ``months`` period pushed by the ``closed`` suspensions, with steps.

    Each suspension pushes the due date *in force* (already rolled to a working day) by
    its stopped days, then Art. 3(4) is applied again. Pushing the rolled date rather than
    the bare period end keeps the days left when the clock stopped intact when it
    restarts (a period ending on a Saturday rolled to Monday would otherwise silently lose
    the weekend to the suspension).
    """
    steps = [_period_step(received_on, months)]
    steps.append(_working_day_step(steps[-1].on))
    due_on = steps[-1].on
    for suspension in closed:
        steps.append(_suspension_step(suspension, due_on))
        steps.append(_working_day_step(steps[-1].on))
        due_on = steps[-1].on
    return due_on, steps


def _merge_suspensions(
    received_on: date, suspensions: Sequence[ClockSuspension]
) -> tuple[ClockSuspension, ...]:
    """Union of the suspension intervals, in date order.

    Overlapping waits (two pieces of information asked for at once) stop the clock once,
    not twice. An open suspension absorbs every later one, so it is always last.
    """
    for suspension in suspensions:
        if suspension.asked_on < received_on:
            raise InvalidSuspensionError(
                f"clock stopped on {suspension.asked_on.isoformat()}, before the request "
                f"was received on {received_on.isoformat()}"
            )
    merged: list[ClockSuspension] = []
    for suspension in sorted(suspensions, key=lambda s: s.asked_on):
        previous = merged[-1] if merged else None
        if previous is None or (
            previous.answered_on is not None and suspension.asked_on > previous.answered_on
        ):
            merged.append(suspension)
        elif previous.answered_on is not None:
            answered_on = (
                None
                if suspension.answered_on is None
                else max(previous.answered_on, suspension.answered_on)
            )
            merged[-1] = ClockSuspension(asked_on=previous.asked_on, answered_on=answered_on)
    return tuple(merged)


def _check_suspensions(
    received_on: date, extension: Extension | None, merged: Sequence[ClockSuspension]
) -> None:
    """Refuse a suspension started after the deadline in force had already expired.

    Otherwise asking for identity papers late would retroactively cure an overdue
    request. The deadline in force is the one known on ``asked_on``: three months only if
    the extension had been decided by then.
    """
    for index, suspension in enumerate(merged):
        extended = extension is not None and extension.requested_on <= suspension.asked_on
        months = EXTENDED_PERIOD_MONTHS if extended else INITIAL_PERIOD_MONTHS
        due_on, _ = _derive(received_on, months, merged[:index])
        if suspension.asked_on > due_on:
            raise SuspensionAfterDueDateError(
                f"clock stopped on {suspension.asked_on.isoformat()}, after the deadline "
                f"in force ({due_on.isoformat()}) had expired"
            )


def _check_extension(
    received_on: date, requested_on: date, suspensions: Sequence[ClockSuspension]
) -> None:
    """GDPR Art. 12(3): the extension is decided within the first period.

    The first period is the one-month deadline as it stood on ``requested_on``: pushed by
    the suspensions already over by then; while a suspension is running on that day the
    first period has not expired.
    """
    if requested_on < received_on:
        raise InvalidExtensionError(
            f"extension decided on {requested_on.isoformat()}, before the request was "
            f"received on {received_on.isoformat()}"
        )
    merged = _merge_suspensions(received_on, suspensions)
    if any(
        s.asked_on <= requested_on and (s.answered_on is None or requested_on < s.answered_on)
        for s in merged
    ):
        return
    over = [s for s in merged if s.answered_on is not None and s.answered_on <= requested_on]
    first_due_on, _ = _derive(received_on, INITIAL_PERIOD_MONTHS, over)
    if requested_on > first_due_on:
        raise ExtensionTooLateError(
            f"GDPR Art. 12(3): the extension must be decided within the first month, which "
            f"ended on {first_due_on.isoformat()}; it was decided on {requested_on.isoformat()}"
        )


def compute_deadline(
    received_at: datetime | date,
    *,
    extended: Extension | None = None,
    suspensions: Sequence[ClockSuspension] = (),
) -> Deadline:
    """Compute the GDPR Art. 12(3) response deadline of a request.

    1. ``received_at`` is reduced to its Europe/Paris date; that day is not counted
       (Regulation 1182/71 Art. 3(1)).
    2. One month, or three months from receipt when ``extended`` (one month plus "two
       further months", Art. 12(3) GDPR), ending on the same-numbered day or on the last
       day of a shorter month (Regulation 1182/71 Art. 3(2)(c)).
    3. A last day falling on a Saturday, Sunday or public holiday moves to the next
       working day (Regulation 1182/71 Art. 3(4)).
    4. Each closed suspension pushes that due date by its stopped calendar days (see
       :class:`ClockSuspension`), then step 3 applies again. An open suspension stops the
       clock: the result has ``due_on=None`` and frozen days left.

    Raises :class:`ExtensionTooLateError` when the extension was decided after the
    first period, :class:`SuspensionAfterDueDateError` when the clock was stopped after
    the deadline in force, and other :class:`DeadlineError` subclasses for inconsistent
    dates. Use :func:`with_extension` to add the extension to an existing deadline (it
    refuses a second one).
    """
    received_on = paris_date(received_at)
    merged = _merge_suspensions(received_on, suspensions)
    if extended is not None:
        _check_extension(received_on, extended.requested_on, merged)
    _check_suspensions(received_on, extended, merged)

    steps = [_receipt_step(received_at, received_on)]
    months = INITIAL_PERIOD_MONTHS
    if extended is not None:
        months = EXTENDED_PERIOD_MONTHS
        steps.append(_extension_step(extended))
    closed = [s for s in merged if s.answered_on is not None]
    due_on, derived = _derive(received_on, months, closed)
    steps.extend(derived)
    open_suspension = merged[-1] if merged and merged[-1].answered_on is None else None
    if open_suspension is None:
        return Deadline(
            received_at=received_at,
            received_on=received_on,
            due_on=due_on,
            rule_steps=tuple(steps),
            extension=extended,
            suspensions=tuple(suspensions),
        )
    frozen = (due_on - open_suspension.asked_on).days
    steps.append(_clock_stopped_step(open_suspension.asked_on, frozen))
    return Deadline(
        received_at=received_at,
        received_on=received_on,
        due_on=None,
        rule_steps=tuple(steps),
        extension=extended,
        suspensions=tuple(suspensions),
        frozen_days_left=frozen,
    )


def can_extend(deadline: Deadline, on: date) -> bool:
    """Whether the Art. 12(3) extension may still be decided on ``on``."""
    if deadline.extension is not None:
        return False
    try:
        _check_extension(deadline.received_on, paris_date(on), deadline.suspensions)
    except DeadlineError:
        return False
    return True


def with_extension(deadline: Deadline, extension: Extension) -> Deadline:
    """Recompute ``deadline`` with the Art. 12(3) extension; refuses a second one."""
    if deadline.extension is not None:
        raise ExtensionAlreadyGrantedError(
            "GDPR Art. 12(3) allows a single extension; one was already decided on "
            f"{texts.fmt(deadline.extension.requested_on)}"
        )
    return compute_deadline(
        deadline.received_at, extended=extension, suspensions=deadline.suspensions
    )


def is_overdue(deadline: Deadline, today: date) -> bool:
    """The period ended before ``today`` (a stopped clock is never overdue)."""
    return deadline.due_on is not None and paris_date(today) > deadline.due_on


def is_due_soon(deadline: Deadline, today: date, within_days: int = DUE_SOON_DAYS) -> bool:
    """The deadline runs and falls within ``within_days`` calendar days, due day included.

    Overdue and suspended deadlines are not "due soon": they have their own flags.
    """
    if within_days < 0:
        raise ValueError("within_days must be >= 0")
    if deadline.due_on is None:
        return False
    return 0 <= deadline.days_left(today) <= within_days
