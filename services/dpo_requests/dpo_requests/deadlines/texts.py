"""The French and English explanation of each rule step, as the DPO and the requester read it.

Every function returns a ``(text_fr, text_en)`` pair. Dates are written ``dd/mm/yyyy``, as
French administrative letters write them, unless the caller names how each language writes a
date (:func:`dates_written_by`): the pages write them once, in the reader's locale.
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from typing import Final

from dpo_requests.deadlines.civil_calendar import PublicHoliday

Texts = tuple[str, str]

_WEEKDAYS_FR: Final = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_WEEKDAYS_EN: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS_FR: Final = {1: "un mois", 3: "trois mois"}
_MONTHS_EN: Final = {1: "one month", 3: "three months"}


DateWriter = Callable[[date], str]


def fmt(day: date) -> str:
    return day.strftime("%d/%m/%Y")


# The texts are built deep inside the deadline computation, which knows no reader: a caller
# that does (a page) names its date writers for the time of its call, in its own context only.
_writers: ContextVar[tuple[DateWriter, DateWriter]] = ContextVar(
    "deadline_date_writers", default=(fmt, fmt)
)


@contextmanager
def dates_written_by(fr: DateWriter, en: DateWriter) -> Iterator[None]:
    """Within the block, the French texts write dates with ``fr``, the English ones with
    ``en``; the rules and the dates themselves are unchanged."""
    token = _writers.set((fr, en))
    try:
        yield
    finally:
        _writers.reset(token)


def _fr(day: date) -> str:
    return _writers.get()[0](day)


def _en(day: date) -> str:
    return _writers.get()[1](day)


def _day_fr(day: date) -> str:
    return f"{_WEEKDAYS_FR[day.weekday()]} {_fr(day)}"


def _day_en(day: date) -> str:
    return f"{_WEEKDAYS_EN[day.weekday()]} {_en(day)}"


def _count_fr(days: int) -> str:
    return f"{days} jour" if abs(days) <= 1 else f"{days} jours"


def _count_en(days: int) -> str:
    return f"{days} day" if abs(days) == 1 else f"{days} days"


def non_working_day(day: date, holiday: PublicHoliday | None) -> Texts:
    label_fr, label_en = _day_fr(day), _day_en(day)
    if holiday is None:
        return label_fr, label_en
    return f"{label_fr} ({holiday.name_fr})", f"{label_en} ({holiday.name_en})"


def receipt(received_at: datetime | date, received_on: date) -> Texts:
    if isinstance(received_at, datetime) and received_at.date() != received_on:
        # Say why the Paris date differs from the date written on the timestamp.
        clock = f"{received_at:%H:%M} {received_at.tzname()}"
        return (
            f"Réception le {_fr(received_at.date())} à {clock}, soit le {_fr(received_on)} à Paris",
            f"Received on {_en(received_at.date())} at {clock}, i.e. {_en(received_on)} in Paris",
        )
    return f"Réception le {_fr(received_on)}", f"Received on {_en(received_on)}"


def extension(requested_on: date) -> Texts:
    return (
        f"prolongation de deux mois décidée le {_fr(requested_on)} "
        "(art. 12(3) RGPD), soit trois mois à compter de la réception",
        f"two-month extension decided on {_en(requested_on)} "
        "(GDPR Art. 12(3)), i.e. three months from receipt",
    )


def last_day_of_month(months: int, end: date) -> Texts:
    return (
        f"{_MONTHS_FR[months]} → {_fr(end)} "
        "(dernier jour du mois, art. 3(2)(c) du règlement 1182/71)",
        f"{_MONTHS_EN[months]} → {_en(end)} "
        "(last day of the month, Art. 3(2)(c) of Regulation 1182/71)",
    )


def same_day_number(months: int, end: date) -> Texts:
    return (
        f"{_MONTHS_FR[months]} → {_fr(end)} (même quantième, art. 3(2)(c) du règlement 1182/71)",
        f"{_MONTHS_EN[months]} → {_en(end)} (same day of the month, "
        "Art. 3(2)(c) of Regulation 1182/71)",
    )


def working_day(day: date) -> Texts:
    return f"{_WEEKDAYS_FR[day.weekday()]} ouvré", f"{_WEEKDAYS_EN[day.weekday()]}, a working day"


def next_working_day(skipped: Sequence[Texts], day: date) -> Texts:
    plural = len(skipped) > 1
    return (
        ", ".join(fr for fr, _ in skipped)
        + (" non ouvrés" if plural else " non ouvré")
        + f" → {_day_fr(day)} (jour ouvré suivant, art. 3(4) du règlement 1182/71)",
        ", ".join(en for _, en in skipped)
        + (" are not working days" if plural else " is not a working day")
        + f" → {_day_en(day)} (next working day, Art. 3(4) of Regulation 1182/71)",
    )


def suspension(asked_on: date, answered_on: date, days: int, pushed: date) -> Texts:
    return (
        f"délai suspendu du {_fr(asked_on)} au {_fr(answered_on)} dans l'attente d'informations "
        f"({_count_fr(days)}, art. 12(6) RGPD) → {_fr(pushed)}",
        f"clock stopped from {_en(asked_on)} to {_en(answered_on)} awaiting information "
        f"({_count_en(days)}, GDPR Art. 12(6)) → {_en(pushed)}",
    )


def clock_stopped(asked_on: date, frozen: int) -> Texts:
    left_fr = f"{_count_fr(frozen)} restant" + ("s" if frozen > 1 else "")
    return (
        f"délai suspendu depuis le {_fr(asked_on)} dans l'attente "
        f"d'informations (art. 12(6) RGPD) : {left_fr}, décompte gelé",
        f"clock stopped since {_en(asked_on)} awaiting "
        f"information (GDPR Art. 12(6)): {_count_en(frozen)} left, frozen",
    )


def explanation(steps: Sequence[Texts]) -> Texts:
    return (
        " ; ".join(fr for fr, _ in steps) + ".",
        "; ".join(en for _, en in steps) + ".",
    )
