"""The DPO's pages: the dashboard, the work queue, a request with its actions (one handler
per action), tasks completed by hand, the register and a request received by post or mail."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from dpo_requests.config import Settings
from dpo_requests.dashboard.charts import status_chart, volume_chart
from dpo_requests.dashboard.stats import load_dashboard
from dpo_requests.deadlines import PARIS, paris_date
from dpo_requests.deps import AppSettings, DbConn
from dpo_requests.register.download import csv_download
from dpo_requests.register.export import RegisterPublic, register_export
from dpo_requests.requests.repository import QueueSort
from dpo_requests.requests.schemas import (
    ClosingCreate,
    ExtensionCreate,
    IdentityInfoAsked,
    RefusalCreate,
    RequestCreate,
    VerificationCreate,
)
from dpo_requests.requests.service import actor_of, rights_request
from dpo_requests.web import i18n
from dpo_requests.web import service as pages
from dpo_requests.web.learner_pages import request_fields
from dpo_requests.web.page_edges import (
    Confirm,
    Posted,
    Session,
    as_dpo,
    confirmed,
    invalid,
    render_detail,
    see_other,
)
from dpo_requests.web.rendering import PageError, render
from vigie_shared.events import Actor, RequestType
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn
from vigie_shared.kit.i18n import N_

router = APIRouter(include_in_schema=False)
TYPES = frozenset(t.value for t in RequestType)


@router.get("/dpo", response_class=HTMLResponse)
async def dashboard(request: Request, session: Session, conn: DbConn) -> Response:
    as_dpo(session)
    lang = i18n.negotiate(request)
    stats = await load_dashboard(conn, today=paris_date(utcnow()))
    return render(
        request,
        "dpo/dashboard.html",
        session=session,
        stats=stats,
        volume_svg=volume_chart(stats, lang=lang),
        status_svg=status_chart(stats, lang=lang),
    )


# "open" (the work still owed) by default; "all" for the whole register.
StatusFilter = Literal[
    "open",
    "all",
    "received",
    "identity_pending",
    "in_progress",
    "completed",
    "refused",
    "withdrawn",
]


@router.get("/dpo/queue", response_class=HTMLResponse)
async def work_queue(
    request: Request,
    session: Session,
    conn: DbConn,
    status: StatusFilter = "open",
    request_type: Annotated[str, Query(alias="type")] = "",
    overdue: bool = False,
    sort: QueueSort = "due",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    as_dpo(session)
    found = await pages.queue(
        conn,
        status=None if status in ("open", "all") else status,
        open_only=status == "open",
        request_type=RequestType(request_type) if request_type in TYPES else None,
        overdue=overdue,
        sort=sort,
        page=page,
    )
    filters = {
        "status": status,
        "type": request_type if request_type in TYPES else "",
        "overdue": "true" if overdue else "",
        "sort": sort,
    }
    return render(
        request,
        "dpo/queue.html",
        session=session,
        found=found,
        filters=filters,
        query={k: v for k, v in filters.items() if v},
        today=paris_date(utcnow()),
    )


@router.get("/dpo/requests/{request_id}", response_class=HTMLResponse)
async def dpo_request(
    request: Request, request_id: str, session: Session, conn: DbConn, settings: AppSettings
) -> Response:
    dpo = as_dpo(session)
    detail = await pages.detail(conn, request_id, dpo, settings)
    names = {detail.subject_id: detail.requester} if detail.subject_id else {}
    return render_detail(request, "dpo/detail.html", session, detail, actor_names=names)


FormFields = dict[str, str]
ActionHandler = Callable[[Conn, str, FormFields, Actor, Settings], Awaitable[object]]


async def _ask_identity(
    conn: Conn, request_id: str, form: FormFields, actor: Actor, _settings: Settings
) -> object:
    return await rights_request.ask_identity(
        conn, request_id, IdentityInfoAsked(what=form.get("what", "")), actor
    )


async def _identity_received(
    conn: Conn, request_id: str, _form: FormFields, actor: Actor, _settings: Settings
) -> object:
    return await rights_request.identity_received(conn, request_id, actor)


async def _verify(
    conn: Conn, request_id: str, form: FormFields, actor: Actor, settings: Settings
) -> object:
    data = VerificationCreate.model_validate(
        {
            "method": form.get("method", ""),
            "subject_id": form.get("subject_id") or None,
            "note": form.get("note") or None,
        }
    )
    return await rights_request.verify(conn, request_id, data, actor, settings)


async def _extend(
    conn: Conn, request_id: str, form: FormFields, actor: Actor, _settings: Settings
) -> object:
    return await rights_request.extend(
        conn, request_id, ExtensionCreate(reason=form.get("reason", "")), actor
    )


async def _refuse(
    conn: Conn, request_id: str, form: FormFields, actor: Actor, _settings: Settings
) -> object:
    data = RefusalCreate.model_validate(
        {
            "ground": form.get("ground", ""),
            "reason": form.get("reason", ""),
            "justification": form.get("justification") or None,
        }
    )
    return await rights_request.refuse(conn, request_id, data, actor)


async def _close(
    conn: Conn, request_id: str, form: FormFields, actor: Actor, settings: Settings
) -> object:
    return await rights_request.close(
        conn, request_id, ClosingCreate(note=form.get("note") or None), actor, settings
    )


Action = Literal["identity-request", "identity-received", "verify", "extend", "refuse", "close"]
ACTIONS: dict[str, ActionHandler] = {
    "identity-request": _ask_identity,
    "identity-received": _identity_received,
    "verify": _verify,
    "extend": _extend,
    "refuse": _refuse,
    "close": _close,
}


@router.post("/dpo/requests/{request_id}/{action}")
async def dpo_action(
    request: Request,
    request_id: str,
    action: Action,
    session: Posted,
    conn: DbConn,
    settings: AppSettings,
    confirm: Confirm = None,
) -> Response:
    """One confirmed action; the service records it on the timeline and emits its event."""
    actor = actor_of(as_dpo(session))
    confirmed(confirm)
    form = {k: v.strip() for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        await ACTIONS[action](conn, request_id, form, actor, settings)
    except ValidationError as exc:
        raise invalid(exc) from exc
    return see_other(f"/pages/dpo/requests/{request_id}", "recorded")


@router.post("/dpo/tasks/{task_id}/complete")
async def complete_task(
    task_id: str,
    session: Posted,
    conn: DbConn,
    settings: AppSettings,
    request_id: Annotated[str, Form()],
    note: Annotated[str, Form(min_length=1, max_length=4_000)],
    data: Annotated[str, Form(max_length=100_000)] = "",
    confirm: Confirm = None,
) -> Response:
    actor = actor_of(as_dpo(session))
    confirmed(confirm)
    found: dict[str, Any] | None = None
    if data.strip():
        try:
            parsed = json.loads(data)
        except ValueError as exc:
            raise PageError(
                422, N_("Unreadable data"), N_("The data found must be a JSON object.")
            ) from exc
        if not isinstance(parsed, dict):
            raise PageError(422, N_("Unreadable data"), N_("The data found must be a JSON object."))
        found = parsed
    await rights_request.complete_task_by_hand(
        conn, task_id, note=note.strip(), data=found, actor=actor, settings=settings
    )
    return see_other(f"/pages/dpo/requests/{_safe_id(request_id)}", "recorded")


def _safe_id(value: str) -> str:
    return "".join(c for c in value if c.isalnum() or c in "-_")


@router.get("/dpo/register.{fmt}")
async def register_download(
    request: Request, fmt: Literal["csv", "json"], session: Session, conn: DbConn
) -> Response:
    """The register of requests (the export ``/register`` serves), for the DPO's browser session
    rather than a bearer token."""
    as_dpo(session)
    now = utcnow()
    today = paris_date(now)
    lang = i18n.negotiate(request)
    if fmt == "csv":
        return await csv_download(request.app.state.runtime.pool, today=today, lang=lang)
    rows = await register_export.rows(conn, today=today, lang=lang)
    body = RegisterPublic(generated_at=now, count=len(rows), items=rows)
    return Response(
        body.model_dump_json(indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="registre-{today}.json"'},
    )


@router.get("/dpo/register-request", response_class=HTMLResponse)
async def register_form(request: Request, session: Session) -> Response:
    as_dpo(session)
    return render(
        request, "dpo/register.html", session=session, today=paris_date(utcnow()).isoformat()
    )


@router.post("/dpo/register-request")
async def register_request(
    session: Posted,
    conn: DbConn,
    request_type: Annotated[str, Form()],
    requester: Annotated[str, Form()],
    channel: Annotated[str, Form()],
    received_on: Annotated[date, Form()],
    subject_id: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
    field: Annotated[list[str] | None, Form()] = None,
    value: Annotated[list[str] | None, Form()] = None,
    confirm: Confirm = None,
) -> Response:
    dpo = as_dpo(session)
    confirmed(confirm)
    try:
        data = RequestCreate.model_validate(
            {
                **request_fields(request_type, message, field, value),
                "requester": requester.strip(),
                "subject_id": subject_id.strip() or None,
                "channel": channel,
                # The receipt day starts the period (Art. 12(3)); its hour does not matter.
                "received_at": datetime.combine(received_on, time(9), tzinfo=PARIS),
            }
        )
    except ValidationError as exc:
        raise invalid(exc) from exc
    created = await rights_request.register(conn, data, actor=actor_of(dpo))
    return see_other(f"/pages/dpo/requests/{created.id}", "registered")
