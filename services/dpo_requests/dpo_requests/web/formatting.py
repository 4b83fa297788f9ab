"""Numbers, dates and people on the pages, as the reader's language writes them (CLDR, through
the kit): ``22,0`` and ``14/07/2026`` in French, ``22.0`` and ``Jul 14, 2026`` in English; a
person by name where the page knows it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from dpo_requests.deadlines import PARIS
from dpo_requests.requests.core import How, TaskOutcome
from dpo_requests.web import i18n
from vigie_shared.kit.i18n import N_, format_date, format_decimal, format_percent

_ACTORS = {
    "system": N_("system: %(id)s"),
    "service": N_("service: %(id)s"),
}

_OUTCOMES = {
    How.AUTOMATED: N_("done by the system itself"),
    How.BY_HAND: N_("done by hand: %(note)s"),
    How.FAILED: N_("failed: %(note)s"),
    How.TIMED_OUT: N_("no answer from the system"),
    How.PENDING: N_("no answer yet"),
}
_FAILED_SILENTLY = N_("failed")
_ON = N_("%(outcome)s (%(date)s)")


def fmt_date(value: date | datetime | None, lang: str) -> str:
    """A day, or a moment (Paris time, the institution's, with the hour)."""
    if value is None:
        return "—"
    return format_date(value, lang, tz=PARIS, time=isinstance(value, datetime))


def fmt_number(value: float | None, lang: str, digits: int = 1) -> str:
    return "—" if value is None else format_decimal(value, lang, digits)


def fmt_percent(value: float | None, lang: str, *, signed: bool = False) -> str:
    return "—" if value is None else format_percent(value, lang, signed=signed)


def fmt_actor(actor: str | None, lang: str, names: Mapping[str, str]) -> str:
    """Who did something (``kind:id``, or a data system's bare name): a person by the name the
    page knows, else by id; a system or service said to be one."""
    if not actor:
        return "—"
    kind, sep, ident = actor.partition(":")
    if not sep:
        kind, ident = "system", actor
    if kind == "user":
        return names.get(ident, ident)
    message = _ACTORS.get(kind)
    return i18n.gettext(lang, message, id=ident) if message else actor


def fmt_outcome(outcome: TaskOutcome, lang: str) -> str:
    """How a system's part ended, in ``lang``, with the day it ended when known."""
    if outcome.how is How.FAILED and not outcome.note:
        text = i18n.gettext(lang, _FAILED_SILENTLY)
    elif outcome.how in (How.BY_HAND, How.FAILED):
        text = i18n.gettext(lang, _OUTCOMES[outcome.how], note=outcome.note)
    else:
        text = i18n.gettext(lang, _OUTCOMES[outcome.how])
    if outcome.at is None:
        return text
    return i18n.gettext(lang, _ON, outcome=text, date=format_date(outcome.at, lang, tz=PARIS))
