"""Administration over HTTP, for callers holding an access token with the ``admin`` role, issued
for the admin API (``admin.resource``)."""

from __future__ import annotations

from fastapi import APIRouter

from sso_gateway.backchannel.records import Undelivered
from sso_gateway.backchannel.service import backchannel
from sso_gateway.clients.schemas import ClientCreate, ClientCreated
from sso_gateway.clients.service import ClientAlreadyExists, client
from sso_gateway.deps import CurrentAdmin, PoolDep, SettingsDep
from sso_gateway.sessions.schemas import SignedOut
from sso_gateway.sessions.service import sessions
from sso_gateway.users.schemas import UserCreate, UserPublic
from sso_gateway.users.service import UserAlreadyExists, user
from vigie_shared.kit.http import Problem

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post("/users", status_code=201, summary="Create an account")
async def add_user(data: UserCreate, pool: PoolDep, _: CurrentAdmin) -> UserPublic:
    async with pool.acquire() as conn:
        try:
            return await user.create(conn, data)
        except UserAlreadyExists as exc:
            raise Problem(409, "Conflict", "That e-mail or username is taken.") from exc


@router.post("/clients", status_code=201, summary="Register a platform (secret shown once)")
async def add_client(
    data: ClientCreate, pool: PoolDep, settings: SettingsDep, _: CurrentAdmin
) -> ClientCreated:
    async with pool.acquire() as conn:
        try:
            return await client.add(conn, data, secret_key=settings.secret_key)
        except ClientAlreadyExists as exc:
            raise Problem(409, "Conflict", f"Client {data.client_id} exists.") from exc


@router.post(
    "/users/{identifier}/sign-out",
    summary="End every session of an account (its platforms told by back-channel logout)",
)
async def sign_out(
    identifier: str, pool: PoolDep, settings: SettingsDep, _: CurrentAdmin
) -> SignedOut:
    async with pool.acquire() as conn:
        done = await sessions.sign_out(conn, settings, identifier)
    if done is None:
        raise Problem(404, "Not Found", "No account has that id, username or e-mail.")
    return done


@router.get("/backchannel-logout/undelivered", summary="Back-channel logouts not delivered")
async def undelivered(pool: PoolDep, _: CurrentAdmin) -> list[Undelivered]:
    async with pool.acquire() as conn:
        return await backchannel.undelivered(conn)
