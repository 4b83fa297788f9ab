"""Administration over HTTP, for callers holding an access token with the ``admin`` role."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from sso_gateway.backchannel.service import backchannel
from sso_gateway.clients.schemas import ClientCreate, ClientCreated
from sso_gateway.clients.service import ClientAlreadyExists, client
from sso_gateway.oauth.deps import provider_of
from sso_gateway.oauth.repository import grant_repository
from sso_gateway.users.schemas import UserCreate, UserPublic
from sso_gateway.users.service import UserAlreadyExists, user
from vigie_shared.kit.http import Problem

router = APIRouter(prefix="/admin", tags=["admin"])


async def require_admin(request: Request) -> dict[str, Any]:
    return await require_roles(request, "admin")


async def require_roles(request: Request, *roles: str) -> dict[str, Any]:
    """Claims of a valid, unrevoked access token of ours carrying one of ``roles``."""
    provider = provider_of(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(
            401,
            "Unauthorized",
            "A bearer token is required.",
            headers={"WWW-Authenticate": "Bearer"},
            denial="missing_token",
        )
    await provider.keyring.refresh(provider.pool)
    claims = provider.decode_access_token(token.strip())
    if claims is None or int(claims.get("exp", 0)) <= time.time():
        raise Problem(
            401,
            "Unauthorized",
            "The access token is invalid or expired.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            denial="invalid_token",
        )
    async with provider.pool.acquire() as conn:
        if await grant_repository.access_token_revoked(conn, str(claims.get("jti", ""))):
            raise Problem(
                401,
                "Unauthorized",
                "The access token was revoked.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                denial="invalid_token",
            )
    # Who was refused goes with the refusal to the audit log (issue 8: every attempt audited).
    request.state.principal = SimpleNamespace(
        subject=claims.get("sub"), client_id=claims.get("client_id")
    )
    if not set(roles).intersection(claims.get("roles") or []):
        raise Problem(
            403,
            "Forbidden",
            f"One of the roles {', '.join(roles)} is required.",
            denial="missing_role",
        )
    return claims


Admin = Annotated[dict[str, Any], Depends(require_admin)]


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
async def undelivered(request: Request, _: Admin) -> list[dict[str, Any]]:
    provider = provider_of(request)
    async with provider.pool.acquire() as conn:
        return await backchannel.undelivered(conn)
