"""The pushed authorization request endpoint (RFC 9126 §2)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from sso_gateway.deps import ProviderDep
from sso_gateway.oauth.http import (
    JSON_SCHEMA,
    OAUTH_ERROR_SCHEMA,
    oauth_response,
    read_oauth_request,
)
from sso_gateway.par.service import pushed_authorizations

router = APIRouter(tags=["oidc"])

PAR_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"description": "The request_uri and its lifetime (RFC 9126 §2.2)", **JSON_SCHEMA},
    400: {"description": "RFC 9126 §2.3 error", **OAUTH_ERROR_SCHEMA},
    401: {"description": "Client authentication failed (RFC 6749 §5.2)", **OAUTH_ERROR_SCHEMA},
}


@router.post(
    "/par",
    summary="Pushed authorization request (RFC 9126 §2)",
    status_code=201,
    response_class=Response,
    responses=PAR_RESPONSES,
)
async def pushed_authorization_request(request: Request, provider: ProviderDep) -> Response:
    oauth_request = await read_oauth_request(request, provider)
    try:
        pushed = await pushed_authorizations.check(provider, oauth_request)
    except OAuth2Error as error:
        return oauth_response(error())
    async with provider.pool.acquire() as conn, conn.transaction():
        request_uri = await pushed_authorizations.store(conn, provider.settings, pushed)
    return JSONResponse(
        {"request_uri": request_uri, "expires_in": provider.settings.par_request_uri_ttl},
        status_code=201,
        # RFC 6749 §5.1, as for a token: the request_uri must not be cached.
        headers={"Cache-Control": "no-store"},
    )
