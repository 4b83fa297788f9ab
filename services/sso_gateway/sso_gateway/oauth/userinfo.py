"""The UserInfo endpoint (OIDC Core §5.3): the claims of the person an access token names.

A DPoP-bound token (RFC 9449 §7) comes under the ``DPoP`` scheme with a proof of its key for
this request and this token; one that is not bound, under ``Bearer`` as before."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from sso_gateway.deps import ProviderDep
from sso_gateway.oauth import dpop
from sso_gateway.oauth.grants.openid import user_info
from sso_gateway.oauth.http import BEARER_RESPONSES, bearer_error
from sso_gateway.oauth.repository import grant_repository
from sso_gateway.oauth.server import Provider
from sso_gateway.users.repository import user_repository
from vigie_shared.kit.dpop import InvalidProof, bound_key, challenge
from vigie_shared.kit.secrets import same

router = APIRouter(tags=["oidc"])


def _refused(scheme: str, status: int, error: str, description: str) -> Response:
    """RFC 6750 §3 under Bearer, RFC 9449 §7.1 under DPoP (with the algorithms accepted)."""
    if scheme != "dpop":
        return bearer_error(status, error, description)
    return Response(status_code=status, headers={"WWW-Authenticate": challenge(error, description)})


async def _binding_refused(
    request: Request, provider: Provider, scheme: str, token: str, claims: dict[str, Any]
) -> Response | None:
    """RFC 9449 §7: why a token may not be used as presented, None when it may."""
    jkt = bound_key(claims)
    if jkt is None:
        if scheme == "dpop":
            return _refused(scheme, 401, "invalid_token", "The token is not DPoP-bound.")
        return None
    if scheme != "dpop":
        # §7.2: a bound token sent as a bearer token is refused (a downgrade).
        return _refused("dpop", 401, "invalid_token", "A DPoP-bound token needs the DPoP scheme.")
    try:
        proof = await dpop.verify(
            provider.dpop_proofs,
            provider.settings,
            request.headers,
            method=request.method,
            url=provider.settings.issuer.rstrip("/") + request.url.path,
            access_token=token,
        )
        if proof is None:
            raise InvalidProof("A DPoP proof is required with this token.")
        if not same(proof.jkt, jkt):
            raise InvalidProof("The proof is signed by another key than the token's.")
    except InvalidProof as refused:
        return _refused(scheme, 401, refused.error, str(refused))
    return None


@router.api_route(
    "/userinfo", methods=["GET", "POST"], summary="OIDC Core §5.3", responses=BEARER_RESPONSES
)
async def userinfo(request: Request, provider: ProviderDep) -> Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    scheme, token = scheme.lower(), token.strip()
    if scheme not in ("bearer", "dpop") or not token:
        # RFC 9449 §7.1: both schemes are offered.
        return Response(status_code=401, headers={"WWW-Authenticate": f"Bearer, {challenge()}"})
    await provider.keyring.refresh(provider.pool)
    claims = provider.decode_access_token(token)
    if claims is None or int(claims.get("exp", 0)) <= time.time():
        return _refused(scheme, 401, "invalid_token", "The access token is invalid or expired.")
    refused = await _binding_refused(request, provider, scheme, token, claims)
    if refused is not None:
        return refused
    if "openid" not in str(claims.get("scope", "")).split() or "sid" not in claims:
        return _refused(scheme, 403, "insufficient_scope", "The openid scope is required.")
    async with provider.pool.acquire() as conn:
        if await grant_repository.access_token_revoked(conn, str(claims.get("jti", ""))):
            return _refused(scheme, 401, "invalid_token", "The access token was revoked.")
        account = await user_repository.get(conn, str(claims["sub"]))
    if account is None:
        return _refused(scheme, 401, "invalid_token", "The account no longer exists.")
    info = user_info(
        account.id, account.email, account.display_name, account.username, str(claims["scope"])
    )
    return JSONResponse(dict(info), headers={"Cache-Control": "no-store"})
