from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from sso_gateway.oauth.deps import provider_of

router = APIRouter(tags=["keys"])


@router.get("/jwks", summary="Public signing keys (RFC 7517 JWK Set)")
async def jwks(request: Request) -> dict[str, Any]:
    provider = provider_of(request)
    await provider.keyring.refresh(provider.pool)
    return provider.keyring.jwks()
