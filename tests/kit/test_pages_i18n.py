"""The kit's one language negotiator (RFC 9110 §12.5.4 weights, OIDC Core §3.1.2.1
``ui_locales``), its catalogues compiled from .po files, the check that finds a message
without translation, and CLDR number and date formats."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from vigie_shared.kit.i18n import (
    Catalogues,
    accept_language,
    best_of_accept_language,
    format_date,
    format_decimal,
    format_percent,
    negotiate,
    untranslated,
)

LANGS = ("fr", "en")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", "fr"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        # Weights, not order, decide.
        ("fr;q=0.4, en;q=0.8", "en"),
        ("de-DE,de;q=0.9,en;q=0.8,fr;q=0.7", "en"),
        # Equal weights: the server's order (the institution's language first).
        ("en;q=0.5,fr;q=0.5", "fr"),
        ("en, fr", "fr"),
        # Unknown languages and malformed ranges are passed over.
        ("es, it", "fr"),
        ("de, en;q=0.1", "en"),
        ("x_y!z, en;q=0.3", "en"),
        # A malformed weight is read as absent: the sender did name the language.
        ("en;q=bad", "en"),
        ("en;q=1.5, fr;q=0.2", "en"),
        # q=0: not acceptable (RFC 9110 §12.4.2), even when it is the only one named.
        ("en;q=0", "fr"),
        ("fr;q=0, en;q=0.1", "en"),
        # Wildcard: every language no range names.
        ("*", "fr"),
        ("en;q=0.3, *;q=0.5", "fr"),
        ("fr;q=0, *", "en"),
        ("*;q=0", "fr"),
        # A range naming the language exactly outweighs a longer one.
        ("en-GB;q=0.9, en;q=0.1, fr;q=0.5", "fr"),
        ("en-GB;q=0.9, fr;q=0.5", "en"),
        ("EN-us", "en"),
    ],
)
def test_accept_language_weights_decide(header: str, expected: str) -> None:
    assert negotiate(LANGS, accept_language=header) == expected


def test_nothing_acceptable_is_none_so_the_caller_chooses() -> None:
    assert best_of_accept_language("de, es;q=0.5", LANGS) is None
    assert best_of_accept_language("en;q=0", LANGS) is None


def test_accept_language_is_parsed_with_weights_in_the_order_sent() -> None:
    parsed = accept_language(" fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5")
    assert [(r.range, r.weight) for r in parsed] == [
        ("fr-ch", 1.0),
        ("fr", 0.9),
        ("en", 0.8),
        ("de", 0.7),
        ("*", 0.5),
    ]


@pytest.mark.parametrize(
    ("ui_locales", "expected"),
    [
        ("en", "en"),
        ("en-US fr", "en"),
        ("de en fr", "en"),
        ("fr-CA en", "fr"),
        ("de es", "fr"),
        ("", "fr"),
    ],
)
def test_ui_locales_is_a_preference_list_first_supported_wins(
    ui_locales: str, expected: str
) -> None:
    assert negotiate(LANGS, ui_locales=ui_locales) == expected


def test_explicit_choice_then_ui_locales_then_accept_language() -> None:
    assert negotiate(LANGS, explicit=["en"], ui_locales="fr", accept_language="fr") == "en"
    assert negotiate(LANGS, explicit=[None, "xx"], ui_locales="en", accept_language="fr") == "en"
    assert negotiate(LANGS, ui_locales="de", accept_language="en") == "en"
    assert negotiate(LANGS, explicit=["de"], accept_language="de") == "fr"


def write_catalogue(directory: Path, translations: dict[str, str]) -> Catalogues:
    catalog = Catalog(locale="fr", domain="pages")
    for msgid, msgstr in translations.items():
        catalog.add(msgid, msgstr)
    po = directory / "fr" / "LC_MESSAGES" / "pages.po"
    po.parent.mkdir(parents=True)
    with po.open("wb") as out:
        write_po(out, catalog)
    return Catalogues(directory, "pages", LANGS)


def test_catalogues_are_compiled_from_the_po_file(tmp_path: Path) -> None:
    catalogues = write_catalogue(
        tmp_path, {"Sign in": "Connexion", "Hi %(name)s": "Salut %(name)s"}
    )
    assert catalogues.gettext("fr", "Sign in") == "Connexion"
    assert catalogues.gettext("fr", "Hi %(name)s", name="Léa") == "Salut Léa"
    assert catalogues.gettext("en", "Sign in") == "Sign in"
    assert catalogues.gettext("fr", "Never translated") == "Never translated"


def test_the_check_names_each_message_without_translation(tmp_path: Path) -> None:
    source = tmp_path / "pkg"
    (source / "templates").mkdir(parents=True)
    (source / "templates" / "page.html").write_text(
        '<h1>{{ _("Sign in") }}</h1><p>{{ _("Forgot") }}</p><p>{{ _("Hi %(name)s", name=n) }}</p>',
        encoding="utf-8",
    )
    (source / "texts.py").write_text('from k import N_\nX = N_("From code")\n', encoding="utf-8")
    cfg = tmp_path / "babel.cfg"
    cfg.write_text(
        "[python: **.py]\n[jinja2: **/templates/**.html]\nextensions = jinja2.ext.i18n\n",
        encoding="utf-8",
    )
    catalogues = write_catalogue(
        tmp_path / "locale", {"Sign in": "Connexion", "Hi %(name)s": "Salut %(nom)s"}
    )
    problems = untranslated(source, cfg, catalogues)
    assert any("'Forgot'" in p for p in problems)
    assert any("'From code'" in p for p in problems)
    assert any("'Hi %(name)s'" in p and "nom" in p for p in problems)
    assert not any("'Sign in'" in p for p in problems)
    assert len(problems) == 3


def test_decimals_and_percentages_as_the_locale_writes_them() -> None:
    assert format_decimal(22.0, "fr") == "22,0"
    assert format_decimal(22.0, "en") == "22.0"
    assert format_decimal(1234.56, "fr", 1) == "1\u202f234,6"
    assert format_decimal(3, "en", 0) == "3"
    assert format_percent(0.85, "fr") == "85\xa0%"
    assert format_percent(0.85, "en") == "85%"
    assert format_percent(0.12, "en", signed=True) == "+12%"


def test_dates_in_the_readers_locale() -> None:
    assert format_date(date(2026, 7, 14), "fr") == "14/07/2026"
    # Not "7/14/26": the year in full, the month in words.
    assert format_date(date(2026, 7, 14), "en") == "Jul 14, 2026"
    late = datetime(2026, 7, 14, 22, 30, tzinfo=UTC)
    paris = ZoneInfo("Europe/Paris")
    # Paris is two hours ahead in summer: already the 15th there.
    assert format_date(late, "fr", tz=paris) == "15/07/2026"
    assert format_date(late, "fr", tz=paris, time=True) == "15/07/2026 00:30"
    assert format_date(late, "en", tz=UTC, time=True) == "Jul 14, 2026 10:30\u202fPM"
