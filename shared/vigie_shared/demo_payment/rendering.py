"""Jinja rendering of the portal's pages, with their security headers, and errors shown as
pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from vigie_shared.demo_payment import i18n
from vigie_shared.demo_payment.config import PaymentSettings
from vigie_shared.demo_payment.session import LANG_COOKIE

templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

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
    """An error shown as a page: ``title`` and ``detail`` name entries of ``i18n.TEXTS``."""

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
    switch = [(k, v) for k, v in request.query_params.multi_items() if k != "ui_locales"]
    body = templates.get_template(name).render(
        lang=lang,
        t=i18n.TEXTS[lang],
        money=lambda amount, currency: i18n.money(amount, currency, lang),
        when=lambda moment: i18n.when(moment, lang),
        other_lang=other,
        other_lang_url=f"{request.url.path}?{urlencode([*switch, ('ui_locales', other)])}",
        **context,
    )
    response = HTMLResponse(body, status_code=status, headers=HEADERS)
    if i18n.asked(request) is not None:
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
