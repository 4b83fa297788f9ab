"""The pages' login session and CSRF tokens, kept in signed cookies (no server-side store).

The session cookie holds who logged in (subject, name, roles) as a timestamped HMAC
signature by ``itsdangerous`` under a key derived from ``VIGIE_SECRET_KEY`` for this purpose
only; it is HttpOnly, SameSite=Lax and Secure outside development, so scripts cannot read it
and other sites' forms do not carry it. CSRF tokens are bound to the session (a random value in
it, signed), OWASP's "synchronizer token" without storage; every form carries one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from dpo_requests.config import Settings
from vigie_shared.kit.oidc import Principal

SESSION_COOKIE = "vigie_dpo_session"
LOGIN_COOKIE = "vigie_dpo_login"
LANG_COOKIE = "vigie_dpo_lang"
# The sso_gateway on the same host uses other names: cookies are shared across ports.
LOGIN_MINUTES = 10
COOKIE_PATH = "/"


@dataclass(frozen=True)
class WebSession:
    subject: str
    name: str
    email: str | None
    roles: frozenset[str]
    csrf_seed: str
    id_token: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def principal(self) -> Principal:
        claims: dict[str, Any] = {"sub": self.subject, "name": self.name}
        if self.email:
            claims["email"] = self.email
        return Principal(subject=self.subject, roles=self.roles, claims=claims)

    @property
    def is_dpo(self) -> bool:
        return "dpo" in self.roles


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=f"vigie-dpo-pages-{purpose}-v1")


def new_session(
    *, subject: str, name: str, email: str | None, roles: frozenset[str], id_token: str | None
) -> WebSession:
    return WebSession(
        subject=subject,
        name=name,
        email=email,
        roles=roles,
        csrf_seed=secrets.token_urlsafe(24),
        id_token=id_token,
    )


def encode_session(settings: Settings, session: WebSession) -> str:
    return _serializer(settings, "session").dumps(
        {
            "sub": session.subject,
            "name": session.name,
            "email": session.email,
            "roles": sorted(session.roles),
            "csrf": session.csrf_seed,
            "idt": session.id_token,
        }
    )


def read_session(settings: Settings, request: Request) -> WebSession | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(settings, "session").loads(
            raw, max_age=int(settings.session_hours * 3600)
        )
    except BadSignature:
        return None
    return WebSession(
        subject=str(data["sub"]),
        name=str(data["name"]),
        email=data.get("email"),
        roles=frozenset(data.get("roles") or ()),
        csrf_seed=str(data["csrf"]),
        id_token=data.get("idt"),
    )


def set_session_cookie(response: Response, settings: Settings, session: WebSession) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        encode_session(settings, session),
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
    key = hmac.new(settings.secret_key.encode(), b"vigie-dpo-pages-csrf-v1", hashlib.sha256)
    return hmac.new(key.digest(), session.csrf_seed.encode(), hashlib.sha256).hexdigest()


def csrf_valid(settings: Settings, session: WebSession, submitted: str | None) -> bool:
    if not submitted:
        return False
    return hmac.compare_digest(csrf_token(settings, session), submitted)


def set_login_state(response: Response, settings: Settings, state: dict[str, str]) -> None:
    """What the callback needs to finish the code flow (state, nonce, PKCE verifier).

    SameSite=Lax: the gateway's redirect back is a top-level GET, which carries it."""
    response.set_cookie(
        LOGIN_COOKIE,
        _serializer(settings, "login").dumps(state),
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
        data: dict[str, str] = _serializer(settings, "login").loads(raw, max_age=LOGIN_MINUTES * 60)
    except BadSignature:
        return None
    return data


def clear_login_state(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        LOGIN_COOKIE, httponly=True, samesite="lax", secure=settings.secure_cookies, path="/"
    )
