"""French civil days: Europe/Paris dates, public holidays and working days.

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

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

import holidays

from dpo_requests.deadlines.errors import NaiveDatetimeError

PARIS: Final = ZoneInfo("Europe/Paris")
SATURDAY: Final = 5


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
    return day.weekday() < SATURDAY and public_holiday(day) is None


def next_working_day(day: date) -> date:
    """The first working day on or after ``day`` (``day`` itself when it is working)."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day
