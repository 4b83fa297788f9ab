"""Manual suspension and restoration by the accounting office (issue 4), and access states."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from sso_gateway.access.schemas import AccessDecisionCreate, AccessStatePublic
from sso_gateway.access.service import AccessService
from sso_gateway.admin.endpoints import require_roles
from sso_gateway.oauth.deps import provider_of
from vigie_shared.kit.clock import utcnow

router = APIRouter(prefix="/admin/access", tags=["access"])


def _roles(*roles: str) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    """The caller's claims, checked as a dependency: FastAPI resolves it before it validates
    the body, so an anonymous caller gets 401, never a 422 that describes the schema."""

    async def claims(request: Request) -> dict[str, Any]:
        return await require_roles(request, *roles)

    return claims


Reader = Annotated[dict[str, Any], Depends(_roles("accounting", "admin", "dpo"))]
Accountant = Annotated[dict[str, Any], Depends(_roles("accounting", "admin"))]


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
    claims: dict[str, Any],
    *,
    suspend: bool,
) -> AccessStatePublic:
    async with provider_of(request).pool.acquire() as conn:
        await _access(request).decide_manually(
            conn,
            learner_id,
            suspend=suspend,
            reason=data.reason,
            actor_id=str(claims["sub"]),
            now=utcnow(),
        )
    return await _state(request, learner_id)


@router.post("/{learner_id}/suspend", summary="Suspend by hand (role accounting), with a reason")
async def suspend(
    learner_id: str, data: AccessDecisionCreate, request: Request, claims: Accountant
) -> AccessStatePublic:
    return await _decide(request, learner_id, data, claims, suspend=True)


@router.post("/{learner_id}/restore", summary="Restore by hand (role accounting), with a reason")
async def restore(
    learner_id: str, data: AccessDecisionCreate, request: Request, claims: Accountant
) -> AccessStatePublic:
    return await _decide(request, learner_id, data, claims, suspend=False)
