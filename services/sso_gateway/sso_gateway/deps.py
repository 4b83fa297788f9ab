"""FastAPI dependencies shared by the features' endpoints (full-stack template style aliases).

The hot paths served through ``kit.http.serve_plainly`` (token endpoint, JWKS, discovery) take
the raw request on purpose, no dependency resolution on the way: they use :func:`provider_of`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request

from sso_gateway.access.service import AccessService
from sso_gateway.admin.resource import admin_resource
from sso_gateway.config import Settings
from sso_gateway.oauth.repository import grant_repository
from sso_gateway.oauth.server import Provider
from vigie_shared.kit.oidc import Principal, admit, bearer_token, unauthorized


def provider_of(request: Request) -> Provider:
    provider: Provider = request.app.state.provider
    return provider


# The dependencies are coroutines, though they do not wait: FastAPI runs a plain function
# dependency in a worker thread (``run_in_threadpool``), a thread hop on every request of the
# endpoints that take one (UserInfo and introspection among them).


async def get_provider(request: Request) -> Provider:
    return provider_of(request)


async def get_settings(request: Request) -> Settings:
    return provider_of(request).settings


async def get_pool(request: Request) -> asyncpg.Pool:
    return provider_of(request).pool


async def get_access(request: Request) -> AccessService:
    service: AccessService = request.app.state.access
    return service


ProviderDep = Annotated[Provider, Depends(get_provider)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
AccessDep = Annotated[AccessService, Depends(get_access)]


async def token_claims(request: Request, provider: Provider) -> dict[str, Any]:
    """The claims of the caller's valid, unrevoked access token of ours (401 otherwise), with
    the keys and the revocation list at hand; its audience is the caller's to check."""
    token = bearer_token(request)
    await provider.keyring.refresh(provider.pool)
    claims = provider.decode_access_token(token)
    if claims is None or int(claims.get("exp", 0)) <= time.time():
        raise unauthorized("The access token is invalid or expired.")
    async with provider.pool.acquire() as conn:
        if await grant_repository.access_token_revoked(conn, str(claims.get("jti", ""))):
            raise unauthorized("The access token was revoked.")
    return claims


async def require_roles(request: Request, provider: Provider, *roles: str) -> Principal:
    """The caller of a valid, unrevoked access token of ours, meant for the admin API (its
    audience, ``admin_resource``) and carrying one of ``roles``: the resource servers' one
    gate (``kit.oidc.admit``)."""
    claims = await token_claims(request, provider)
    return admit(request, claims, audience=admin_resource(provider.settings.issuer), roles=roles)


def caller_with(*roles: str) -> Callable[[Request, Provider], Awaitable[Principal]]:
    """The admin API's caller, checked as a dependency: FastAPI resolves it before it
    validates the body, so an anonymous caller gets 401, never a 422 that describes the
    schema."""

    async def caller(request: Request, provider: ProviderDep) -> Principal:
        return await require_roles(request, provider, *roles)

    return caller


CurrentAdmin = Annotated[Principal, Depends(caller_with("admin"))]
AccessReader = Annotated[Principal, Depends(caller_with("accounting", "admin", "dpo"))]
"""Who may read a learner's access state: the accounting office, admins and the DPO."""
CurrentAccountant = Annotated[Principal, Depends(caller_with("accounting", "admin"))]
"""Who may suspend or restore by hand: the accounting office (and admins)."""
