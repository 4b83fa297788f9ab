"""The UserInfo endpoint (OIDC Core §5.3): the claims of the person an access token names."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from sso_gateway.deps import ProviderDep
from sso_gateway.oauth.grants.openid import user_info
from sso_gateway.oauth.http import BEARER_RESPONSES, bearer_error
from sso_gateway.oauth.repository import grant_repository
from sso_gateway.users.repository import user_repository

router = APIRouter(tags=["oidc"])


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
        return bearer_error(401, "invalid_token", "The access token is invalid or expired.")
    if "openid" not in str(claims.get("scope", "")).split() or "sid" not in claims:
        return bearer_error(403, "insufficient_scope", "The openid scope is required.")
    async with provider.pool.acquire() as conn:
        if await grant_repository.access_token_revoked(conn, str(claims.get("jti", ""))):
            return bearer_error(401, "invalid_token", "The access token was revoked.")
        account = await user_repository.get(conn, str(claims["sub"]))
    if account is None:
        return bearer_error(401, "invalid_token", "The account no longer exists.")
    info = user_info(
        account.id, account.email, account.display_name, account.username, str(claims["scope"])
    )
    return JSONResponse(dict(info), headers={"Cache-Control": "no-store"})
