"""The learner's pages: their own requests, a new request, withdrawing one and answering the
DPO's question about their identity."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from dpo_requests.deps import AppSettings, DbConn
from dpo_requests.requests.schemas import RequestSubmit, WithdrawalCreate
from dpo_requests.requests.service import rights_request
from dpo_requests.web import service as pages
from dpo_requests.web.page_edges import (
    Confirm,
    Posted,
    Session,
    as_learner,
    confirmed,
    corrections,
    done_message,
    invalid,
    render_detail,
    see_other,
)
from dpo_requests.web.rendering import render
from dpo_requests.web.session import confirmation_token, confirmation_valid
from vigie_shared.events import RequestType
from vigie_shared.kit.clock import utcnow

router = APIRouter(include_in_schema=False)


def request_fields(
    request_type: str, message: str, field: list[str] | None, value: list[str] | None
) -> dict[str, object]:
    """What the person asks, from a request form, as the request schemas read it: the
    learner's form and the DPO's for a request received by post or mail (``dpo_pages``) ask
    it alike. Corrections go only with a rectification (GDPR Art. 16)."""
    return {
        "request_type": request_type,
        "message": message.strip() or None,
        "corrections": corrections(field or [], value or [])
        if request_type == RequestType.RECTIFICATION
        else None,
    }


@router.get("/requests", response_class=HTMLResponse)
async def my_requests(request: Request, session: Session, conn: DbConn) -> Response:
    learner = as_learner(session)
    mine = await rights_request.page(
        conn,
        learner,
        limit=200,
        cursor=None,
        status=None,
        request_type=None,
        due_before=None,
        due_after=None,
        overdue=False,
    )
    return render(
        request, "learner/list.html", session=session, items=mine.items, done=done_message(request)
    )


@router.get("/requests/new", response_class=HTMLResponse)
async def new_request(request: Request, session: Session) -> Response:
    as_learner(session)
    return render(request, "learner/new.html", session=session)


@router.post("/requests")
async def submit_request(
    request: Request,
    session: Posted,
    conn: DbConn,
    settings: AppSettings,
    request_type: Annotated[str, Form()],
    message: Annotated[str, Form()] = "",
    field: Annotated[list[str] | None, Form()] = None,
    value: Annotated[list[str] | None, Form()] = None,
    confirmation: Annotated[str | None, Form()] = None,
) -> Response:
    learner = as_learner(session)
    try:
        data = RequestSubmit.model_validate(request_fields(request_type, message, field, value))
    except ValidationError as exc:
        raise invalid(exc) from exc
    if data.request_type == RequestType.ERASURE:
        # Erasure closes the account for good (GDPR Art. 17): it is filed only from the
        # confirmation page, whose token the first form cannot carry.
        what = _erasure_bound(data.message)
        if not confirmation_valid(settings, session, what, confirmation):
            return render(
                request,
                "learner/confirm_erasure.html",
                session=session,
                message=data.message or "",
                confirmation=confirmation_token(settings, session, what),
            )
    created = await rights_request.submit(conn, data, learner)
    return see_other(f"/pages/requests/{created.id}", "submitted")


def _erasure_bound(message: str | None) -> str:
    """What an erasure confirmation is bound to: the message shown on the confirmation page."""
    return "erasure\x00" + hashlib.sha256((message or "").encode()).hexdigest()


@router.get("/requests/{request_id}", response_class=HTMLResponse)
async def my_request(
    request: Request, request_id: str, session: Session, conn: DbConn, settings: AppSettings
) -> Response:
    learner = as_learner(session)
    detail = await pages.detail(conn, request_id, learner, settings)
    return render_detail(request, "learner/detail.html", session, detail, now=utcnow())


@router.post("/requests/{request_id}/withdraw")
async def withdraw(
    request_id: str,
    session: Posted,
    conn: DbConn,
    confirm: Confirm = None,
    reason: Annotated[str, Form()] = "",
) -> Response:
    learner = as_learner(session)
    confirmed(confirm)
    await rights_request.withdraw(
        conn, request_id, WithdrawalCreate(reason=reason.strip() or None), learner
    )
    return see_other(f"/pages/requests/{request_id}", "withdrawn")


@router.post("/requests/{request_id}/identity")
async def answer_identity(
    request_id: str,
    session: Posted,
    conn: DbConn,
    settings: AppSettings,
    answer: Annotated[str, Form(min_length=1, max_length=4_000)],
) -> Response:
    learner = as_learner(session)
    await pages.answer_identity(conn, request_id, answer.strip(), learner, settings)
    return see_other(f"/pages/requests/{request_id}", "answered")
