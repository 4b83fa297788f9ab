"""Manual suspension and restoration by the accounting office, and access states: admin routes,
for tokens issued for the admin API (``admin.resource``)."""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter

from sso_gateway.access.schemas import AccessDecisionCreate, AccessStatePublic
from sso_gateway.access.service import AccessService
from sso_gateway.deps import AccessDep, AccessReader, CurrentAccountant, PoolDep
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.oidc import Principal

router = APIRouter(prefix="/admin/access", tags=["access"])


async def _state(pool: asyncpg.Pool, access: AccessService, learner_id: str) -> AccessStatePublic:
    async with pool.acquire() as conn:
        return await access.state(conn, learner_id, utcnow())


@router.get("/{learner_id}", summary="A learner's access: suspended or not, why, what is due")
async def get_state(
    learner_id: str, pool: PoolDep, access: AccessDep, _: AccessReader
) -> AccessStatePublic:
    return await _state(pool, access, learner_id)


async def _decide(
    pool: asyncpg.Pool,
    access: AccessService,
    learner_id: str,
    data: AccessDecisionCreate,
    caller: Principal,
    *,
    suspend: bool,
) -> AccessStatePublic:
    async with pool.acquire() as conn:
        await access.decide_manually(
            conn,
            learner_id,
            suspend=suspend,
            reason=data.reason,
            actor_id=caller.subject,
            now=utcnow(),
        )
    return await _state(pool, access, learner_id)


@router.post("/{learner_id}/suspend", summary="Suspend by hand (role accounting), with a reason")
async def suspend(
    learner_id: str,
    data: AccessDecisionCreate,
    pool: PoolDep,
    access: AccessDep,
    caller: CurrentAccountant,
) -> AccessStatePublic:
    return await _decide(pool, access, learner_id, data, caller, suspend=True)


@router.post("/{learner_id}/restore", summary="Restore by hand (role accounting), with a reason")
async def restore(
    learner_id: str,
    data: AccessDecisionCreate,
    pool: PoolDep,
    access: AccessDep,
    caller: CurrentAccountant,
) -> AccessStatePublic:
    return await _decide(pool, access, learner_id, data, caller, suspend=False)
