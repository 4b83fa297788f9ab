"""The portal's pages in the reader's language, through the kit's one mechanism
(kit/i18n.py): French first (the institution's language), English on request. Texts are
written in English in the templates and here (``N_``); ``locale/fr/LC_MESSAGES/demo_payment.po``
translates them. The language is the reader's choice on our pages (``?lang=``, remembered in a
cookie), else the relying party's ``ui_locales`` (OIDC Core §3.1.2.1), else the browser's
Accept-Language (RFC 9110 §12.5.4)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from babel.numbers import format_currency
from fastapi import Request
from jinja2 import FileSystemLoader

from vigie_shared.demo.payment.session import LANG_COOKIE
from vigie_shared.kit import i18n
from vigie_shared.kit.clock import PARIS
from vigie_shared.kit.i18n import N_, Catalogues, PageLanguages

LANGS = ("fr", "en")
PACKAGE = Path(__file__).parent
catalogues = Catalogues(PACKAGE / "locale", "demo_payment", LANGS)
pages = PageLanguages(catalogues, FileSystemLoader(PACKAGE / "templates"), cookie=LANG_COOKIE)

MESSAGES: dict[str, str] = {
    "login_failed_title": N_("Login failed"),
    "login_failed": N_("The login did not complete or expired. Try again."),
    "unconfigured": N_("The portal's OIDC client is not configured (VIGIE_OIDC_CLIENT_SECRET)."),
    "form_expired_title": N_("Form expired"),
    "form_expired": N_(
        "The form's security token is missing or wrong. Reload the page and try again."
    ),
    "error_title": N_("Error"),
    "unknown_debt": N_("This amount does not exist or is not yours."),
    "not_recorded_title": N_("Payment not confirmed"),
    "not_recorded": N_(
        "The accounting office could not confirm the payment. Try again in a moment: an "
        "amount is never paid twice."
    ),
}
"""What an error page says, by key (``rendering.PageError``)."""

OUTCOMES: dict[str, str] = {
    "restored": N_("Access restored: you can log in to the training platforms again."),
    "waiting": N_(
        "Your access to the training platforms will be restored in a moment. This page "
        "updates itself."
    ),
    "still_suspended": N_("Your access stays suspended: other amounts are still due."),
    "not_suspended": N_("Your access to the training platforms is not suspended."),
}
"""What the receipt says of the learner's access (``payments.AccessOutcome``)."""


def negotiate(request: Request) -> str:
    return pages.negotiate(request, ui_locales=request.query_params.get("ui_locales"))


def money(amount: Decimal, currency: str, lang: str) -> str:
    """``42,00 €`` in French, ``€42.00`` in English (CLDR currency formats)."""
    return str(format_currency(amount, currency, locale=lang))


def when(moment: datetime, lang: str) -> str:
    return i18n.format_date(moment, lang, tz=PARIS, time=True)
