"""Pages in the reader's language: one negotiator, gettext catalogues and CLDR formats.

Every service's pages use this module and nothing else for languages:

- ``negotiate`` picks the page's language from what the reader asked for, in the caller's
  order: explicit choices (a ``?lang`` link, a cookie), then OIDC ``ui_locales`` (OIDC Core
  §3.1.2.1), then the browser's ``Accept-Language`` with its weights (RFC 9110 §12.5.4).
- ``Catalogues`` holds a service's gettext catalogues: one ``<lang>/LC_MESSAGES/<domain>.po``
  per language under the service's ``locale`` folder, compiled in memory with Babel the first
  time a language is used. Only the ``.po`` files are kept in the repository, so a fresh clone
  needs no build step and no compiled file can lag behind its source. Messages are written in
  English (the source language); a catalogue per other language translates them.
- ``page_environment`` is the Jinja environment of one language, with ``jinja2.ext.i18n``
  bound to that language's catalogue (``{{ _("...") }}``, ``{% trans %}``).
- ``PageLanguages`` is a service's pages in each of its languages: one environment per
  language, the language of a request (``?lang``, then the cookie that remembers it, then
  ``ui_locales``, then ``Accept-Language``), the link to the page in another language, and
  that cookie.
- ``format_decimal``, ``format_percent`` and ``format_date`` write numbers and dates as the
  reader's locale does (CLDR, through Babel): ``22,0`` and ``14/07/2026`` in French,
  ``22.0`` and ``Jul 14, 2026`` in English.

Each service keeps its own domain: services never share texts (they never import each other),
only this mechanism, and the pages' one stylesheet (``stylesheet_path``).
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.dates import format_time as _babel_time
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal as _babel_decimal
from babel.numbers import format_percent as _babel_percent
from babel.support import NullTranslations, Translations
from fastapi import Request, Response
from jinja2 import BaseLoader, Environment, select_autoescape

STATIC_DIR = Path(__file__).with_name("static")
"""The pages' static files (``vigie.css``), package data of the kit served by each service."""

# RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
_QVALUE = re.compile(r"^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")
# RFC 9110 §12.5.4: language-range (RFC 4647 §2.1), "*" or 1*8ALPHA *("-" 1*8alphanum).
_RANGE = re.compile(r"^(?:\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)$")


def stylesheet_path() -> Path:
    return STATIC_DIR / "vigie.css"


@dataclass(frozen=True)
class LanguageRange:
    range: str
    """Lower-cased language range, or ``*``."""
    weight: float


def accept_language(header: str | None) -> list[LanguageRange]:
    """The ranges of an ``Accept-Language`` field with their weights (RFC 9110 §12.5.4), in
    the order sent. A malformed range is skipped; a malformed weight is read as absent (1),
    since the sender did name that language."""
    found: list[LanguageRange] = []
    for item in (header or "").split(","):
        tag, *params = (part.strip() for part in item.split(";"))
        if not tag or not _RANGE.match(tag):
            continue
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q" and _QVALUE.match(value.strip()):
                weight = float(value.strip())
        found.append(LanguageRange(tag.lower(), weight))
    return found


def _primary(tag: str) -> str:
    return tag.strip().lower().replace("_", "-").split("-")[0]


def best_of_accept_language(header: str | None, supported: Sequence[str]) -> str | None:
    """The supported language the reader weighs highest, or None if none is acceptable.

    A range names a language by its primary subtag ("en-GB" asks for "en", RFC 4647 §3.4's
    lookup by truncation); a range naming the language exactly outweighs a longer one. ``*``
    weighs every language no range names (§12.5.4). Weight 0 means "not acceptable". RFC 9110
    leaves equal weights unordered: the server's order of ``supported`` decides."""
    ranges = accept_language(header)
    wildcard = max((r.weight for r in ranges if r.range == "*"), default=None)
    best: tuple[float, int] | None = None
    chosen: str | None = None
    for order, language in enumerate(supported):
        exact = [r.weight for r in ranges if r.range == language]
        longer = [r.weight for r in ranges if r.range != "*" and _primary(r.range) == language]
        weight = max(exact) if exact else max(longer) if longer else wildcard
        if weight is None or weight <= 0:
            continue
        key = (weight, -order)
        if best is None or key > best:
            best, chosen = key, language
    return chosen


def first_supported(tags: Iterable[str | None], supported: Sequence[str]) -> str | None:
    """The first of ``tags`` (each a language tag, in the reader's order) that is supported."""
    for tag in tags:
        if tag and _primary(tag) in supported:
            return _primary(tag)
    return None


def negotiate(
    supported: Sequence[str],
    *,
    explicit: Iterable[str | None] = (),
    ui_locales: str | None = None,
    accept_language: str | None = None,
) -> str:
    """The page's language; ``supported[0]`` is the default.

    ``explicit``: choices the reader made on our pages (a language link, a cookie), first
    supported one wins. ``ui_locales``: the relying party's space-separated list of the
    End-User's preferred languages, "in order of preference" (OIDC Core §3.1.2.1); an
    unsupported tag is passed over, not an error. Then ``Accept-Language`` (RFC 9110
    §12.5.4); nothing acceptable gives the default, as §12.5.4 allows."""
    return (
        first_supported(explicit, supported)
        or first_supported((ui_locales or "").split(), supported)
        or best_of_accept_language(accept_language, supported)
        or supported[0]
    )


class Catalogues:
    """A service's gettext catalogues (``directory/<lang>/LC_MESSAGES/<domain>.po``), compiled
    in memory with Babel at first use. ``source`` is the language the messages are written in:
    it needs no catalogue."""

    def __init__(
        self, directory: Path, domain: str, languages: Sequence[str], source: str = "en"
    ) -> None:
        self.directory = directory
        self.domain = domain
        self.languages = tuple(languages)
        self.source = source

    def po_path(self, lang: str) -> Path:
        return self.directory / lang / "LC_MESSAGES" / f"{self.domain}.po"

    @functools.cache  # noqa: B019 - one instance per service, for the process's life
    def translations(self, lang: str) -> NullTranslations:
        if lang == self.source:
            return NullTranslations()
        with self.po_path(lang).open("rb") as po:
            catalog = read_po(po, locale=lang, domain=self.domain)
        compiled = io.BytesIO()
        # Fuzzy entries are a translator's guess: not shown, as msgfmt does by default.
        write_mo(compiled, catalog, use_fuzzy=False)
        compiled.seek(0)
        return Translations(compiled, domain=self.domain)

    def gettext(self, lang: str, message: str, **values: Any) -> str:
        text = self.translations(lang).gettext(message)
        return text % values if values else text


def untranslated(source_dir: Path, mapping_cfg: Path, catalogues: Catalogues) -> list[str]:
    """What a catalogue lacks: each message Babel extracts from ``source_dir`` (as
    ``mapping_cfg`` says where to look) with no translation, a fuzzy one, or placeholders that
    differ from its source, in each language but the source one. Empty when complete."""
    with mapping_cfg.open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]
    wanted = {
        (context, message if isinstance(message, str) else message[0])
        for _, _, message, _, context in extract_from_dir(
            source_dir, method_map, options_map, keywords=DEFAULT_KEYWORDS
        )
    }
    problems: list[str] = []
    for lang in catalogues.languages:
        if lang == catalogues.source:
            continue
        with catalogues.po_path(lang).open("rb") as po:
            catalog = read_po(po, locale=lang, domain=catalogues.domain)
        for context, msgid in sorted(wanted, key=lambda w: (w[0] or "", w[1])):
            entry = catalog.get(msgid, context=context)
            if entry is None or not entry.string or entry.fuzzy:
                problems.append(f"{lang}: no translation of {msgid!r} (context {context!r})")
        for entry, errors in catalog.check():
            problems.extend(f"{lang}: {entry.id!r}: {error}" for error in errors)
    return problems


def page_environment(loader: BaseLoader, translations: NullTranslations) -> Environment:
    """Jinja for one language's pages: autoescaped HTML, ``jinja2.ext.i18n`` with new-style
    gettext (``_("Hello %(name)s", name=...)``, escaped like any other value)."""
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    return env


LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600
"""A choice of language is remembered for a year: it is the reader's, not the session's."""


class PageLanguages:
    """A service's pages in each of its ``catalogues``' languages (the first is the default),
    their templates read through ``loader``. The reader's pick on our pages (``?lang=``) is
    remembered in the cookie ``cookie``; pages that carry the pick in their links and forms
    instead (the login flow's) have none."""

    def __init__(self, catalogues: Catalogues, loader: BaseLoader, *, cookie: str | None) -> None:
        self.catalogues = catalogues
        self.languages = catalogues.languages
        self.cookie = cookie
        self._environments = {
            lang: page_environment(loader, catalogues.translations(lang)) for lang in self.languages
        }

    def render(self, lang: str, name: str, **context: Any) -> str:
        """The template ``name`` in ``lang`` (which it sees as ``lang``): its texts from that
        language's catalogue."""
        return self._environments[lang].get_template(name).render(lang=lang, **context)

    def chosen(self, request: Request) -> str | None:
        """The supported language the reader picked with our link on this request, if any."""
        return first_supported((request.query_params.get("lang"),), self.languages)

    def negotiate(self, request: Request, *, ui_locales: str | None = None) -> str:
        """The page's language: the reader's pick on this request, then the one remembered,
        then the relying party's ``ui_locales`` where the caller has them, then the
        browser's ``Accept-Language`` with its weights (``negotiate``)."""
        remembered = request.cookies.get(self.cookie) if self.cookie else None
        return negotiate(
            self.languages,
            explicit=(self.chosen(request), remembered),
            ui_locales=ui_locales,
            accept_language=request.headers.get("accept-language"),
        )

    def other(self, lang: str) -> str:
        """The language a page in ``lang`` links to: the default, or from the default the
        next one."""
        return next(other for other in self.languages if other != lang)

    def url(self, request: Request, lang: str, *, drop: Iterable[str] = ()) -> str:
        """This page in ``lang``: its path and query with ``lang`` set and the ``drop``
        parameters removed. Relative to the site, so that it never names the host a request
        claimed (the Host header is the client's)."""
        url = request.url.remove_query_params(list(drop)).include_query_params(lang=lang)
        return f"{url.path}?{url.query}"

    def remember(self, request: Request, response: Response, *, secure: bool) -> None:
        """Sets the cookie to the language the reader picked on this request, if they did.
        ``SameSite=Lax`` (RFC 6265bis, the SameSite attribute): a link from elsewhere to our
        pages still opens them in the reader's language."""
        chosen = self.chosen(request)
        if chosen is not None and self.cookie is not None:
            response.set_cookie(
                self.cookie,
                chosen,
                max_age=LANGUAGE_COOKIE_MAX_AGE,
                samesite="lax",
                secure=secure,
                path="/",
            )


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark for extraction only"
    """Marks a message for extraction where it is defined; it is translated where shown."""
    return message


def _locale(lang: str) -> Locale:
    return Locale.parse(lang)


def language_name(lang: str) -> str:
    """A language's name in itself (CLDR), as a link to it says it: ``Français``,
    ``English``."""
    name = _locale(lang).get_display_name(lang) or lang
    return name[:1].upper() + name[1:]


def format_decimal(value: float, lang: str, digits: int = 1) -> str:
    """``22,0`` in French, ``22.0`` in English (CLDR decimal symbols)."""
    pattern = "#,##0." + "0" * digits if digits else "#,##0"
    return _babel_decimal(value, format=pattern, locale=_locale(lang))


def format_percent(value: float, lang: str, *, signed: bool = False) -> str:
    """``85 %`` in French (with CLDR's no-break space), ``85%`` in English."""
    text = _babel_percent(value, locale=_locale(lang))
    return f"+{text}" if signed and value > 0 else text


def format_date(value: date | datetime, lang: str, *, tz: Any = None, time: bool = False) -> str:
    """A date as the reader's locale writes it: CLDR's short form where it writes the year in
    full (French ``14/07/2026``), else the medium form (English ``Jul 14, 2026``, not the
    ambiguous ``7/14/26``). With ``time``, the locale's short time (``22:30``, ``10:30 PM``);
    a datetime is first moved to ``tz``."""
    locale = _locale(lang)
    day = value
    if isinstance(value, datetime):
        value = value.astimezone(tz) if tz is not None else value
        day = value.date()
    short = str(locale.date_formats["short"].pattern)
    written = _babel_date(day, "short" if "yy" not in short else "medium", locale=locale)
    if time and isinstance(value, datetime):
        return f"{written} {_babel_time(value, 'short', locale=locale)}"
    return written
