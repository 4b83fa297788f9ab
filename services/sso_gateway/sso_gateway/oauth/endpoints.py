from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri
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
from sso_gateway.oauth.grants.authorization_code import InvalidRequestUriError
from sso_gateway.oauth.grants.base import grant_user, refuse_if_suspended
from sso_gateway.oauth.http import (
    OAUTH_RESPONSES,
    PAGE_RESPONSES,
    oauth_response,
    read_oauth_request,
)
from sso_gateway.oauth.requests import Request as OAuthRequest
from sso_gateway.oauth.server import Provider
from sso_gateway.par.service import pushed_authorizations
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


async def _suspended_page(
    request: Request, provider: Provider, refusal: _Suspended, params: dict[str, str]
) -> Response:
    """The refusal page: a suspended learner is shown why, how to pay and that GDPR requests
    stay open, instead of being sent back at once; the page's way back to the platform is the
    RFC 6749 §4.1.2.1 error redirect (``access_denied``, description, state), so the platform
    is told."""
    if params.get("prompt") == "none":
        # OIDC Core §3.1.2.1: prompt=none must not display any page; the error goes back at once.
        return oauth_response(_to_client(provider, refusal.denied()))
    _, _, headers = _to_client(provider, refusal.denied())
    # The page's language switch adds ui_locales beside a request_uri: a choice of display,
    # not of the request, so it is read there too.
    lang = page_lang(
        request, ui_locales=request.query_params.get("ui_locales") or params.get("ui_locales")
    )
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
    summary="Authorization endpoint (RFC 6749 §3.1, OIDC Core §3.1.2, RFC 9126 §4)",
    responses=PAGE_RESPONSES,
)
async def authorize(request: Request, provider: ProviderDep) -> Response:
    oauth_request = await read_oauth_request(request, provider, with_session=True)
    pushed = "request_uri" in oauth_request.payload.data
    if pushed:
        # RFC 9126 §4: an unknown, used or expired request_uri, or another client's, is never
        # redirected on: nothing tells which redirect URI the client asked for.
        try:
            async with provider.pool.acquire() as conn:
                stored = await pushed_authorizations.resolve(conn, provider.settings, oauth_request)
        except OAuth2Error as error:
            return _error_page(request, error)
        oauth_request = pushed_authorizations.authorization_request(oauth_request, stored)
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

    def use_up() -> None:
        """A pushed request is used up by the response it yields (``consume``): of two
        concurrent uses, the second yields none."""
        if pushed and not provider.call(
            lambda conn: pushed_authorizations.consume(conn, provider.settings, oauth_request)
        ):
            raise InvalidRequestUriError("The request_uri is unknown, used or expired.")

    async def answered() -> None:
        """A pushed request is used up by an error sent back to the client, as by a code."""
        if pushed:
            async with provider.pool.acquire() as conn:
                await pushed_authorizations.consume(conn, provider.settings, oauth_request)

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
        use_up()
        result: tuple[int, Any, list[tuple[str, str]]] = provider.create_authorization_response(
            oauth_request, grant_user=end_user, grant=grant
        )
        return result

    try:
        result = await provider.run(decide)
    except OAuth2Error as error:
        if error.redirect_uri:
            # RFC 6749 §4.1.2.1: errors go back to a *verified* redirect URI ...
            await answered()
            return oauth_response(_to_client(provider, error()))
        # ... but an unknown client or an unregistered redirect URI is never redirected to.
        return _error_page(request, error)
    if isinstance(result, _Suspended):
        if params.get("prompt") == "none":
            # Sent back at once (``_suspended_page``): the authorization response.
            await answered()
        return await _suspended_page(request, provider, result, params)
    if result is None:
        return _to_login(request, oauth_request)
    return oauth_response(_to_client(provider, result))


def _to_login(request: Request, oauth_request: OAuthRequest) -> Response:
    """Authenticate first, then come back to /authorize (the ``next`` URL). A pushed request
    comes back by its client_id and request_uri alone (RFC 9126 §4); one that was not drops
    prompt=login and max_age, so that it is not a loop."""
    params = oauth_request.payload.data
    if "request_uri" in params:
        query = [("client_id", params["client_id"]), ("request_uri", params["request_uri"])]
    else:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "prompt"]
        if "max_age" in params:
            query = [(k, v) for k, v in query if k != "max_age"]
    next_url = "/authorize?" + urlencode(query)
    # The login page honours ui_locales (OIDC Core §3.1.2.1), else the browser's languages.
    login_query = {"next": next_url}
    if params.get("ui_locales"):
        login_query["lang"] = page_lang(request, ui_locales=params.get("ui_locales"))
    return RedirectResponse("/login?" + urlencode(login_query), 302)


def _to_client(
    provider: Provider, result: tuple[int, Any, list[tuple[str, str]]]
) -> tuple[int, Any, list[tuple[str, str]]]:
    """RFC 9207 §2: every authorization response sent back to the client, success or error,
    names the issuer (``iss``), so that a client talking to several servers knows which one
    answered (mix-up attacks, RFC 9700 §4.4). Authlib's ``IssuerParameter`` works on response
    objects this gateway does not use: the authorization edge adds it here, for every
    redirect to the client."""
    status, body, headers = result
    if status not in (301, 302, 303):
        return result
    issuer = provider.settings.issuer.rstrip("/")
    return (
        status,
        body,
        [
            (name, add_params_to_uri(value, [("iss", issuer)]) if name == "Location" else value)
            for name, value in headers
        ],
    )


@router.post("/token", summary="Token endpoint (RFC 6749 §3.2)", responses=OAUTH_RESPONSES)
async def token(request: Request) -> Response:
    provider = provider_of(request)
    oauth_request = await read_oauth_request(request, provider)
    return oauth_response(await provider.token_response(oauth_request))


@router.post("/introspect", summary="Token introspection (RFC 7662)", responses=OAUTH_RESPONSES)
async def introspect(request: Request, provider: ProviderDep) -> Response:
    oauth_request = await read_oauth_request(request, provider)
    return oauth_response(await provider.introspection_response(oauth_request))


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
