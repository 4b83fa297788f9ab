from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import AccessDeniedError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from sso_gateway.access.pages import suspended_page
from sso_gateway.deps import ProviderDep, provider_of
from sso_gateway.login.pages import (
    SESSION_COOKIE,
    clear_session_cookie,
    csrf_seed,
    csrf_token,
    csrf_valid,
    render,
    set_csrf_cookie,
)
from sso_gateway.login.texts import TEXTS, oauth_error_text, page_lang
from sso_gateway.oauth.grants.base import grant_user, refuse_if_suspended
from sso_gateway.oauth.grants.openid import user_info
from sso_gateway.oauth.models import SCOPES
from sso_gateway.oauth.repository import grant_repository
from sso_gateway.oauth.requests import Request as OAuthRequest
from sso_gateway.oauth.server import Provider
from sso_gateway.sessions.records import BrowserSession
from sso_gateway.sessions.service import sessions
from sso_gateway.signals.resource import SCOPES as SIGNAL_SCOPES
from sso_gateway.users.repository import user_repository
from vigie_shared.kit.forms import read_form, same_origin

router = APIRouter(tags=["oidc"])

# What the OAuth endpoints answer besides problem details, for the OpenAPI document.
_OAUTH_ERROR = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "error": {"type": "string"},
                    "error_description": {"type": "string"},
                },
                "required": ["error"],
            }
        }
    }
}
_JSON = {"content": {"application/json": {"schema": {"type": "object"}}}}
_HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}
OAUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Success", **_JSON},
    400: {"description": "RFC 6749 §5.2 error", **_OAUTH_ERROR},
    401: {"description": "Client authentication failed (RFC 6749 §5.2)", **_OAUTH_ERROR},
}
BEARER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Claims", **_JSON},
    # RFC 6750 §3: the error is in the WWW-Authenticate header; the body may be empty.
    400: {"description": "Invalid request (RFC 6750 §3.1)"},
    401: {"description": "Invalid or missing token (RFC 6750 §3.1)"},
    403: {"description": "Insufficient scope (RFC 6750 §3.1)"},
}
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A page", **_HTML},
    400: {"description": "An error page (never a redirect to an unverified URI)", **_HTML},
    403: {"description": "Refused (e.g. CSRF check failed)", **_HTML},
}


async def _oauth_request(
    request: Request, provider: Provider, *, with_session: bool = False
) -> OAuthRequest:
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        form = await read_form(request)
    session = await _browser_session(request, provider) if with_session else None
    return OAuthRequest(
        request.method,
        provider.settings.issuer.rstrip("/")
        + request.url.path
        + (f"?{request.url.query}" if request.url.query else ""),
        request.headers,
        list(request.query_params.multi_items()),
        form,
        browser_session=session,
    )


async def _browser_session(request: Request, provider: Provider) -> BrowserSession | None:
    async with provider.pool.acquire() as conn:
        return await sessions.current(conn, provider.settings, request.cookies.get(SESSION_COOKIE))


def _response(result: tuple[int, Any, list[tuple[str, str]]]) -> Response:
    status, body, headers = result
    if status in (301, 302, 303):
        location = dict(headers)["Location"]
        return RedirectResponse(location, status_code=302)
    content = body if isinstance(body, str) else json.dumps(body)
    response = Response(content, status_code=status, media_type="application/json")
    for name, value in headers:
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


@router.get(
    "/.well-known/openid-configuration",
    summary="OIDC Discovery 1.0 §3",
    response_class=Response,
    responses={200: {"description": "Provider metadata", **_JSON}},
)
async def discovery(request: Request) -> Response:
    # Fixed for the life of the process: encoded once, not at every relying party's start.
    body = _discovery_document(provider_of(request).settings.issuer.rstrip("/"))
    return Response(body, media_type="application/json")


@functools.cache
def _discovery_document(issuer: str) -> bytes:
    metadata = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "end_session_endpoint": f"{issuer}/logout",
        "scopes_supported": [*SCOPES, *SIGNAL_SCOPES],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "userinfo_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
            "sid",
            "name",
            "preferred_username",
            "email",
            "email_verified",
        ],
        "ui_locales_supported": ["fr", "en"],
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "authorization_response_iss_parameter_supported": False,
    }
    return json.dumps(metadata).encode()


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
        return _response(refusal.denied())
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
    oauth_request = await _oauth_request(request, provider, with_session=True)
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
            return _response(error())
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
    return _response(result)


@router.post("/token", summary="Token endpoint (RFC 6749 §3.2)", responses=OAUTH_RESPONSES)
async def token(request: Request) -> Response:
    provider = provider_of(request)
    oauth_request = await _oauth_request(request, provider)
    return _response(await provider.token_response(oauth_request))


@router.post("/introspect", summary="Token introspection (RFC 7662)", responses=OAUTH_RESPONSES)
async def introspect(request: Request, provider: ProviderDep) -> Response:
    oauth_request = await _oauth_request(request, provider)
    return _response(
        await provider.run(provider.create_endpoint_response, "introspection", oauth_request)
    )


@router.post("/revoke", summary="Token revocation (RFC 7009)", responses=OAUTH_RESPONSES)
async def revoke(request: Request, provider: ProviderDep) -> Response:
    oauth_request = await _oauth_request(request, provider)
    return _response(
        await provider.run(provider.create_endpoint_response, "revocation", oauth_request)
    )


def _bearer_error(status: int, error: str, description: str) -> Response:
    # RFC 6750 §3.
    return Response(
        status_code=status,
        headers={"WWW-Authenticate": f'Bearer error="{error}", error_description="{description}"'},
    )


@router.api_route(
    "/userinfo", methods=["GET", "POST"], summary="OIDC Core §5.3", responses=BEARER_RESPONSES
)
async def userinfo(request: Request, provider: ProviderDep) -> Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
    await provider.keyring.refresh(provider.pool)
    claims = provider.decode_access_token(token.strip())
    if claims is None or int(claims.get("exp", 0)) <= time.time():
        return _bearer_error(401, "invalid_token", "The access token is invalid or expired.")
    if "openid" not in str(claims.get("scope", "")).split() or "sid" not in claims:
        return _bearer_error(403, "insufficient_scope", "The openid scope is required.")
    async with provider.pool.acquire() as conn:
        if await grant_repository.access_token_revoked(conn, str(claims.get("jti", ""))):
            return _bearer_error(401, "invalid_token", "The access token was revoked.")
        account = await user_repository.get(conn, str(claims["sub"]))
    if account is None:
        return _bearer_error(401, "invalid_token", "The account no longer exists.")
    info = user_info(
        account.id, account.email, account.display_name, account.username, str(claims["scope"])
    )
    return JSONResponse(dict(info), headers={"Cache-Control": "no-store"})


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
    oauth_request = await _oauth_request(request, provider, with_session=True)
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
        response = _response(result)
    else:
        response = render(
            "message.html", lang=lang, title=texts["logout_title"], message=texts["logged_out"]
        )
    clear_session_cookie(response, settings)
    return response
