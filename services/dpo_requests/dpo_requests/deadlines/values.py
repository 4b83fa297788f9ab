"""The value types of a deadline: its inputs (suspension, extension) and its result.

Immutable and free of rules: what a step or a deadline *means* is computed in
:mod:`dpo_requests.deadlines.computation`.
"""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from dpo_requests.deadlines import texts
from dpo_requests.deadlines.civil_calendar import PublicHoliday, paris_date
from dpo_requests.deadlines.errors import InvalidExtensionError, InvalidSuspensionError


@dataclass(frozen=True, slots=True)
class NonWorkingDay:
    """A day skipped by the Art. 3(4) roll-over, and why it is not a working day."""

    day: date
    is_weekend: bool
    holiday: PublicHoliday | None

    @property
    def text_fr(self) -> str:
        return texts.non_working_day(self.day, self.holiday)[0]

    @property
    def text_en(self) -> str:
        return texts.non_working_day(self.day, self.holiday)[1]


@dataclass(frozen=True, slots=True)
class ClockSuspension:
    """Clock stopped while waiting for identity information (GDPR Art. 12(6), CNIL practice).

    Stopping the clock meanwhile is CNIL practice, not a rule of Regulation 1182/71, so its
    convention is defined here. The suspension covers the half-open interval
    ``[asked_on, answered_on)`` of Paris dates: the clock stops at the start of the day the
    DPO asked for the information and restarts at the start of the day it was received. It
    therefore stops the clock for ``answered_on - asked_on`` calendar days (asked on the 1st,
    answered on the 11th: 10 days; asked and answered the same day: 0 days). Calendar days,
    not working days, because Regulation 1182/71 Art. 3(3) counts weekends and holidays
    inside a period.

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
        return texts.explanation([(s.text_fr, s.text_en) for s in self.rule_steps])[0]

    @property
    def explanation_en(self) -> str:
        return texts.explanation([(s.text_fr, s.text_en) for s in self.rule_steps])[1]
