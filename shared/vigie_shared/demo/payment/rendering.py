"""Rendering of the portal's pages in the reader's language, with their security headers, and
errors shown as pages."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import FileSystemLoader
from markupsafe import Markup

from vigie_shared.demo.payment import i18n
from vigie_shared.demo.payment.config import PaymentSettings
from vigie_shared.demo.payment.session import LANG_COOKIE
from vigie_shared.kit.i18n import page_environment, stylesheet_path

_loader = FileSystemLoader(i18n.PACKAGE / "templates")
_environments = {
    lang: page_environment(_loader, i18n.catalogues.translations(lang)) for lang in i18n.LANGS
}
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
    other = "en" if lang == "fr" else "fr"
    body = (
        _environments[lang]
        .get_template(name)
        .render(
            lang=lang,
            stylesheet=STYLESHEET,
            messages=i18n.MESSAGES,
            outcomes=i18n.OUTCOMES,
            money=lambda amount, currency: i18n.money(amount, currency, lang),
            when=lambda moment: i18n.when(moment, lang),
            other_lang=other,
            other_lang_url=str(request.url.include_query_params(lang=other))
            if request.method == "GET"
            else None,
            **context,
        )
    )
    response = HTMLResponse(body, status_code=status, headers=HEADERS)
    if i18n.chosen(request) is not None:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            samesite="lax",
            secure=settings.secure_cookies,
            path="/",
        )
    return response


def error_page(request: Request, error: PageError) -> HTMLResponse:
    return render(
        request, "error.html", status=error.status, title=error.title, detail=error.detail
    )
