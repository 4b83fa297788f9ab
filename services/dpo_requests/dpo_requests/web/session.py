"""The pages' login session, kept server-side, and CSRF tokens.

The session cookie holds a random token and nothing else; the session itself (who logged in,
roles, the SSO session it came from) is a row of ``web_sessions`` found by the token's keyed
hash (OWASP Session Management Cheat Sheet). So a session can end: on logout from the pages,
when the gateway ends the SSO session (``vigie.sso.session.revoked``: logout, back-channel
logout, suspension, erasure; web/handlers.py), after ``session_idle_minutes`` unused, and at
``session_hours`` whatever happens. A copied cookie is worth nothing after any of these.
The cookie is HttpOnly, SameSite=Lax and Secure outside development. CSRF tokens are bound to
the session (a random value in it, signed), OWASP's "synchronizer token"; every form carries
one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from dpo_requests.config import Settings
from dpo_requests.web.repository import StoredSession, web_session_repository
from vigie_shared.kit import secrets
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn
from vigie_shared.kit.oidc import Principal

SESSION_COOKIE = "vigie_dpo_session"
LOGIN_COOKIE = "vigie_dpo_login"
LANG_COOKIE = "vigie_dpo_lang"
# The sso_gateway on the same host uses other names: cookies are shared across ports.
LOGIN_MINUTES = 10
CONFIRM_MINUTES = 30
COOKIE_PATH = "/"
SESSION_HASH_PURPOSE = "vigie-dpo-pages-session-v1"
CSRF_PURPOSE = "dpo pages"
CONFIRM_PURPOSE = "dpo pages confirmation"
LOGIN_STATE_PURPOSE = "dpo pages login state"


@dataclass(frozen=True)
class WebSession:
    subject: str
    name: str
    email: str | None
    roles: frozenset[str]
    csrf_seed: str
    id_token: str | None = None
    sid: str | None = None
    """The gateway's SSO session this login came from (OIDC ``sid`` claim)."""

    @property
    def principal(self) -> Principal:
        claims: dict[str, Any] = {"sub": self.subject, "name": self.name}
        if self.email:
            claims["email"] = self.email
        return Principal(subject=self.subject, roles=self.roles, claims=claims)

    @property
    def is_dpo(self) -> bool:
        return "dpo" in self.roles


def _token_hash(settings: Settings, token: str) -> str:
    # The rows of ``web_sessions`` are found by this hash, so its key stays the one they were
    # stored under: an HMAC of the purpose under the secret, which predates the kit's HKDF.
    key = bytes.fromhex(secrets.keyed_hash(settings.secret_key, SESSION_HASH_PURPOSE))
    return secrets.keyed_hash(key, token)


def _of(stored: StoredSession) -> WebSession:
    return WebSession(
        subject=stored.subject,
        name=stored.name,
        email=stored.email,
        roles=stored.roles,
        csrf_seed=stored.csrf_seed,
        id_token=stored.id_token,
        sid=stored.sid,
    )


async def open_session(
    conn: Conn,
    settings: Settings,
    *,
    subject: str,
    name: str,
    email: str | None,
    roles: frozenset[str],
    id_token: str | None,
    sid: str | None,
) -> tuple[str, WebSession]:
    """A new session; returns the cookie's token (shown once, stored only as a hash)."""
    token = secrets.random_token(32)
    stored = StoredSession(
        subject=subject,
        name=name,
        email=email,
        roles=roles,
        csrf_seed=secrets.random_token(24),
        id_token=id_token,
        sid=sid,
    )
    idle = settings.session_idle_minutes * 60
    async with conn.transaction():
        await web_session_repository.purge(conn, idle)
        await web_session_repository.insert(
            conn,
            _token_hash(settings, token),
            stored,
            utcnow() + timedelta(hours=settings.session_hours),
        )
    return token, _of(stored)


async def read_session(conn: Conn, settings: Settings, request: Request) -> WebSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    stored = await web_session_repository.touch(
        conn, _token_hash(settings, token), settings.session_idle_minutes * 60
    )
    return None if stored is None else _of(stored)


async def end_session(conn: Conn, settings: Settings, request: Request) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await web_session_repository.delete(conn, _token_hash(settings, token))


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path=COOKIE_PATH,
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path=COOKIE_PATH,
    )


def csrf_token(settings: Settings, session: WebSession) -> str:
    return secrets.csrf_token(settings.secret_key, session.csrf_seed, CSRF_PURPOSE)


def csrf_valid(settings: Settings, session: WebSession, submitted: str | None) -> bool:
    return secrets.csrf_valid(settings.secret_key, session.csrf_seed, submitted, CSRF_PURPOSE)


def _confirmed(session: WebSession, what: str) -> str:
    return f"{session.subject}\x00{session.csrf_seed}\x00{what}"


def confirmation_token(settings: Settings, session: WebSession, what: str) -> str:
    """A token the confirmation page of an irreversible action carries: signed, bound to the
    session and to what is confirmed, valid ``CONFIRM_MINUTES``. The first form cannot hold
    one, so posting it directly confirms nothing. It carries an HMAC of the binding, not the
    binding: the session's CSRF seed stays out of the page."""
    bound = secrets.csrf_token(settings.secret_key, _confirmed(session, what), CONFIRM_PURPOSE)
    return secrets.sign_token(settings.secret_key, CONFIRM_PURPOSE, bound)


def confirmation_valid(
    settings: Settings, session: WebSession, what: str, submitted: str | None
) -> bool:
    if not submitted:
        return False
    try:
        bound = secrets.read_token(
            settings.secret_key, CONFIRM_PURPOSE, submitted, max_age=CONFIRM_MINUTES * 60
        )
    except secrets.InvalidToken:
        return False
    return isinstance(bound, str) and secrets.csrf_valid(
        settings.secret_key, _confirmed(session, what), bound, CONFIRM_PURPOSE
    )


def set_login_state(response: Response, settings: Settings, state: dict[str, str]) -> None:
    """What the callback needs to finish the code flow (state, nonce, PKCE verifier).

    SameSite=Lax: the gateway's redirect back is a top-level GET, which carries it."""
    response.set_cookie(
        LOGIN_COOKIE,
        secrets.sign_token(settings.secret_key, LOGIN_STATE_PURPOSE, state),
        max_age=LOGIN_MINUTES * 60,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path=COOKIE_PATH,
    )


def read_login_state(settings: Settings, request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(LOGIN_COOKIE)
    if not raw:
        return None
    try:
        data = secrets.read_token(
            settings.secret_key, LOGIN_STATE_PURPOSE, raw, max_age=LOGIN_MINUTES * 60
        )
    except secrets.InvalidToken:
        return None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return None
    return {str(k): v for k, v in data.items()}


def clear_login_state(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        LOGIN_COOKIE, httponly=True, samesite="lax", secure=settings.secure_cookies, path="/"
    )
