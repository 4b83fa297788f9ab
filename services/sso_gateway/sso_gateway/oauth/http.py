"""The HTTP edge of the OAuth endpoints: what Authlib reads of a request, how its answers
become responses, and what those answers are in the OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from sso_gateway.login.pages import SESSION_COOKIE
from sso_gateway.oauth.requests import Request as OAuthRequest
from sso_gateway.oauth.server import Provider
from sso_gateway.sessions.records import BrowserSession
from sso_gateway.sessions.service import sessions
from vigie_shared.kit.forms import read_form

# What the OAuth endpoints answer besides problem details, for the OpenAPI document.
OAUTH_ERROR_SCHEMA = {
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
JSON_SCHEMA = {"content": {"application/json": {"schema": {"type": "object"}}}}
HTML_SCHEMA = {"content": {"text/html": {"schema": {"type": "string"}}}}
OAUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Success", **JSON_SCHEMA},
    400: {"description": "RFC 6749 §5.2 error", **OAUTH_ERROR_SCHEMA},
    401: {"description": "Client authentication failed (RFC 6749 §5.2)", **OAUTH_ERROR_SCHEMA},
}
BEARER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Claims", **JSON_SCHEMA},
    # RFC 6750 §3: the error is in the WWW-Authenticate header; the body may be empty.
    400: {"description": "Invalid request (RFC 6750 §3.1)"},
    401: {"description": "Invalid or missing token (RFC 6750 §3.1)"},
    403: {"description": "Insufficient scope (RFC 6750 §3.1)"},
}
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A page", **HTML_SCHEMA},
    400: {"description": "An error page (never a redirect to an unverified URI)", **HTML_SCHEMA},
    403: {"description": "Refused (e.g. CSRF check failed)", **HTML_SCHEMA},
}


async def read_oauth_request(
    request: Request, provider: Provider, *, with_session: bool = False
) -> OAuthRequest:
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        form = await read_form(request)
    session = await browser_session(request, provider) if with_session else None
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


async def browser_session(request: Request, provider: Provider) -> BrowserSession | None:
    async with provider.pool.acquire() as conn:
        return await sessions.current(conn, provider.settings, request.cookies.get(SESSION_COOKIE))


def oauth_response(result: tuple[int, Any, list[tuple[str, str]]]) -> Response:
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


def bearer_error(status: int, error: str, description: str) -> Response:
    # RFC 6750 §3.
    return Response(
        status_code=status,
        headers={"WWW-Authenticate": f'Bearer error="{error}", error_description="{description}"'},
    )
