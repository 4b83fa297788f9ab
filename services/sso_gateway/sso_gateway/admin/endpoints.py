"""Administration over HTTP, for callers holding an access token with the ``admin`` role, issued
for the admin API (``admin.resource``)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from sso_gateway.admin.resource import admin_resource
from sso_gateway.backchannel.records import Undelivered
from sso_gateway.backchannel.service import backchannel
from sso_gateway.clients.schemas import ClientCreate, ClientCreated
from sso_gateway.clients.service import ClientAlreadyExists, client
from sso_gateway.oauth.deps import provider_of
from sso_gateway.oauth.repository import grant_repository
from sso_gateway.users.schemas import UserCreate, UserPublic
from sso_gateway.users.service import UserAlreadyExists, user
from vigie_shared.kit.http import Problem
from vigie_shared.kit.oidc import Principal, admit, bearer_token, unauthorized

router = APIRouter(prefix="/admin", tags=["admin"])


async def require_admin(request: Request) -> Principal:
    return await require_roles(request, "admin")


async def require_roles(request: Request, *roles: str) -> Principal:
    """The caller of a valid, unrevoked access token of ours, meant for the admin API (its
    audience, ``admin_resource``) and carrying one of ``roles``: the resource servers' one
    gate (``kit.oidc.admit``), with the keys and the revocation list at hand."""
    provider = provider_of(request)
    token = bearer_token(request)
    await provider.keyring.refresh(provider.pool)
    claims = provider.decode_access_token(token)
    if claims is None or int(claims.get("exp", 0)) <= time.time():
        raise unauthorized("The access token is invalid or expired.")
    async with provider.pool.acquire() as conn:
        if await grant_repository.access_token_revoked(conn, str(claims.get("jti", ""))):
            raise unauthorized("The access token was revoked.")
    return admit(request, claims, audience=admin_resource(provider.settings.issuer), roles=roles)


Admin = Annotated[Principal, Depends(require_admin)]


@router.post("/users", status_code=201, summary="Create an account")
async def add_user(data: UserCreate, request: Request, _: Admin) -> UserPublic:
    provider = provider_of(request)
    async with provider.pool.acquire() as conn:
        try:
            return await user.create(conn, data)
        except UserAlreadyExists as exc:
            raise Problem(409, "Conflict", "That e-mail or username is taken.") from exc


@router.post("/clients", status_code=201, summary="Register a platform (secret shown once)")
async def add_client(data: ClientCreate, request: Request, _: Admin) -> ClientCreated:
    provider = provider_of(request)
    async with provider.pool.acquire() as conn:
        try:
            return await client.add(conn, data, secret_key=provider.settings.secret_key)
        except ClientAlreadyExists as exc:
            raise Problem(409, "Conflict", f"Client {data.client_id} exists.") from exc


@router.get("/backchannel-logout/undelivered", summary="Back-channel logouts not delivered")
async def undelivered(request: Request, _: Admin) -> list[Undelivered]:
    provider = provider_of(request)
    async with provider.pool.acquire() as conn:
        return await backchannel.undelivered(conn)
