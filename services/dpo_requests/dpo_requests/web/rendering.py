"""Jinja rendering of the pages, and errors shown as pages rather than problem+json."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from dpo_requests.config import Settings
from dpo_requests.web import formatting, i18n
from dpo_requests.web.session import WebSession, csrf_token
from vigie_shared.kit.i18n import language_name


def security_headers(settings: Settings) -> dict[str, str]:
    """The pages load nothing from elsewhere and run no script. Inline styles are allowed for
    the charts' SVG (pygal styles them inline); forms may lead to the SSO (logout)."""
    issuer = urlsplit(settings.issuer)
    return {
        "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:; form-action 'self' {issuer.scheme}://{issuer.netloc}; "
        "frame-ancestors 'none'; base-uri 'none'",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


class PageError(Exception):
    """An error shown as a page: ``title`` and ``detail`` are gettext messages (marked with
    ``N_``), ``values`` fill the detail's ``%(name)s`` placeholders."""

    def __init__(
        self, status: int, title: str, detail: str | None = None, **values: object
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.detail = detail
        self.values = values


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def render(
    request: Request,
    name: str,
    *,
    status: int = 200,
    session: WebSession | None = None,
    **context: Any,
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    lang = i18n.negotiate(request)
    if session is None:
        # Loaded by the page's session dependency, if it ran (error pages included).
        session = getattr(request.state, "web_session", None)

    # People the page can name: the reader, and whoever the page says it knows.
    names = {session.subject: session.name} if session else {}
    names.update(context.pop("actor_names", {}))

    other = i18n.pages.other(lang)
    body = i18n.pages.render(
        lang,
        name,
        request=request,
        i18n=i18n,
        label=lambda table, key: i18n.label(table, key, lang),
        fmt_date=lambda value: formatting.fmt_date(value, lang),
        fmt_number=lambda value, digits=1: formatting.fmt_number(value, lang, digits),
        fmt_percent=lambda value, signed=False: formatting.fmt_percent(value, lang, signed=signed),
        fmt_outcome=lambda outcome: formatting.fmt_outcome(outcome, lang),
        fmt_actor=lambda actor: formatting.fmt_actor(actor, lang, names),
        session=session,
        csrf=csrf_token(settings, session) if session else "",
        other_lang=other,
        other_lang_name=language_name(other),
        # "done" is a one-time notice ("request sent"): not shown again in the other language.
        other_lang_url=i18n.pages.url(request, other, drop=("done",)),
        safe=Markup,
        **context,
    )
    response = HTMLResponse(body, status_code=status)
    response.headers.update(security_headers(settings))
    i18n.pages.remember(request, response, secure=settings.secure_cookies)
    return response


def error_page(
    request: Request,
    status: int,
    title: str,
    detail: str | None = None,
    values: dict[str, object] | None = None,
) -> HTMLResponse:
    """``title`` and ``detail``: gettext messages, shown in the page's language."""
    return render(
        request, "error.html", status=status, title=title, detail=detail, detail_values=values or {}
    )
