"""Logging in and out of the pages: the OIDC login at the gateway, its callback opening a
server-side session, and the logout ending it at both ends."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dpo_requests.deps import AppSettings, DbConn
from dpo_requests.web import i18n
from dpo_requests.web.oidc import LoginFailed
from dpo_requests.web.page_edges import Posted, relying_party, safe_next
from dpo_requests.web.rendering import PageError, render
from dpo_requests.web.session import (
    clear_login_state,
    clear_session_cookie,
    end_session,
    open_session,
    read_login_state,
    read_session,
    set_login_state,
    set_session_cookie,
)
from vigie_shared.kit.i18n import N_

router = APIRouter(include_in_schema=False)
logger = logging.getLogger(__name__)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, conn: DbConn) -> Response:
    session = await read_session(conn, request.app.state.settings, request)
    if session is None:
        return render(request, "welcome.html")
    return RedirectResponse("/pages/dpo" if session.is_dpo else "/pages/requests", 303)


@router.get("/login")
async def login(request: Request, next: str | None = None) -> Response:
    rp = relying_party(request)
    if not rp.configured:
        raise PageError(
            503,
            N_("Login unavailable"),
            N_("The pages' OIDC client is not configured (%(setting)s)."),
            setting="VIGIE_OIDC_CLIENT_SECRET",
        )
    try:
        started = await rp.start(next_path=safe_next(next), lang=i18n.negotiate(request))
    except LoginFailed as exc:
        logger.warning("login could not start: %s", exc)
        raise PageError(
            503, N_("Login unavailable"), N_("The sign-in service cannot be reached. Try later.")
        ) from exc
    response = RedirectResponse(started.url, status_code=303)
    set_login_state(response, request.app.state.settings, started.state)
    return response


@router.get("/auth/callback")
async def callback(request: Request, settings: AppSettings, conn: DbConn) -> Response:
    pending = read_login_state(settings, request)
    error = request.query_params.get("error")
    if pending is None or error or request.query_params.get("state") != pending.get("state"):
        raise PageError(
            400,
            N_("Login interrupted"),
            N_("The login did not complete or expired. Start again from the home page."),
        )
    try:
        identity = await relying_party(request).finish(
            callback_url=str(request.url), pending=pending
        )
    except LoginFailed as exc:
        logger.warning("login refused at the callback: %s", exc)
        raise PageError(
            400, N_("Login refused"), N_("The sign-in service's answer could not be verified.")
        ) from exc
    response = RedirectResponse(safe_next(pending.get("next")), status_code=303)
    clear_login_state(response, settings)
    token, _ = await open_session(
        conn,
        settings,
        subject=identity.subject,
        name=identity.name,
        email=identity.email,
        roles=identity.roles,
        id_token=identity.id_token,
        sid=identity.sid,
    )
    set_session_cookie(response, settings, token)
    return response


@router.post("/logout")
async def logout(
    request: Request, session: Posted, settings: AppSettings, conn: DbConn
) -> Response:
    await end_session(conn, settings, request)
    home_url = settings.public_url.rstrip("/") + "/pages/"
    target = await relying_party(request).logout_url(
        id_token=session.id_token, post_logout=home_url
    )
    response = RedirectResponse(target or "/pages/", status_code=303)
    clear_session_cookie(response, settings)
    return response
