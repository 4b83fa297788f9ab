from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from dpo_requests.deps import AppSettings, Caller, DbConn, DpoOfficer, Learner
from dpo_requests.requests.schemas import (
    ClosingCreate,
    ExtensionCreate,
    IdentityInfoAsked,
    RefusalCreate,
    RequestCreate,
    RequestDetail,
    RequestPage,
    RequestPublic,
    RequestSubmit,
    VerificationCreate,
    WithdrawalCreate,
)
from dpo_requests.requests.service import actor_of, rights_request
from dpo_requests.tasks.schemas import ManualCompletion, TaskPublic
from vigie_shared.events import RequestType

api = APIRouter(prefix="/requests", tags=["requests"])
# Completing a task by hand settles its request, so it is the requests feature's edge.
tasks_api = APIRouter(tags=["tasks and data systems"])

Status = Literal["received", "identity_pending", "in_progress", "completed", "refused", "withdrawn"]


@api.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Submit one's own request (authenticated learner)",
    responses={409: {"description": "An open request of the same type exists"}},
)
async def submit_request(data: RequestSubmit, conn: DbConn, learner: Learner) -> RequestPublic:
    return await rights_request.submit(conn, data, learner)


@api.post(
    "/registered",
    status_code=status.HTTP_201_CREATED,
    summary="Register a request received by post or e-mail, with its receipt date (DPO)",
)
async def register_request(data: RequestCreate, conn: DbConn, dpo: DpoOfficer) -> RequestPublic:
    return await rights_request.register(conn, data, actor=actor_of(dpo))


@api.get("", summary="Requests, newest first (a learner sees only their own)")
async def list_requests(
    conn: DbConn,
    caller: Caller,
    status: Status | None = None,
    request_type: Annotated[RequestType | None, Query(alias="type")] = None,
    due_before: date | None = None,
    due_after: date | None = None,
    overdue: bool = False,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RequestPage:
    return await rights_request.page(
        conn,
        caller,
        limit=limit,
        cursor=cursor,
        status=status,
        request_type=request_type,
        due_before=due_before,
        due_after=due_after,
        overdue=overdue,
    )


@api.get("/{request_id}", summary="A request with its deadline, tasks, result and timeline")
async def get_request(
    request_id: str, conn: DbConn, caller: Caller, settings: AppSettings
) -> RequestDetail:
    return await rights_request.detail(conn, request_id, caller, settings)


@api.post("/{request_id}/identity-request", summary="Ask for identity information (clock stops)")
async def ask_identity(
    request_id: str, data: IdentityInfoAsked, conn: DbConn, dpo: DpoOfficer, settings: AppSettings
) -> RequestDetail:
    await rights_request.ask_identity(conn, request_id, data, actor_of(dpo))
    return await rights_request.detail(conn, request_id, dpo, settings)


@api.post("/{request_id}/identity-received", summary="Identity information arrived")
async def identity_received(
    request_id: str, conn: DbConn, dpo: DpoOfficer, settings: AppSettings
) -> RequestDetail:
    await rights_request.identity_received(conn, request_id, actor_of(dpo))
    return await rights_request.detail(conn, request_id, dpo, settings)


@api.post("/{request_id}/verify", summary="Identity verified: fan out to the data systems")
async def verify_request(
    request_id: str,
    data: VerificationCreate,
    conn: DbConn,
    dpo: DpoOfficer,
    settings: AppSettings,
) -> RequestDetail:
    await rights_request.verify(conn, request_id, data, actor_of(dpo), settings)
    return await rights_request.detail(conn, request_id, dpo, settings)


@api.post("/{request_id}/extend", summary="Extend by two months (Art. 12(3)), once")
async def extend_request(
    request_id: str, data: ExtensionCreate, conn: DbConn, dpo: DpoOfficer, settings: AppSettings
) -> RequestDetail:
    await rights_request.extend(conn, request_id, data, actor_of(dpo))
    return await rights_request.detail(conn, request_id, dpo, settings)


@api.post("/{request_id}/refuse", summary="Refuse, with reasons and the CNIL mention")
async def refuse_request(
    request_id: str, data: RefusalCreate, conn: DbConn, dpo: DpoOfficer, settings: AppSettings
) -> RequestDetail:
    await rights_request.refuse(conn, request_id, data, actor_of(dpo))
    return await rights_request.detail(conn, request_id, dpo, settings)


@api.post("/{request_id}/complete", summary="Close a request, explaining a partial result")
async def complete_request(
    request_id: str, data: ClosingCreate, conn: DbConn, dpo: DpoOfficer, settings: AppSettings
) -> RequestDetail:
    await rights_request.close(conn, request_id, data, actor_of(dpo), settings)
    return await rights_request.detail(conn, request_id, dpo, settings)


@api.post("/{request_id}/withdraw", summary="Withdraw a request (its author or the DPO)")
async def withdraw_request(
    request_id: str,
    data: WithdrawalCreate,
    conn: DbConn,
    caller: Caller,
    settings: AppSettings,
) -> RequestDetail:
    await rights_request.withdraw(conn, request_id, data, caller)
    return await rights_request.detail(conn, request_id, caller, settings)


@tasks_api.post("/tasks/{task_id}/complete", summary="Complete a task by hand, with a note")
async def complete_task(
    task_id: str, data: ManualCompletion, conn: DbConn, dpo: DpoOfficer, settings: AppSettings
) -> TaskPublic:
    row = await rights_request.complete_task_by_hand(
        conn, task_id, note=data.note, data=data.data, actor=actor_of(dpo), settings=settings
    )
    return TaskPublic.model_validate(row)


router = APIRouter()
router.include_router(api)
router.include_router(tasks_api)
