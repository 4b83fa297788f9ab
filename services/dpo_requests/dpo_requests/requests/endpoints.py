from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status

from dpo_requests.config import Settings
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
from vigie_shared.events import Actor, RequestType
from vigie_shared.kit.db import Conn
from vigie_shared.kit.oidc import Principal

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


@dataclass(frozen=True)
class ActOnRequest:
    """An action on one request by ``principal``, and the answer every action gives: the
    request as it now stands, as ``principal`` may see it (RFC 9110 §15.3.1: a 200 answer to a
    POST represents the results of the action)."""

    conn: Conn
    request_id: str
    principal: Principal
    settings: Settings

    @property
    def actor(self) -> Actor:
        return actor_of(self.principal)

    async def answer(self) -> RequestDetail:
        return await rights_request.detail(
            self.conn, self.request_id, self.principal, self.settings
        )


# Coroutines, though they do not wait: FastAPI runs a plain function dependency in a worker
# thread, a thread hop per request.
async def _dpo_act(
    request_id: str, conn: DbConn, dpo: DpoOfficer, settings: AppSettings
) -> ActOnRequest:
    return ActOnRequest(conn, request_id, dpo, settings)


async def _caller_act(
    request_id: str, conn: DbConn, caller: Caller, settings: AppSettings
) -> ActOnRequest:
    return ActOnRequest(conn, request_id, caller, settings)


DpoAct = Annotated[ActOnRequest, Depends(_dpo_act)]
CallerAct = Annotated[ActOnRequest, Depends(_caller_act)]


@api.post("/{request_id}/identity-request", summary="Ask for identity information (clock stops)")
async def ask_identity(data: IdentityInfoAsked, act: DpoAct) -> RequestDetail:
    await rights_request.ask_identity(act.conn, act.request_id, data, act.actor)
    return await act.answer()


@api.post("/{request_id}/identity-received", summary="Identity information arrived")
async def identity_received(act: DpoAct) -> RequestDetail:
    await rights_request.identity_received(act.conn, act.request_id, act.actor)
    return await act.answer()


@api.post("/{request_id}/verify", summary="Identity verified: fan out to the data systems")
async def verify_request(data: VerificationCreate, act: DpoAct) -> RequestDetail:
    await rights_request.verify(act.conn, act.request_id, data, act.actor, act.settings)
    return await act.answer()


@api.post("/{request_id}/extend", summary="Extend by two months (Art. 12(3)), once")
async def extend_request(data: ExtensionCreate, act: DpoAct) -> RequestDetail:
    await rights_request.extend(act.conn, act.request_id, data, act.actor)
    return await act.answer()


@api.post("/{request_id}/refuse", summary="Refuse, with reasons and the CNIL mention")
async def refuse_request(data: RefusalCreate, act: DpoAct) -> RequestDetail:
    await rights_request.refuse(act.conn, act.request_id, data, act.actor)
    return await act.answer()


@api.post("/{request_id}/complete", summary="Close a request, explaining a partial result")
async def complete_request(data: ClosingCreate, act: DpoAct) -> RequestDetail:
    await rights_request.close(act.conn, act.request_id, data, act.actor, act.settings)
    return await act.answer()


@api.post("/{request_id}/withdraw", summary="Withdraw a request (its author or the DPO)")
async def withdraw_request(data: WithdrawalCreate, act: CallerAct) -> RequestDetail:
    await rights_request.withdraw(act.conn, act.request_id, data, act.principal)
    return await act.answer()


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
