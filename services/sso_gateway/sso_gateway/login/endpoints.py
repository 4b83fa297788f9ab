from __future__ import annotations

import math
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from sso_gateway.config import Settings
from sso_gateway.deps import PoolDep, SettingsDep
from sso_gateway.login.pages import (
    SESSION_COOKIE,
    csrf_seed,
    csrf_token,
    csrf_valid,
    languages,
    render,
    set_csrf_cookie,
    set_device_cookie,
    set_session_cookie,
)
from sso_gateway.login.service import login_service
from sso_gateway.login.texts import TEXTS, Lang, page_lang
from sso_gateway.login.throttle import DEVICE_COOKIE
from sso_gateway.metrics import login_failed
from sso_gateway.oauth.http import PAGE_RESPONSES
from sso_gateway.sessions.service import sessions
from vigie_shared.kit.forms import first_values, read_form, same_origin
from vigie_shared.kit.i18n import language_name

router = APIRouter(tags=["login"])


def safe_next(value: str | None) -> str:
    """Only our own authorization endpoint or password page may follow a login (no open
    redirect)."""
    if value == "/password" or (
        value and value.startswith("/authorize?") and not value.startswith("//")
    ):
        return value
    return "/"


def _client_id(next_url: str) -> str | None:
    values = parse_qs(urlsplit(next_url).query).get("client_id")
    return values[0] if values else None


def _form(
    request: Request,
    settings: Settings,
    *,
    next_url: str,
    lang: Lang,
    error: str | None,
    identifier: str,
    status: int,
) -> Response:
    seed, new = csrf_seed(request)
    other = languages.other(lang)
    response = render(
        "login.html",
        status,
        lang=lang,
        title=TEXTS[lang]["title"],
        error=error,
        identifier=identifier,
        next=next_url,
        csrf_token=csrf_token(settings, seed),
        other_lang=other,
        other_lang_name=language_name(other),
        other_lang_query=urlencode({"next": next_url, "lang": other}),
    )
    if new:
        set_csrf_cookie(response, settings, seed)
    return response


@router.get(
    "/",
    summary="Where a login lands without a platform to go back to",
    responses=PAGE_RESPONSES,
)
async def home(
    request: Request, pool: PoolDep, settings: SettingsDep, lang: str | None = None
) -> Response:
    async with pool.acquire() as conn:
        session = await sessions.current(conn, settings, request.cookies.get(SESSION_COOKIE))
    chosen = page_lang(request, lang)
    texts = TEXTS[chosen]
    if session is None:
        return RedirectResponse("/login", status_code=303)
    return render(
        "message.html",
        lang=chosen,
        title=texts["title"],
        message=texts["signed_in"] % {"name": session.display_name},
    )


@router.get("/login", summary="The login form", responses=PAGE_RESPONSES)
async def login_form(
    request: Request, settings: SettingsDep, next: str | None = None, lang: str | None = None
) -> Response:
    return _form(
        request,
        settings,
        next_url=safe_next(next),
        lang=page_lang(request, lang),
        error=None,
        identifier="",
        status=200,
    )


@router.post("/login", summary="Submit the login form", responses=PAGE_RESPONSES)
async def login_submit(request: Request, pool: PoolDep, settings: SettingsDep) -> Response:
    form = first_values(await read_form(request))
    lang = page_lang(request, form.get("lang"))
    next_url = safe_next(form.get("next"))
    identifier = form.get("identifier", "")
    texts = TEXTS[lang]
    if not same_origin(request, settings.issuer) or not csrf_valid(
        settings, request, form.get("csrf_token", "")
    ):
        login_failed("csrf")
        return _form(
            request,
            settings,
            next_url=next_url,
            lang=lang,
            error=texts["csrf"],
            identifier="",
            status=403,
        )
    ip = request.client.host if request.client else None
    async with pool.acquire() as conn:
        result = await login_service.login(
            conn,
            settings,
            identifier=identifier,
            password=form.get("password", ""),
            ip=ip,
            client_id=_client_id(next_url),
            device_cookie=request.cookies.get(DEVICE_COOKIE),
        )
    if result.throttled_seconds is not None:
        login_failed("throttled")
        response = _form(
            request,
            settings,
            next_url=next_url,
            lang=lang,
            error=texts["throttled"] % {"minutes": math.ceil(result.throttled_seconds / 60)},
            identifier=identifier,
            status=429,
        )
        # RFC 9110 §10.2.3: how long to wait, in seconds.
        response.headers["Retry-After"] = str(result.throttled_seconds)
        return response
    if not result.ok or result.session_token is None:
        login_failed("invalid_credentials")
        return _form(
            request,
            settings,
            next_url=next_url,
            lang=lang,
            error=texts["bad_credentials"],
            identifier=identifier,
            status=200,
        )
    redirect = RedirectResponse(next_url, status_code=303)
    set_session_cookie(redirect, settings, result.session_token)
    if result.device_cookie is not None:
        set_device_cookie(redirect, settings, result.device_cookie)
    return redirect
