"""The French and English explanation of each rule step, as the DPO and the requester read it.

Every function returns a ``(text_fr, text_en)`` pair. The words are gettext messages in English,
translated by the service's catalogue (:mod:`dpo_requests.catalogue`, French in
``web/locale/fr/LC_MESSAGES/dpo_requests.po``, each entry beside its English). Dates are written
``dd/mm/yyyy``, as French administrative letters write them, unless the caller names how each
language writes a date (:func:`dates_written_by`): the pages write them once, in the reader's
locale.
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from typing import Final

from dpo_requests.catalogue import catalogues
from dpo_requests.deadlines.civil_calendar import PublicHoliday
from vigie_shared.kit.i18n import N_

Texts = tuple[str, str]

_WEEKDAYS: Final = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
_MONTHS: Final = {1: N_("one month"), 3: N_("three months")}


DateWriter = Callable[[date], str]


def fmt(day: date) -> str:
    # The same text as strftime("%d/%m/%Y") (glibc's %Y does not pad), at a fraction of its
    # cost: the register writes one for every request received near midnight.
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


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


def _written(lang: str, day: date) -> str:
    fr, en = _writers.get()
    return fr(day) if lang == "fr" else en(day)


def _in(lang: str, message: str, **values: object) -> str:
    """``message`` in ``lang``, each date of ``values`` written as ``lang`` writes dates."""
    written = {k: _written(lang, v) if isinstance(v, date) else v for k, v in values.items()}
    return catalogues.gettext(lang, message, **written)


def _both(message: str, **values: object) -> Texts:
    return _in("fr", message, **values), _in("en", message, **values)


def _weekday(lang: str, day: date) -> str:
    return catalogues.gettext(lang, _WEEKDAYS[day.weekday()])


def _day(lang: str, day: date) -> str:
    return f"{_weekday(lang, day)} {_written(lang, day)}"


def _count(lang: str, days: int) -> str:
    # A count agrees with its size: French takes the singular up to one (0 jour, 1 jour),
    # English only for one; a negative count agrees as its size does.
    plural = catalogues.translations(lang).ngettext("%(num)s day", "%(num)s days", abs(days))
    return plural % {"num": days}


def non_working_day(day: date, holiday: PublicHoliday | None) -> Texts:
    label_fr, label_en = _day("fr", day), _day("en", day)
    if holiday is None:
        return label_fr, label_en
    return f"{label_fr} ({holiday.name_fr})", f"{label_en} ({holiday.name_en})"


def receipt(received_at: datetime | date, received_on: date) -> Texts:
    if isinstance(received_at, datetime) and received_at.date() != received_on:
        # Say why the Paris date differs from the date written on the timestamp.
        return _both(
            N_("Received on %(stamped)s at %(clock)s, i.e. %(day)s in Paris"),
            stamped=received_at.date(),
            clock=f"{received_at:%H:%M} {received_at.tzname()}",
            day=received_on,
        )
    return _both(N_("Received on %(day)s"), day=received_on)


def extension(requested_on: date) -> Texts:
    return _both(
        N_(
            "two-month extension decided on %(day)s (GDPR Art. 12(3)), i.e. three months from "
            "receipt"
        ),
        day=requested_on,
    )


def _months(lang: str, months: int) -> str:
    return catalogues.gettext(lang, _MONTHS[months])


def last_day_of_month(months: int, end: date) -> Texts:
    message = N_("%(months)s → %(day)s (last day of the month, Art. 3(2)(c) of Regulation 1182/71)")
    return (
        _in("fr", message, months=_months("fr", months), day=end),
        _in("en", message, months=_months("en", months), day=end),
    )


def same_day_number(months: int, end: date) -> Texts:
    message = N_("%(months)s → %(day)s (same day of the month, Art. 3(2)(c) of Regulation 1182/71)")
    return (
        _in("fr", message, months=_months("fr", months), day=end),
        _in("en", message, months=_months("en", months), day=end),
    )


def working_day(day: date) -> Texts:
    message = N_("%(weekday)s, a working day")
    return (
        _in("fr", message, weekday=_weekday("fr", day)),
        _in("en", message, weekday=_weekday("en", day)),
    )


def next_working_day(skipped: Sequence[Texts], day: date) -> Texts:
    def text(lang: str, skipped_days: list[str]) -> str:
        listed = ", ".join(skipped_days)
        message = catalogues.translations(lang).ngettext(
            "%(skipped)s is not a working day → %(day)s (next working day, Art. 3(4) of "
            "Regulation 1182/71)",
            "%(skipped)s are not working days → %(day)s (next working day, Art. 3(4) of "
            "Regulation 1182/71)",
            len(skipped_days),
        )
        return message % {"skipped": listed, "day": _day(lang, day)}

    return text("fr", [fr for fr, _ in skipped]), text("en", [en for _, en in skipped])


def suspension(asked_on: date, answered_on: date, days: int, pushed: date) -> Texts:
    def text(lang: str) -> str:
        return _in(
            lang,
            N_(
                "clock stopped from %(asked)s to %(answered)s awaiting information (%(count)s, "
                "GDPR Art. 12(6)) → %(pushed)s"
            ),
            asked=asked_on,
            answered=answered_on,
            count=_count(lang, days),
            pushed=pushed,
        )

    return text("fr"), text("en")


def clock_stopped(asked_on: date, frozen: int) -> Texts:
    def text(lang: str) -> str:
        # "restant" agrees in the plural above one day only (zero and one are singular in
        # French). The rules never count below zero (a clock stopped after the due date is
        # refused); a count below one stays singular.
        left = catalogues.translations(lang).ngettext(
            "%(count)s left", "%(count)s left", max(frozen, 1)
        ) % {"count": _count(lang, frozen)}
        return _in(
            lang,
            N_(
                "clock stopped since %(asked)s awaiting information (GDPR Art. 12(6)): "
                "%(left)s, frozen"
            ),
            asked=asked_on,
            left=left,
        )

    return text("fr"), text("en")


def explanation(steps: Sequence[Texts]) -> Texts:
    def text(lang: str, parts: list[str]) -> str:
        # French typography spaces the semicolon on both sides.
        return catalogues.gettext(lang, N_("; ")).join(parts) + "."

    return text("fr", [fr for fr, _ in steps]), text("en", [en for _, en in steps])
