from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import AccessDeniedError
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from sso_gateway.access.pages import suspended_page
from sso_gateway.deps import ProviderDep, provider_of
from sso_gateway.login.pages import (
    clear_session_cookie,
    csrf_seed,
    csrf_token,
    csrf_valid,
    render,
    set_csrf_cookie,
)
from sso_gateway.login.texts import TEXTS, oauth_error_text, page_lang
from sso_gateway.oauth.grants.base import grant_user, refuse_if_suspended
from sso_gateway.oauth.http import (
    OAUTH_RESPONSES,
    PAGE_RESPONSES,
    oauth_response,
    read_oauth_request,
)
from sso_gateway.oauth.server import Provider
from sso_gateway.sessions.records import BrowserSession
from vigie_shared.kit.forms import same_origin

router = APIRouter(tags=["oidc"])


def _error_page(request: Request, error: OAuth2Error, ui_locales: str | None = None) -> Response:
    lang = page_lang(request, ui_locales=ui_locales or request.query_params.get("ui_locales"))
    return render(
        "message.html",
        400,
        lang=lang,
        title=TEXTS[lang]["error_title"],
        message=oauth_error_text(lang, error.error, error.description),
        error_code=error.error,
        error=True,
    )


@dataclass(frozen=True)
class _Suspended:
    learner_id: str
    platform: str
    denied: AccessDeniedError


async def _suspended_page(request: Request, provider: Provider, refusal: _Suspended) -> Response:
    """The refusal page: a suspended learner is shown why, how to pay and that GDPR requests
    stay open, instead of being sent back at once; the page's way back to the platform is the
    RFC 6749 §4.1.2.1 error redirect (``access_denied``, description, state), so the platform
    is told."""
    if request.query_params.get("prompt") == "none":
        # OIDC Core §3.1.2.1: prompt=none must not display any page; the error goes back at once.
        return oauth_response(refusal.denied())
    _, _, headers = refusal.denied()
    lang = page_lang(request, ui_locales=request.query_params.get("ui_locales"))
    async with provider.pool.acquire() as conn:
        return await suspended_page.render(
            conn,
            learner_id=refusal.learner_id,
            lang=lang,
            platform=refusal.platform,
            return_url=dict(headers)["Location"],
            query=list(request.query_params.multi_items()),
        )


@router.get(
    "/authorize",
    summary="Authorization endpoint (RFC 6749 §3.1, OIDC Core §3.1.2)",
    responses=PAGE_RESPONSES,
)
async def authorize(request: Request, provider: ProviderDep) -> Response:
    oauth_request = await read_oauth_request(request, provider, with_session=True)
    session = oauth_request.browser_session
    params = oauth_request.payload.data
    end_user = grant_user(session) if session is not None else None
    max_age = params.get("max_age")
    # OIDC Core §3.1.2.1: an authentication older than max_age must be redone.
    if (
        end_user is not None
        and max_age
        and max_age.isdigit()
        and time.time() - end_user.auth_time > int(max_age)
    ):
        end_user = None

    def decide() -> tuple[int, Any, list[tuple[str, str]]] | _Suspended | None:
        grant = provider.get_consent_grant(oauth_request, end_user=end_user)
        if end_user is None or grant.prompt == "login":
            return None
        try:
            refuse_if_suspended(provider, end_user.id, grant.client)
        except AccessDeniedError as denied:
            # The platform's redirect URI was verified by get_consent_grant (§4.1.2.1).
            denied.redirect_uri = grant.redirect_uri
            denied.state = oauth_request.payload.state
            return _Suspended(end_user.id, grant.client.name, denied)
        result: tuple[int, Any, list[tuple[str, str]]] = provider.create_authorization_response(
            oauth_request, grant_user=end_user, grant=grant
        )
        return result

    try:
        result = await provider.run(decide)
    except OAuth2Error as error:
        if error.redirect_uri:
            # RFC 6749 §4.1.2.1: errors go back to a *verified* redirect URI ...
            return oauth_response(error())
        # ... but an unknown client or an unregistered redirect URI is never redirected to.
        return _error_page(request, error)
    if isinstance(result, _Suspended):
        return await _suspended_page(request, provider, result)
    if result is None:
        # Authenticate first; the continuation drops prompt=login so that it is not a loop.
        query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("prompt",)]
        if "max_age" in params:
            query = [(k, v) for k, v in query if k != "max_age"]
        next_url = "/authorize?" + urlencode(query)
        # The login page honours ui_locales (OIDC Core §3.1.2.1), else the browser's languages.
        login_query = {"next": next_url}
        if params.get("ui_locales"):
            login_query["lang"] = page_lang(request, ui_locales=params.get("ui_locales"))
        return RedirectResponse("/login?" + urlencode(login_query), 302)
    return oauth_response(result)


@router.post("/token", summary="Token endpoint (RFC 6749 §3.2)", responses=OAUTH_RESPONSES)
async def token(request: Request) -> Response:
    provider = provider_of(request)
    oauth_request = await read_oauth_request(request, provider)
    return oauth_response(await provider.token_response(oauth_request))


@router.post("/introspect", summary="Token introspection (RFC 7662)", responses=OAUTH_RESPONSES)
async def introspect(request: Request, provider: ProviderDep) -> Response:
    oauth_request = await read_oauth_request(request, provider)
    return oauth_response(
        await provider.run(provider.create_endpoint_response, "introspection", oauth_request)
    )


@router.post("/revoke", summary="Token revocation (RFC 7009)", responses=OAUTH_RESPONSES)
async def revoke(request: Request, provider: ProviderDep) -> Response:
    oauth_request = await read_oauth_request(request, provider)
    return oauth_response(
        await provider.run(provider.create_endpoint_response, "revocation", oauth_request)
    )


async def _ends_without_asking(
    provider: Provider, hint: str | None, session: BrowserSession | None
) -> bool:
    """RP-Initiated Logout 1.0 §2: the OP SHOULD ask the End-User to confirm, and may skip it
    when the ``id_token_hint`` shows the request comes from the relying party of this very
    session: its ``sid`` (OIDC Core §2, Front/Back-Channel Logout) is the browser's session.
    A hint that is not one of our ID tokens goes on to the end-session endpoint, which refuses
    it without redirecting (§4)."""
    if not hint:
        return False
    await provider.keyring.refresh(provider.pool)
    claims = provider.id_token_hint_claims(hint)
    if claims is None:
        return True
    return session is not None and claims.get("sid") == session.id


@router.api_route(
    "/logout",
    methods=["GET", "POST"],
    summary="RP-Initiated Logout 1.0 §2",
    responses=PAGE_RESPONSES,
)
async def logout(request: Request, provider: ProviderDep) -> Response:
    settings = provider.settings
    oauth_request = await read_oauth_request(request, provider, with_session=True)
    data = oauth_request.payload.data
    lang = page_lang(request, ui_locales=data.get("ui_locales"))
    texts = TEXTS[lang]
    if request.method == "POST" and not same_origin(request, settings.issuer):
        # A confirmation posted from another site's page (OWASP CSRF Prevention Cheat Sheet,
        # "Verifying Origin With Standard Headers"), refused even with a valid CSRF token.
        return render(
            "message.html", 403, lang=lang, title=texts["logout_title"], message=texts["csrf"]
        )
    confirmed = request.method == "POST" and csrf_valid(
        settings, request, data.get("csrf_token", "")
    )
    if not confirmed and not await _ends_without_asking(
        provider, data.get("id_token_hint"), oauth_request.browser_session
    ):
        # §2: the OP asks the End-User whether to log out (a logout CSRF is then harmless).
        seed, new = csrf_seed(request)
        fields = [(k, v) for k, v in data.items() if k != "csrf_token"]
        fields.append(("csrf_token", csrf_token(settings, seed)))
        page = render(
            "message.html",
            lang=lang,
            title=texts["logout_title"],
            message=texts["confirm_logout"],
            form_action="/logout",
            form_fields=fields,
            button=texts["logout_button"],
        )
        if new:
            set_csrf_cookie(page, settings, seed)
        return page

    def end() -> tuple[int, Any, list[tuple[str, str]]] | None:
        validated = provider.validate_endpoint_request("end_session", oauth_request)
        result: tuple[int, Any, list[tuple[str, str]]] | None = provider.create_endpoint_response(
            "end_session", validated
        )
        return result

    try:
        result = await provider.run(end)
    except OAuth2Error as error:
        # §4: on an invalid request the OP must not redirect.
        return _error_page(request, error, data.get("ui_locales"))
    response: Response
    if result is not None and result[0] == 302:
        response = oauth_response(result)
    else:
        response = render(
            "message.html", lang=lang, title=texts["logout_title"], message=texts["logged_out"]
        )
    clear_session_cookie(response, settings)
    return response
