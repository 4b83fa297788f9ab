"""Manual suspension and restoration by the accounting office, and access states: admin routes,
for tokens issued for the admin API (``admin.resource``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from sso_gateway.access.schemas import AccessDecisionCreate, AccessStatePublic
from sso_gateway.access.service import AccessService
from sso_gateway.admin.endpoints import require_roles
from sso_gateway.oauth.deps import provider_of
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.oidc import Principal

router = APIRouter(prefix="/admin/access", tags=["access"])


def _roles(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """The caller's claims, checked as a dependency: FastAPI resolves it before it validates
    the body, so an anonymous caller gets 401, never a 422 that describes the schema."""

    async def caller(request: Request) -> Principal:
        return await require_roles(request, *roles)

    return caller


Reader = Annotated[Principal, Depends(_roles("accounting", "admin", "dpo"))]
Accountant = Annotated[Principal, Depends(_roles("accounting", "admin"))]


def _access(request: Request) -> AccessService:
    service: AccessService = request.app.state.access
    return service


async def _state(request: Request, learner_id: str) -> AccessStatePublic:
    async with provider_of(request).pool.acquire() as conn:
        state = await _access(request).state(conn, learner_id, utcnow())
    return AccessStatePublic.model_validate(state)


@router.get("/{learner_id}", summary="A learner's access: suspended or not, why, what is due")
async def get_state(learner_id: str, request: Request, _: Reader) -> AccessStatePublic:
    return await _state(request, learner_id)


async def _decide(
    request: Request,
    learner_id: str,
    data: AccessDecisionCreate,
    caller: Principal,
    *,
    suspend: bool,
) -> AccessStatePublic:
    async with provider_of(request).pool.acquire() as conn:
        await _access(request).decide_manually(
            conn,
            learner_id,
            suspend=suspend,
            reason=data.reason,
            actor_id=caller.subject,
            now=utcnow(),
        )
    return await _state(request, learner_id)


@router.post("/{learner_id}/suspend", summary="Suspend by hand (role accounting), with a reason")
async def suspend(
    learner_id: str, data: AccessDecisionCreate, request: Request, caller: Accountant
) -> AccessStatePublic:
    return await _decide(request, learner_id, data, caller, suspend=True)


@router.post("/{learner_id}/restore", summary="Restore by hand (role accounting), with a reason")
async def restore(
    learner_id: str, data: AccessDecisionCreate, request: Request, caller: Accountant
) -> AccessStatePublic:
    return await _decide(request, learner_id, data, caller, suspend=False)
