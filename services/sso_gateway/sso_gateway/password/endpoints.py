"""The page where a signed-in person changes their password."""

from __future__ import annotations

import math
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from sso_gateway.config import Settings
from sso_gateway.deps import PoolDep, SettingsDep
from sso_gateway.login.pages import (
    SESSION_COOKIE,
    catalogues,
    csrf_seed,
    csrf_token,
    csrf_valid,
    languages,
    render,
    set_csrf_cookie,
)
from sso_gateway.login.texts import TEXTS, Lang, page_lang
from sso_gateway.oauth.http import PAGE_RESPONSES
from sso_gateway.password import texts
from sso_gateway.password.service import MIN_LENGTH, Refusal, Throttled, passwords
from sso_gateway.sessions.records import BrowserSession
from sso_gateway.sessions.service import sessions
from vigie_shared.kit.forms import first_values, read_form, same_origin
from vigie_shared.kit.i18n import language_name

router = APIRouter(tags=["login"])

PATH = "/password"


def _form(
    request: Request,
    settings: Settings,
    session: BrowserSession,
    *,
    lang: Lang,
    error: str | None,
    status: int,
) -> Response:
    seed, new = csrf_seed(request)
    other = languages.other(lang)
    response = render(
        "password.html",
        status,
        lang=lang,
        title=catalogues.gettext(lang, texts.TITLE),
        error=error,
        username=session.username or session.email,
        min_length=MIN_LENGTH,
        csrf_token=csrf_token(settings, seed),
        other_lang=other,
        other_lang_name=language_name(other),
        other_lang_query=urlencode({"lang": other}),
    )
    if new:
        set_csrf_cookie(response, settings, seed)
    return response


async def _session(request: Request, pool: PoolDep, settings: Settings) -> BrowserSession | None:
    async with pool.acquire() as conn:
        return await sessions.current(conn, settings, request.cookies.get(SESSION_COOKIE))


def _to_login() -> Response:
    return RedirectResponse(f"/login?{urlencode({'next': PATH})}", status_code=303)


@router.get(
    PATH, summary="The password change form (a signed-in person's own)", responses=PAGE_RESPONSES
)
async def password_form(
    request: Request, pool: PoolDep, settings: SettingsDep, lang: str | None = None
) -> Response:
    session = await _session(request, pool, settings)
    if session is None:
        return _to_login()
    return _form(request, settings, session, lang=page_lang(request, lang), error=None, status=200)


@router.post(PATH, summary="Submit the password change form", responses=PAGE_RESPONSES)
async def password_submit(request: Request, pool: PoolDep, settings: SettingsDep) -> Response:
    form = first_values(await read_form(request))
    lang = page_lang(request, form.get("lang"))
    session = await _session(request, pool, settings)
    if session is None:
        return _to_login()
    if not same_origin(request, settings.issuer) or not csrf_valid(
        settings, request, form.get("csrf_token", "")
    ):
        return _form(request, settings, session, lang=lang, error=TEXTS[lang]["csrf"], status=403)
    async with pool.acquire() as conn:
        outcome = await passwords.change(
            conn,
            settings,
            user_id=session.user_id,
            session_id=session.id,
            ip=request.client.host if request.client else None,
            current=form.get("current_password", ""),
            new=form.get("new_password", ""),
            confirmation=form.get("confirmation", ""),
        )
    if isinstance(outcome, Throttled):
        minutes = str(math.ceil(outcome.seconds / 60))
        error = catalogues.gettext(lang, texts.THROTTLED, minutes=minutes)
        response = _form(request, settings, session, lang=lang, error=error, status=429)
        # RFC 9110 §10.2.3: how long to wait, in seconds.
        response.headers["Retry-After"] = str(outcome.seconds)
        return response
    if isinstance(outcome, Refusal):
        error = catalogues.gettext(lang, texts.REFUSED[outcome], **texts.VALUES)
        return _form(request, settings, session, lang=lang, error=error, status=400)
    message = catalogues.gettext(lang, texts.CHANGED)
    if outcome.sessions_ended:
        others = catalogues.gettext(
            lang, texts.OTHERS_SIGNED_OUT, count=str(outcome.sessions_ended)
        )
        message = f"{message} {others}"
    return render(
        "message.html", lang=lang, title=catalogues.gettext(lang, texts.TITLE), message=message
    )
