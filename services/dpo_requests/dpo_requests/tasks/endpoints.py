from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from dpo_requests.deps import DbConn, DpoOfficer
from dpo_requests.tasks.schemas import DataSystemCreate, DataSystemPublic, TaskPublic
from dpo_requests.tasks.service import task_service

router = APIRouter(tags=["tasks and data systems"])

SystemName = Annotated[str, Path(pattern="^[a-z0-9][a-z0-9_.-]{0,62}$")]


@router.get("/data-systems", summary="Systems holding personal data, and what they answer")
async def list_data_systems(conn: DbConn, _dpo: DpoOfficer) -> list[DataSystemPublic]:
    return [DataSystemPublic.model_validate(r) for r in await task_service.systems(conn)]


@router.put("/data-systems/{name}", summary="Declare a data system (e.g. paper archives)")
async def declare_data_system(
    name: SystemName, data: DataSystemCreate, conn: DbConn, _dpo: DpoOfficer
) -> DataSystemPublic:
    row = await task_service.register_system(
        conn,
        name=name,
        actions=data.actions,
        description=data.description,
        automated=data.automated,
    )
    return DataSystemPublic.model_validate(row)


@router.get("/tasks", summary="Tasks, e.g. the manual ones waiting for the DPO")
async def list_tasks(
    conn: DbConn,
    _dpo: DpoOfficer,
    manual: bool | None = None,
    status: Literal["pending", "completed", "failed", "timed_out"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[TaskPublic]:
    rows = await task_service.search(conn, manual=manual, status=status, limit=limit)
    return [TaskPublic.model_validate(r) for r in rows]
