"""GDPR Art. 12(3) response deadlines, computed per Regulation (EEC, Euratom) No 1182/71.

``civil_calendar`` holds French civil days, ``values`` the inputs and results, ``computation``
the rules, ``texts`` the explanations people read.
"""

from dpo_requests.deadlines.civil_calendar import (
    PARIS,
    PublicHoliday,
    french_public_holidays,
    is_working_day,
    next_working_day,
    paris_date,
    public_holiday,
)
from dpo_requests.deadlines.computation import (
    DUE_SOON_DAYS,
    EXTENDED_PERIOD_MONTHS,
    INITIAL_PERIOD_MONTHS,
    can_extend,
    compute_deadline,
    is_due_soon,
    is_overdue,
    with_extension,
)
from dpo_requests.deadlines.errors import (
    DeadlineError,
    ExtensionAlreadyGrantedError,
    ExtensionTooLateError,
    InvalidExtensionError,
    InvalidSuspensionError,
    NaiveDatetimeError,
    SuspensionAfterDueDateError,
)
from dpo_requests.deadlines.values import (
    ClockSuspension,
    Deadline,
    DeadlineStatus,
    Extension,
    LegalBasis,
    NonWorkingDay,
    RuleKind,
    RuleStep,
)

__all__ = [
    "DUE_SOON_DAYS",
    "EXTENDED_PERIOD_MONTHS",
    "INITIAL_PERIOD_MONTHS",
    "PARIS",
    "ClockSuspension",
    "Deadline",
    "DeadlineError",
    "DeadlineStatus",
    "Extension",
    "ExtensionAlreadyGrantedError",
    "ExtensionTooLateError",
    "InvalidExtensionError",
    "InvalidSuspensionError",
    "LegalBasis",
    "NaiveDatetimeError",
    "NonWorkingDay",
    "PublicHoliday",
    "RuleKind",
    "RuleStep",
    "SuspensionAfterDueDateError",
    "can_extend",
    "compute_deadline",
    "french_public_holidays",
    "is_due_soon",
    "is_overdue",
    "is_working_day",
    "next_working_day",
    "paris_date",
    "public_holiday",
    "with_extension",
]
