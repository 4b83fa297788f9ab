"""Rendering of the portal's pages in the reader's language, with their security headers, and
errors shown as pages."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from vigie_shared.demo.payment import i18n
from vigie_shared.demo.payment.config import PaymentSettings
from vigie_shared.kit.i18n import language_name, stylesheet_path

# The pages' one stylesheet, the kit's, inlined: the portal serves no static files.
STYLESHEET = Markup(stylesheet_path().read_text(encoding="utf-8"))  # noqa: S704 - our own file

HEADERS = {
    # The pages run no script and load nothing from elsewhere; forms post to the portal only.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: a browser then sends "Origin: null" with our own form posts, which the
    # origin check must refuse (kit/forms.same_origin).
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class PageError(Exception):
    """An error shown as a page: ``title`` and ``detail`` are keys of ``i18n.MESSAGES``."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


class LoginRequired(Exception):
    """A page of a logged-in learner asked without a login (or after it expired)."""


def render(request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    settings: PaymentSettings = request.app.state.settings
    lang = i18n.negotiate(request)
    other = i18n.pages.other(lang)
    body = i18n.pages.render(
        lang,
        name,
        stylesheet=STYLESHEET,
        messages=i18n.MESSAGES,
        outcomes=i18n.OUTCOMES,
        money=lambda amount, currency: i18n.money(amount, currency, lang),
        when=lambda moment: i18n.when(moment, lang),
        other_lang=other,
        other_lang_name=language_name(other),
        # A form's answer has no address to show again in another language.
        other_lang_url=i18n.pages.url(request, other) if request.method == "GET" else None,
        **context,
    )
    response = HTMLResponse(body, status_code=status, headers=HEADERS)
    i18n.pages.remember(request, response, secure=settings.secure_cookies)
    return response


def error_page(request: Request, error: PageError) -> HTMLResponse:
    return render(
        request, "error.html", status=error.status, title=error.title, detail=error.detail
    )
