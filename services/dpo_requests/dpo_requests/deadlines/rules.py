"""Statutory response deadlines for GDPR data-subject requests (pure, no I/O).

Legal model
-----------
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
  requester's identity (GDPR Art. 12(6)); stopping the clock meanwhile is CNIL practice,
  not a rule of Regulation 1182/71, so its convention is defined here (see
  :class:`ClockSuspension`).

All dates are Europe/Paris calendar dates: timestamps are converted to their Paris date
before any arithmetic, because the institution (and the data subject's period) lives on
French civil days, not UTC days.

Public holidays are those of metropolitan France as returned by ``holidays.France``
without subdivision: New Year's Day, Easter Monday, 1 May, 8 May, Ascension, Whit
Monday, 14 July, 15 August, 1 November, 11 November and 25 December. Whit Monday is kept
as a public holiday: since Loi n° 2008-351 the "journée de solidarité" is no longer tied
to it, and it remains a *jour férié* of Code du travail art. L3133-1 (the library only
drops it for 2005-2007, when the law made it a working day). Good Friday and 26 December
(Alsace-Moselle only) are working days here, the institution not being established there.
"""

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

import holidays

PARIS: Final = ZoneInfo("Europe/Paris")

#: GDPR Art. 12(3): "within one month of receipt".
INITIAL_PERIOD_MONTHS: Final = 1
#: GDPR Art. 12(3): one month "extended by two further months", counted from receipt.
EXTENDED_PERIOD_MONTHS: Final = 3
#: Default horizon of the dashboard's "due soon" flag.
DUE_SOON_DAYS: Final = 7

_WEEKDAYS_FR: Final = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_WEEKDAYS_EN: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS_FR: Final = {1: "un mois", 3: "trois mois"}
_MONTHS_EN: Final = {1: "one month", 3: "three months"}
_SATURDAY: Final = 5


# --------------------------------------------------------------------------- errors


class DeadlineError(ValueError):
    """Inputs that cannot produce a lawful deadline."""


class NaiveDatetimeError(DeadlineError):
    """A timestamp without time zone: its Paris calendar date would be a guess."""


class InvalidSuspensionError(DeadlineError):
    """A clock suspension that is inconsistent with the request's dates."""


class SuspensionAfterDueDateError(InvalidSuspensionError):
    """The clock cannot be stopped once the deadline in force has already expired."""


class InvalidExtensionError(DeadlineError):
    """An Art. 12(3) extension that is malformed or not allowed."""


class ExtensionTooLateError(InvalidExtensionError):
    """Art. 12(3): the extension must be decided within the first (one-month) period."""


class ExtensionAlreadyGrantedError(InvalidExtensionError):
    """Art. 12(3) allows a single extension of two further months."""


# --------------------------------------------------------------------------- dates


def paris_date(value: datetime | date) -> date:
    """Return the Europe/Paris calendar date of ``value``.

    A ``date`` is taken to already be a Paris date. An aware ``datetime`` is converted
    (23:30 UTC on 31 January is 00:30 on 1 February in Paris). A naive ``datetime`` is
    rejected rather than assumed to be UTC or local time.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(
                f"{value.isoformat()} has no time zone; pass an aware datetime or a Paris date"
            )
        return value.astimezone(PARIS).date()
    return value


def _fmt(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _day_fr(day: date) -> str:
    return f"{_WEEKDAYS_FR[day.weekday()]} {_fmt(day)}"


def _day_en(day: date) -> str:
    return f"{_WEEKDAYS_EN[day.weekday()]} {_fmt(day)}"


def _count_fr(days: int) -> str:
    return f"{days} jour" if abs(days) <= 1 else f"{days} jours"


def _count_en(days: int) -> str:
    return f"{days} day" if abs(days) == 1 else f"{days} days"


# --------------------------------------------------------------------------- calendar


@dataclass(frozen=True, slots=True)
class PublicHoliday:
    """A French public holiday, named in French and English."""

    day: date
    name_fr: str
    name_en: str


@lru_cache(maxsize=128)
def french_public_holidays(year: int) -> Mapping[date, PublicHoliday]:
    """Public holidays of metropolitan France for ``year`` (cached per year).

    Regulation 1182/71 Art. 2(1) takes the public holidays "designated as such in the
    Member State"; the calendar is ``holidays.France`` (via ``country_holidays("FR")``,
    which is typed), see the module docstring for why Whit Monday is included and the
    Alsace-Moselle days are not.
    """
    names_fr = holidays.country_holidays("FR", years=year, language="fr")
    names_en = holidays.country_holidays("FR", years=year, language="en_US")
    return MappingProxyType(
        {
            day: PublicHoliday(day=day, name_fr=name, name_en=names_en.get(day, name))
            for day, name in sorted(names_fr.items())
        }
    )


def public_holiday(day: date) -> PublicHoliday | None:
    """The French public holiday falling on ``day``, if any."""
    return french_public_holidays(day.year).get(day)


def is_working_day(day: date) -> bool:
    """Regulation 1182/71 Art. 2(2): every day other than public holidays, Saturdays, Sundays."""
    return day.weekday() < _SATURDAY and public_holiday(day) is None


def next_working_day(day: date) -> date:
    """The first working day on or after ``day`` (``day`` itself when it is working)."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


@dataclass(frozen=True, slots=True)
class NonWorkingDay:
    """A day skipped by the Art. 3(4) roll-over, and why it is not a working day."""

    day: date
    is_weekend: bool
    holiday: PublicHoliday | None

    @property
    def text_fr(self) -> str:
        label = _day_fr(self.day)
        return f"{label} ({self.holiday.name_fr})" if self.holiday else label

    @property
    def text_en(self) -> str:
        label = _day_en(self.day)
        return f"{label} ({self.holiday.name_en})" if self.holiday else label


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class ClockSuspension:
    """Clock stopped while waiting for identity information (GDPR Art. 12(6), CNIL practice).

    The suspension covers the half-open interval ``[asked_on, answered_on)`` of Paris
    dates: the clock stops at the start of the day the DPO asked for the information and
    restarts at the start of the day it was received. It therefore stops the clock for
    ``answered_on - asked_on`` calendar days (asked on the 1st, answered on the 11th:
    10 days; asked and answered the same day: 0 days). Calendar days, not working days,
    because Regulation 1182/71 Art. 3(3) counts weekends and holidays inside a period.

    ``answered_on=None`` means the information is still awaited: no deadline runs.
    Datetimes are accepted and converted to their Paris date.
    """

    asked_on: date
    answered_on: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "asked_on", paris_date(self.asked_on))
        if self.answered_on is not None:
            answered_on = paris_date(self.answered_on)
            object.__setattr__(self, "answered_on", answered_on)
            if answered_on < self.asked_on:
                raise InvalidSuspensionError(
                    f"information received on {answered_on.isoformat()} before it was "
                    f"asked for on {self.asked_on.isoformat()}"
                )

    @property
    def is_open(self) -> bool:
        return self.answered_on is None

    @property
    def days(self) -> int | None:
        """Calendar days the clock was stopped, ``None`` while still open."""
        if self.answered_on is None:
            return None
        return (self.answered_on - self.asked_on).days


@dataclass(frozen=True, slots=True)
class Extension:
    """The single GDPR Art. 12(3) extension by two further months.

    ``requested_on`` is the Paris date the controller decided it and informed the data
    subject; ``reason`` is mandatory because Art. 12(3) requires the data subject to be
    told the reasons for the delay.
    """

    requested_on: date
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "requested_on", paris_date(self.requested_on))
        if not self.reason.strip():
            raise InvalidExtensionError("GDPR Art. 12(3) requires the reasons for the extension")


# --------------------------------------------------------------------------- result


class RuleKind(StrEnum):
    RECEIPT = "receipt"
    SAME_DAY_NUMBER = "same_day_number"
    LAST_DAY_OF_MONTH = "last_day_of_month"
    WORKING_DAY = "working_day"
    NEXT_WORKING_DAY = "next_working_day"
    EXTENSION = "extension"
    SUSPENSION = "suspension"
    CLOCK_STOPPED = "clock_stopped"


class LegalBasis(StrEnum):
    RECEIPT_DAY_NOT_COUNTED = "Regulation 1182/71 Art. 3(1)"
    MONTH_PERIOD = "Regulation 1182/71 Art. 3(2)(c)"
    WORKING_DAY = "Regulation 1182/71 Art. 3(4)"
    GDPR_PERIOD = "GDPR Art. 12(3)"
    IDENTITY_CHECK = "GDPR Art. 12(6)"


class DeadlineStatus(StrEnum):
    RUNNING = "running"
    SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class RuleStep:
    """One rule applied while deriving a deadline, with its result.

    ``on`` is the date the step produced (or, for receipt/extension/suspension, the date
    of that event). ``months`` is set for period steps, ``days`` for suspensions (the
    stopped days, or the frozen days left for an open suspension), ``skipped`` for the
    Art. 3(4) roll-over.
    """

    kind: RuleKind
    on: date
    legal_basis: LegalBasis
    text_fr: str
    text_en: str
    months: int | None = None
    days: int | None = None
    skipped: tuple[NonWorkingDay, ...] = ()


@dataclass(frozen=True, slots=True)
class Deadline:
    """A computed response deadline and the rules that produced it.

    The period ends at the end of ``due_on`` (Paris time). ``due_on`` is ``None`` while a
    suspension is open; ``frozen_days_left`` then holds the days that were left when the
    clock stopped, which is exactly what :meth:`days_left` will return on the day the
    information arrives.
    """

    received_at: datetime | date
    received_on: date
    due_on: date | None
    rule_steps: tuple[RuleStep, ...]
    extension: Extension | None = None
    suspensions: tuple[ClockSuspension, ...] = ()
    frozen_days_left: int | None = None

    def __post_init__(self) -> None:
        if (self.due_on is None) == (self.frozen_days_left is None):
            raise ValueError("exactly one of due_on and frozen_days_left must be set")

    @property
    def running(self) -> bool:
        return self.due_on is not None

    @property
    def status(self) -> DeadlineStatus:
        return DeadlineStatus.RUNNING if self.running else DeadlineStatus.SUSPENDED

    @property
    def extended(self) -> bool:
        return self.extension is not None

    def days_left(self, today: date) -> int:
        """Calendar days until ``due_on`` (0 on the due day, negative once overdue).

        While the clock is stopped the count is frozen at its value on the day it stopped.
        """
        if self.due_on is None:
            assert self.frozen_days_left is not None
            return self.frozen_days_left
        return (self.due_on - paris_date(today)).days

    @property
    def explanation_fr(self) -> str:
        return " ; ".join(step.text_fr for step in self.rule_steps) + "."

    @property
    def explanation_en(self) -> str:
        return "; ".join(step.text_en for step in self.rule_steps) + "."

    def can_extend(self, on: date) -> bool:
        """Whether the Art. 12(3) extension may still be decided on ``on``."""
        if self.extension is not None:
            return False
        try:
            _check_extension(self.received_on, paris_date(on), self.suspensions)
        except DeadlineError:
            return False
        return True

    def with_extension(self, extension: Extension) -> "Deadline":
        """Recompute with the Art. 12(3) extension; refuses a second one."""
        if self.extension is not None:
            raise ExtensionAlreadyGrantedError(
                "GDPR Art. 12(3) allows a single extension; one was already decided on "
                f"{_fmt(self.extension.requested_on)}"
            )
        return compute_deadline(self.received_at, extended=extension, suspensions=self.suspensions)


# --------------------------------------------------------------------------- rules


def _receipt_step(received_at: datetime | date, received_on: date) -> RuleStep:
    text_fr = f"Réception le {_fmt(received_on)}"
    text_en = f"Received on {_fmt(received_on)}"
    if isinstance(received_at, datetime) and received_at.date() != received_on:
        # Say why the Paris date differs from the date written on the timestamp.
        clock = f"{received_at:%H:%M} {received_at.tzname()}"
        text_fr = (
            f"Réception le {_fmt(received_at.date())} à {clock}, "
            f"soit le {_fmt(received_on)} à Paris"
        )
        text_en = (
            f"Received on {_fmt(received_at.date())} at {clock}, i.e. {_fmt(received_on)} in Paris"
        )
    return RuleStep(
        kind=RuleKind.RECEIPT,
        on=received_on,
        legal_basis=LegalBasis.RECEIPT_DAY_NOT_COUNTED,
        text_fr=text_fr,
        text_en=text_en,
    )


def _period_step(received_on: date, months: int) -> RuleStep:
    """Regulation 1182/71 Art. 3(2)(c): end of a period expressed in months."""
    index = received_on.month - 1 + months
    year, month = received_on.year + index // 12, index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    label_fr, label_en = _MONTHS_FR[months], _MONTHS_EN[months]
    if received_on.day > last_day:
        # Art. 3(2)(c), second sentence: the same-numbered day does not exist.
        end = date(year, month, last_day)
        return RuleStep(
            kind=RuleKind.LAST_DAY_OF_MONTH,
            on=end,
            legal_basis=LegalBasis.MONTH_PERIOD,
            text_fr=f"{label_fr} → {_fmt(end)} "
            "(dernier jour du mois, art. 3(2)(c) du règlement 1182/71)",
            text_en=f"{label_en} → {_fmt(end)} "
            "(last day of the month, Art. 3(2)(c) of Regulation 1182/71)",
            months=months,
        )
    end = date(year, month, received_on.day)
    return RuleStep(
        kind=RuleKind.SAME_DAY_NUMBER,
        on=end,
        legal_basis=LegalBasis.MONTH_PERIOD,
        text_fr=f"{label_fr} → {_fmt(end)} (même quantième, art. 3(2)(c) du règlement 1182/71)",
        text_en=f"{label_en} → {_fmt(end)} (same day of the month, "
        "Art. 3(2)(c) of Regulation 1182/71)",
        months=months,
    )


def _working_day_step(last_day: date) -> RuleStep:
    """Regulation 1182/71 Art. 3(4): a period cannot end on a non-working day."""
    if is_working_day(last_day):
        return RuleStep(
            kind=RuleKind.WORKING_DAY,
            on=last_day,
            legal_basis=LegalBasis.WORKING_DAY,
            text_fr=f"{_WEEKDAYS_FR[last_day.weekday()]} ouvré",
            text_en=f"{_WEEKDAYS_EN[last_day.weekday()]}, a working day",
        )
    skipped: list[NonWorkingDay] = []
    day = last_day
    while not is_working_day(day):
        skipped.append(
            NonWorkingDay(
                day=day, is_weekend=day.weekday() >= _SATURDAY, holiday=public_holiday(day)
            )
        )
        day += timedelta(days=1)
    plural = len(skipped) > 1
    return RuleStep(
        kind=RuleKind.NEXT_WORKING_DAY,
        on=day,
        legal_basis=LegalBasis.WORKING_DAY,
        text_fr=", ".join(s.text_fr for s in skipped)
        + (" non ouvrés" if plural else " non ouvré")
        + f" → {_day_fr(day)} (jour ouvré suivant, art. 3(4) du règlement 1182/71)",
        text_en=", ".join(s.text_en for s in skipped)
        + (" are not working days" if plural else " is not a working day")
        + f" → {_day_en(day)} (next working day, Art. 3(4) of Regulation 1182/71)",
        skipped=tuple(skipped),
    )


def _suspension_step(suspension: ClockSuspension, due_on: date) -> RuleStep:
    assert suspension.answered_on is not None
    days = (suspension.answered_on - suspension.asked_on).days
    pushed = due_on + timedelta(days=days)
    span = f"{_fmt(suspension.asked_on)} au {_fmt(suspension.answered_on)}"
    span_en = f"{_fmt(suspension.asked_on)} to {_fmt(suspension.answered_on)}"
    return RuleStep(
        kind=RuleKind.SUSPENSION,
        on=pushed,
        legal_basis=LegalBasis.IDENTITY_CHECK,
        text_fr=f"délai suspendu du {span} dans l'attente d'informations "
        f"({_count_fr(days)}, art. 12(6) RGPD) → {_fmt(pushed)}",
        text_en=f"clock stopped from {span_en} awaiting information "
        f"({_count_en(days)}, GDPR Art. 12(6)) → {_fmt(pushed)}",
        days=days,
    )


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
    dates. Use :meth:`Deadline.with_extension` to add the extension to an existing
    deadline (it refuses a second one).
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
        steps.append(
            RuleStep(
                kind=RuleKind.EXTENSION,
                on=extended.requested_on,
                legal_basis=LegalBasis.GDPR_PERIOD,
                text_fr=f"prolongation de deux mois décidée le {_fmt(extended.requested_on)} "
                "(art. 12(3) RGPD), soit trois mois à compter de la réception",
                text_en=f"two-month extension decided on {_fmt(extended.requested_on)} "
                "(GDPR Art. 12(3)), i.e. three months from receipt",
            )
        )
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
    left_fr = f"{_count_fr(frozen)} restant" + ("s" if frozen > 1 else "")
    steps.append(
        RuleStep(
            kind=RuleKind.CLOCK_STOPPED,
            on=open_suspension.asked_on,
            legal_basis=LegalBasis.IDENTITY_CHECK,
            text_fr=f"délai suspendu depuis le {_fmt(open_suspension.asked_on)} dans l'attente "
            f"d'informations (art. 12(6) RGPD) : {left_fr}, décompte gelé",
            text_en=f"clock stopped since {_fmt(open_suspension.asked_on)} awaiting "
            f"information (GDPR Art. 12(6)): {_count_en(frozen)} left, frozen",
            days=frozen,
        )
    )
    return Deadline(
        received_at=received_at,
        received_on=received_on,
        due_on=None,
        rule_steps=tuple(steps),
        extension=extended,
        suspensions=tuple(suspensions),
        frozen_days_left=frozen,
    )


# --------------------------------------------------------------------------- dashboard


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
