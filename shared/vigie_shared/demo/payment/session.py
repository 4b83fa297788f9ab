"""The portal's login, kept in a signed cookie, and the CSRF token of its forms.

A demo portal without a database: the session is a signed, timestamped cookie (kit/secrets)
holding the person's id, name and a random CSRF value, valid ``session_minutes`` at most. Short
and cheap to lose, which is what a payment page's session should be; a real accounting system
keeps its sessions server-side so that they can end before they expire. The cookie is HttpOnly
and SameSite=Lax; every form post carries the session's CSRF value (OWASP's synchronizer token)
and must come from our own origin (kit/forms.same_origin).

Cookie names are the portal's own: browsers share cookies across ports of one host, and the
gateway and the DPO pages run on the same host in the demo."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from vigie_shared.demo.payment.config import PaymentSettings
from vigie_shared.demo.payment.signals import Revocations
from vigie_shared.kit import secrets

SESSION_COOKIE = "vigie_payment_session"
LOGIN_COOKIE = "vigie_payment_login"
LANG_COOKIE = "vigie_payment_lang"
LOGIN_MINUTES = 10
SESSION_PURPOSE = "demo payment session"
LOGIN_STATE_PURPOSE = "demo payment login state"


@dataclass(frozen=True)
class PortalSession:
    subject: str
    name: str
    csrf: str
    sid: str | None = None
    """The gateway session the login came from (OIDC Back-Channel Logout 1.0 §2.1 ``sid``),
    which a CAEP session-revoked names."""
    opened_at: int = 0

    def csrf_valid(self, submitted: str | None) -> bool:
        return secrets.same(submitted, self.csrf)


def _set(response: Response, settings: PaymentSettings, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def _read(request: Request, settings: PaymentSettings, name: str, purpose: str, age: int) -> object:
    raw = request.cookies.get(name)
    if not raw:
        return None
    try:
        found: object = secrets.read_token(settings.secret_key, purpose, raw, max_age=age)
    except secrets.InvalidToken:
        return None
    return found


def open_session(
    response: Response, settings: PaymentSettings, subject: str, name: str, sid: str | None
) -> None:
    value = secrets.sign_token(
        settings.secret_key,
        SESSION_PURPOSE,
        {
            "sub": subject,
            "name": name,
            "csrf": secrets.random_token(32),
            "sid": sid,
            "iat": int(time.time()),
        },
    )
    _set(response, settings, SESSION_COOKIE, value, settings.session_minutes * 60)


def read_session(request: Request, settings: PaymentSettings) -> PortalSession | None:
    """The browser's portal session, unless the gateway ended it meanwhile (a Shared Signals
    SET, ``signals.py``)."""
    found = _read(request, settings, SESSION_COOKIE, SESSION_PURPOSE, settings.session_minutes * 60)
    if not isinstance(found, dict):
        return None
    try:
        session = PortalSession(
            subject=found["sub"],
            name=found["name"],
            csrf=found["csrf"],
            sid=found.get("sid"),
            opened_at=int(found.get("iat", 0)),
        )
    except (KeyError, TypeError, ValueError):
        return None
    revocations: Revocations = request.app.state.revocations
    if revocations.ended(session.subject, session.sid, session.opened_at):
        return None
    return session


def set_login_state(response: Response, settings: PaymentSettings, state: dict[str, str]) -> None:
    value = secrets.sign_token(settings.secret_key, LOGIN_STATE_PURPOSE, state)
    _set(response, settings, LOGIN_COOKIE, value, LOGIN_MINUTES * 60)


def read_login_state(request: Request, settings: PaymentSettings) -> dict[str, str] | None:
    found = _read(request, settings, LOGIN_COOKIE, LOGIN_STATE_PURPOSE, LOGIN_MINUTES * 60)
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        return None
    return {str(k): v for k, v in found.items()}


def clear_login_state(response: Response) -> None:
    response.delete_cookie(LOGIN_COOKIE, path="/")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
