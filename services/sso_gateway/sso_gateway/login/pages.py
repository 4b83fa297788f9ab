"""HTML rendering, cookies and CSRF protection of the gateway's own pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import FileSystemLoader
from markupsafe import Markup

from sso_gateway.config import Settings
from sso_gateway.login.throttle import DEVICE_COOKIE
from vigie_shared.kit import secrets
from vigie_shared.kit.i18n import Catalogues, PageLanguages, stylesheet_path

PAGE_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SESSION_COOKIE = "vigie_sso"
CSRF_COOKIE = "vigie_csrf"
CSRF_PURPOSE = "sso login pages"

PACKAGE = Path(__file__).parent.parent
catalogues = Catalogues(PACKAGE / "locale", "sso_gateway", ("fr", "en"))
# No language cookie: the login flow carries the reader's pick in its links and forms.
languages = PageLanguages(catalogues, FileSystemLoader(PACKAGE / "templates"), cookie=None)
# The pages' one stylesheet, the kit's, inlined: the gateway serves no static files.
STYLESHEET = Markup(stylesheet_path().read_text(encoding="utf-8"))  # noqa: S704 - our own file


def render(name: str, status: int = 200, *, lang: str, **context: Any) -> HTMLResponse:
    """``name`` in ``lang``: its texts from that language's catalogue."""
    html = languages.render(lang, name, stylesheet=STYLESHEET, **context)
    response = HTMLResponse(html, status_code=status)
    # The login page must not be framed (clickjacking) nor cached, and loads nothing and runs
    # nothing that is not its own (CSP Level 3): no script at all, its one inline stylesheet.
    # No ``form-action``: a login ends in a redirect to the platform's registered URI, and
    # browsers apply ``form-action`` to the redirects that follow a form.
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    # Browsers send "Origin: null" with the form posts of a page whose policy is no-referrer
    # (Fetch, "serializing a request origin"): same-origin keeps our own origin on them, which
    # the Origin check needs (kit.forms.same_origin), and still tells other sites nothing.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def csrf_seed(request: Request) -> tuple[str, bool]:
    """The browser's CSRF seed (cookie), and whether it is new."""
    seed = request.cookies.get(CSRF_COOKIE)
    if seed and len(seed) >= 32:
        return seed, False
    return secrets.random_token(32), True


def csrf_token(settings: Settings, seed: str) -> str:
    # Signed double-submit (OWASP CSRF cheat sheet): the form carries an HMAC of the cookie.
    return secrets.csrf_token(settings.secret_key, seed, CSRF_PURPOSE)


def csrf_valid(settings: Settings, request: Request, submitted: str) -> bool:
    return secrets.csrf_valid(
        settings.secret_key, request.cookies.get(CSRF_COOKIE), submitted, CSRF_PURPOSE
    )


def set_csrf_cookie(response: Response, settings: Settings, seed: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        seed,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/",
    )


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_ttl,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def set_device_cookie(response: Response, settings: Settings, value: str) -> None:
    """The browser's proof of a past login (login/throttle.py): sent only to the login form."""
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=settings.login_device_days * 24 * 3600,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/login",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=settings.secure_cookies, path="/"
    )
