from __future__ import annotations

from fastapi import APIRouter, Request, status

from dpo_requests.deps import AppSettings, DbConn
from dpo_requests.intake.schemas import CodeConfirm, SubmissionCreate, SubmissionPublic
from dpo_requests.intake.service import intake
from dpo_requests.requests.schemas import RequestPublic

router = APIRouter(prefix="/public/requests", tags=["intake without an account"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a request without an account; a one-time code is e-mailed",
)
async def submit_without_account(
    request: Request, data: SubmissionCreate, conn: DbConn, settings: AppSettings
) -> SubmissionPublic:
    client_ip = request.client.host if request.client else None
    return await intake.submit(conn, data, settings, client_ip=client_ip)


@router.post(
    "/{submission_id}/confirm",
    status_code=status.HTTP_201_CREATED,
    summary="Confirm the e-mailed code: the request is filed",
)
async def confirm_code(
    submission_id: str, data: CodeConfirm, conn: DbConn, settings: AppSettings
) -> RequestPublic:
    return await intake.confirm(conn, submission_id, data, settings)
