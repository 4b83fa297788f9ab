"""Manual suspension and restoration by the accounting office (issue 4), and access states."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from sso_gateway.access.schemas import AccessDecisionCreate, AccessStatePublic
from sso_gateway.access.service import AccessService
from sso_gateway.admin.endpoints import require_roles
from sso_gateway.oauth.deps import provider_of
from vigie_shared.kit.clock import utcnow

router = APIRouter(prefix="/admin/access", tags=["access"])


def _access(request: Request) -> AccessService:
    service: AccessService = request.app.state.access
    return service


async def _state(request: Request, learner_id: str) -> AccessStatePublic:
    async with provider_of(request).pool.acquire() as conn:
        state = await _access(request).state(conn, learner_id, utcnow())
    return AccessStatePublic.model_validate(state)


@router.get("/{learner_id}", summary="A learner's access: suspended or not, why, what is due")
async def get_state(learner_id: str, request: Request) -> AccessStatePublic:
    await require_roles(request, "accounting", "admin", "dpo")
    return await _state(request, learner_id)


async def _decide(
    request: Request, learner_id: str, data: AccessDecisionCreate, *, suspend: bool
) -> AccessStatePublic:
    claims: dict[str, Any] = await require_roles(request, "accounting", "admin")
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
    learner_id: str, data: AccessDecisionCreate, request: Request
) -> AccessStatePublic:
    return await _decide(request, learner_id, data, suspend=True)


@router.post("/{learner_id}/restore", summary="Restore by hand (role accounting), with a reason")
async def restore(
    learner_id: str, data: AccessDecisionCreate, request: Request
) -> AccessStatePublic:
    return await _decide(request, learner_id, data, suspend=False)
