"""What the service writes to people: French first by default, English after (the institution
writes in French; many learners abroad read English). ``lang="en"`` puts English first.

Each message is a text template in ``templates/`` (a ``subject`` and a ``body`` block) whose
words are gettext messages in English, translated by the service's catalogue
(:mod:`dpo_requests.catalogue`); a right is named from the one table of
:mod:`dpo_requests.request_types`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dpo_requests.catalogue import catalogues
from dpo_requests.request_types import mail_phrase

Lang = Literal["fr", "en"]

# The date in a letter: dd/mm/yyyy as French administrative letters write it; ISO 8601 in
# English, which no reader abroad can read as month-first or day-first.
_LETTER_DATES: Final[dict[str, str]] = {"fr": "%d/%m/%Y", "en": "%Y-%m-%d"}


@dataclass(frozen=True)
class Text:
    subject: str
    body: str


@dataclass(frozen=True)
class Notice:
    fr: Text
    en: Text

    def compose(self, lang: Lang = "fr") -> Text:
        first, second = (self.fr, self.en) if lang == "fr" else (self.en, self.fr)
        return Text(
            subject=f"{first.subject} / {second.subject}",
            body=f"{first.body}\n\n-- \n\n{second.body}\n",
        )


def _environment(lang: Lang) -> Environment:
    # Plain-text mail (``.txt``): nothing is escaped, an RFC 5322 body is not HTML; an HTML
    # template, were one added, would be.
    env = Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=select_autoescape(["html"], default_for_string=False),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
    )
    env.install_gettext_translations(catalogues.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["right"] = lambda request_type: mail_phrase(request_type, lang)
    env.filters["letter_date"] = lambda day: day.strftime(_LETTER_DATES[lang])
    return env


_environments: Final[dict[Lang, Environment]] = {lang: _environment(lang) for lang in ("fr", "en")}


def _text(lang: Lang, name: str, values: dict[str, Any]) -> Text:
    template = _environments[lang].get_template(name)

    def block(block_name: str) -> str:
        return "".join(template.blocks[block_name](template.new_context(values)))

    return Text(block("subject"), block("body"))


def _notice(name: str, **values: Any) -> Notice:
    return Notice(fr=_text("fr", name, values), en=_text("en", name, values))


def one_time_code(code: str, minutes: int) -> Notice:
    return _notice("one_time_code.txt", code=code, minutes=minutes)


def acknowledgement(request_id: str, request_type: str, due_on: date) -> Notice:
    """GDPR Art. 12(3): the answer is owed within one month of receipt; the date is told."""
    return _notice(
        "acknowledgement.txt", request_id=request_id, request_type=request_type, due_on=due_on
    )
