"""Languages and texts of the gateway's pages: French by default, English available. The
texts are gettext messages (written in English, translated by ``locale/<lang>/LC_MESSAGES/
sso_gateway.po``); the language is negotiated by the kit (``vigie_shared.kit.i18n``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal, cast

from fastapi import Request

from sso_gateway.login.pages import catalogues
from vigie_shared.kit.i18n import N_, negotiate

Lang = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")
"""Supported languages, the default first: the institution's."""

# Messages the endpoints show, by key (the templates hold their own).
MESSAGES: dict[str, str] = {
    "title": N_("Sign in"),
    "suspended_title": N_("Access suspended"),
    "bad_credentials": N_("Incorrect username or password."),
    "throttled": N_("Too many sign-in attempts. Try again in %(minutes)s min."),
    "csrf": N_("The page expired. Please try again."),
    "error_title": N_("Request refused"),
    "logout_title": N_("Sign out"),
    "logged_out": N_("You are signed out."),
    "confirm_logout": N_("Do you want to sign out of every service?"),
    "logout_button": N_("Yes, sign out"),
    "signed_in": N_("You are signed in, %(name)s."),
}


# What an OAuth error shown on a page (never redirected: RFC 6749 §4.1.2.1, RP-Initiated
# Logout §4) means for the person, by error code (RFC 6749 §4.1.2.1 and §5.2).
OAUTH_ERRORS: dict[str, str] = {
    "invalid_request": N_("The platform's request is incomplete or malformed."),
    "invalid_client": N_("The platform that sent you here is not known to the sign-in service."),
    "unauthorized_client": N_("This platform may not sign people in this way."),
    "unsupported_response_type": N_(
        "The platform asked for a kind of answer the sign-in service does not give."
    ),
    "invalid_scope": N_("The platform asked for permissions that do not exist."),
    "access_denied": N_("Access was refused."),
    "server_error": N_("The sign-in service met an unexpected error. Try again later."),
    "temporarily_unavailable": N_(
        "The sign-in service is temporarily unavailable. Try again later."
    ),
}
UNKNOWN_ERROR = N_("The platform's request could not be handled.")
REDIRECT_ERROR = N_(
    "The return address the platform gave is not one registered for it: for your safety,"
    " you are not sent there."
)


def oauth_error_text(lang: Lang, code: str, description: str | None) -> str:
    """The person's explanation of an OAuth error, in ``lang``. Authlib's descriptions are
    English sentences for developers: the page shows its own text and the bare error code."""
    if "redirect" in (description or "").lower():
        message = REDIRECT_ERROR
    else:
        message = OAUTH_ERRORS.get(code, UNKNOWN_ERROR)
    return catalogues.gettext(lang, message)


class _Texts(Mapping[str, str]):
    """``TEXTS[lang][key]``: the message ``key`` in ``lang``, from the catalogue."""

    def __init__(self, lang: Lang) -> None:
        self._lang = lang

    def __getitem__(self, key: str) -> str:
        return catalogues.gettext(self._lang, MESSAGES[key])

    def __iter__(self) -> Iterator[str]:
        return iter(MESSAGES)

    def __len__(self) -> int:
        return len(MESSAGES)


TEXTS: dict[Lang, Mapping[str, str]] = {lang: _Texts(lang) for lang in LANGS}


def pick_lang(
    *explicit: str | None, ui_locales: str | None = None, accept_language: str | None = None
) -> Lang:
    """The page's language: a choice made on our pages (``lang``), then the relying party's
    ``ui_locales`` (OIDC Core §3.1.2.1), then the browser's Accept-Language (RFC 9110
    §12.5.4), then French."""
    chosen = negotiate(
        LANGS, explicit=explicit, ui_locales=ui_locales, accept_language=accept_language
    )
    return cast("Lang", chosen)


def page_lang(request: Request, *explicit: str | None, ui_locales: str | None = None) -> Lang:
    return pick_lang(
        *explicit, ui_locales=ui_locales, accept_language=request.headers.get("accept-language")
    )
