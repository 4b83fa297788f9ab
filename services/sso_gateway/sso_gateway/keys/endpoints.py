from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from sso_gateway.deps import provider_of

router = APIRouter(tags=["keys"])

JWKS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The JWK Set",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"keys": {"type": "array", "items": {"type": "object"}}},
                    "required": ["keys"],
                }
            }
        },
    }
}


@router.get(
    "/jwks",
    summary="Public signing keys (RFC 7517 JWK Set)",
    response_class=Response,
    responses=JWKS_RESPONSES,
)
async def jwks(request: Request) -> Response:
    provider = provider_of(request)
    await provider.keyring.refresh(provider.pool)
    # Relying parties poll this on every unknown kid; the body is encoded once per key reload.
    return Response(provider.keyring.jwks_json(), media_type="application/json")
