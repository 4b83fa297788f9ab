"""The pages: thin edges that check who is logged in, call the requests, tasks and dashboard
services, and render. Every form posts without JavaScript and carries a CSRF token; every
change answers with a redirect (POST/redirect/GET), so reloading never repeats an action."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from dpo_requests.config import Settings
from dpo_requests.dashboard.charts import status_chart, volume_chart
from dpo_requests.dashboard.stats import load_dashboard
from dpo_requests.deadlines import PARIS, paris_date
from dpo_requests.deps import AppSettings, DbConn
from dpo_requests.register.export import RegisterPublic, register_export, to_csv
from dpo_requests.requests.schemas import (
    ClosingCreate,
    ExtensionCreate,
    IdentityInfoAsked,
    RefusalCreate,
    RequestCreate,
    RequestSubmit,
    VerificationCreate,
    WithdrawalCreate,
)
from dpo_requests.requests.service import actor_of, rights_request
from dpo_requests.web import i18n
from dpo_requests.web import service as pages
from dpo_requests.web.oidc import LoginFailed, RelyingParty
from dpo_requests.web.rendering import LoginRequired, PageError, render
from dpo_requests.web.session import (
    WebSession,
    clear_login_state,
    clear_session_cookie,
    csrf_valid,
    end_session,
    open_session,
    read_login_state,
    read_session,
    set_login_state,
    set_session_cookie,
)
from vigie_shared.events import RequestType
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.forms import same_origin
from vigie_shared.kit.oidc import Principal

router = APIRouter(prefix="/pages", include_in_schema=False)
TYPES = frozenset(t.value for t in RequestType)


def _forbidden() -> PageError:
    return PageError(
        403,
        ("Accès refusé", "Access denied"),
        (
            "Cette page est réservée au délégué à la protection des données.",
            "This page is for the DPO.",
        ),
    )


def _not_a_learner() -> PageError:
    return PageError(
        403,
        ("Accès refusé", "Access denied"),
        ("Ces pages sont celles des apprenants.", "These pages are the learners'."),
    )


# Messages after an action, by key: nothing the visitor types is ever echoed from the URL.
DONE = {
    "submitted": ("Votre demande est enregistrée.", "Your request is recorded."),
    "withdrawn": ("La demande est retirée.", "The request is withdrawn."),
    "answered": ("Votre réponse est transmise ; le délai repart.", "Your answer is sent."),
    "recorded": ("Action enregistrée.", "Action recorded."),
    "registered": ("Demande enregistrée avec sa date de réception.", "Request registered."),
}


def _relying_party(request: Request) -> RelyingParty:
    rp: RelyingParty = request.app.state.relying_party
    return rp


async def _session(request: Request, conn: DbConn) -> WebSession:
    session = await read_session(conn, request.app.state.settings, request)
    if session is None:
        raise LoginRequired(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
    request.state.web_session = session
    return session


Session = Annotated[WebSession, Depends(_session)]


async def _posted(
    request: Request, session: Annotated[WebSession, Depends(_session)]
) -> WebSession:
    """The session of a form post from our own pages whose CSRF token is right (else a 403
    page)."""
    form = await request.form()
    submitted = form.get("csrf")
    settings: Settings = request.app.state.settings
    if not same_origin(request, settings.public_url) or not csrf_valid(
        settings, session, submitted if isinstance(submitted, str) else None
    ):
        raise PageError(
            403,
            ("Formulaire expiré", "Form expired"),
            (
                "Le jeton de sécurité du formulaire manque ou ne correspond pas. Rechargez la "
                "page et recommencez.",
                "The form's security token is missing or wrong. Reload the page and try again.",
            ),
        )
    return session


Posted = Annotated[WebSession, Depends(_posted)]
Confirm = Annotated[str | None, Form()]


def _learner(session: WebSession) -> Principal:
    # Learner pages see with a learner's eyes only, even for someone who is also the DPO.
    if "learner" not in session.roles:
        raise _not_a_learner()
    return Principal(
        subject=session.subject,
        roles=frozenset({"learner"}),
        claims=session.principal.claims,
    )


def _dpo(session: WebSession) -> Principal:
    if not session.is_dpo:
        raise _forbidden()
    return session.principal


def _see_other(path: str, done: str | None = None) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}" if done else path, status_code=303)


def _invalid(exc: ValidationError) -> PageError:
    messages = "; ".join(str(e.get("msg", "")).removeprefix("Value error, ") for e in exc.errors())
    return PageError(422, ("Saisie incomplète ou invalide", "Invalid input"), (messages, messages))


def _confirmed(confirm: str | None) -> None:
    if confirm != "yes":
        raise PageError(
            422,
            ("Confirmation manquante", "Not confirmed"),
            (
                "Cochez la case de confirmation pour effectuer cette action.",
                "Tick the confirmation box to carry out this action.",
            ),
        )


def _done(request: Request) -> tuple[str, str] | None:
    return DONE.get(request.query_params.get("done", ""))


def _safe_next(value: str | None) -> str:
    # Only a path of this site: an open redirect would lend our name to phishing.
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/pages/"
    parts = urlsplit(value)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# ------------------------------------------------------------------ login


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, conn: DbConn) -> Response:
    session = await read_session(conn, request.app.state.settings, request)
    if session is None:
        return render(request, "welcome.html")
    return RedirectResponse("/pages/dpo" if session.is_dpo else "/pages/requests", 303)


@router.get("/login")
async def login(request: Request, next: str | None = None) -> Response:
    rp = _relying_party(request)
    if not rp.configured:
        raise PageError(
            503,
            ("Connexion indisponible", "Login unavailable"),
            (
                "Le client OIDC des pages n'est pas configuré (VIGIE_OIDC_CLIENT_SECRET).",
                "The pages' OIDC client is not configured (VIGIE_OIDC_CLIENT_SECRET).",
            ),
        )
    try:
        started = await rp.start(next_path=_safe_next(next), lang=i18n.negotiate(request))
    except LoginFailed as exc:
        raise PageError(
            503, ("Connexion indisponible", "Login unavailable"), (str(exc), str(exc))
        ) from exc
    response = RedirectResponse(started.url, status_code=303)
    set_login_state(response, request.app.state.settings, started.state)
    return response


@router.get("/auth/callback")
async def callback(request: Request, settings: AppSettings, conn: DbConn) -> Response:
    pending = read_login_state(settings, request)
    error = request.query_params.get("error")
    if pending is None or error or request.query_params.get("state") != pending.get("state"):
        raise PageError(
            400,
            ("Connexion interrompue", "Login interrupted"),
            (
                "La connexion n'a pas abouti ou a expiré. Recommencez depuis l'accueil.",
                "The login did not complete or expired. Start again from the home page.",
            ),
        )
    try:
        identity = await _relying_party(request).finish(
            callback_url=str(request.url), pending=pending
        )
    except LoginFailed as exc:
        raise PageError(400, ("Connexion refusée", "Login refused"), (str(exc), str(exc))) from exc
    response = RedirectResponse(_safe_next(pending.get("next")), status_code=303)
    clear_login_state(response, settings)
    token, _ = await open_session(
        conn,
        settings,
        subject=identity.subject,
        name=identity.name,
        email=identity.email,
        roles=identity.roles,
        id_token=identity.id_token,
        sid=identity.sid,
    )
    set_session_cookie(response, settings, token)
    return response


@router.post("/logout")
async def logout(
    request: Request, session: Posted, settings: AppSettings, conn: DbConn
) -> Response:
    await end_session(conn, settings, request)
    home_url = settings.public_url.rstrip("/") + "/pages/"
    target = await _relying_party(request).logout_url(
        id_token=session.id_token, post_logout=home_url
    )
    response = RedirectResponse(target or "/pages/", status_code=303)
    clear_session_cookie(response, settings)
    return response


# ------------------------------------------------------------------ learners


@router.get("/requests", response_class=HTMLResponse)
async def my_requests(request: Request, session: Session, conn: DbConn) -> Response:
    learner = _learner(session)
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
        request, "learner/list.html", session=session, items=mine.items, done=_done(request)
    )


@router.get("/requests/new", response_class=HTMLResponse)
async def new_request(request: Request, session: Session) -> Response:
    _learner(session)
    return render(request, "learner/new.html", session=session)


def _corrections(fields: list[str], values: list[str]) -> dict[str, str] | None:
    pairs = {f: v.strip() for f, v in zip(fields, values, strict=False) if f and v.strip()}
    return pairs or None


@router.post("/requests")
async def submit_request(
    session: Posted,
    conn: DbConn,
    request_type: Annotated[str, Form()],
    message: Annotated[str, Form()] = "",
    field: Annotated[list[str] | None, Form()] = None,
    value: Annotated[list[str] | None, Form()] = None,
) -> Response:
    learner = _learner(session)
    try:
        data = RequestSubmit.model_validate(
            {
                "request_type": request_type,
                "message": message.strip() or None,
                "corrections": _corrections(field or [], value or [])
                if request_type == RequestType.RECTIFICATION
                else None,
            }
        )
    except ValidationError as exc:
        raise _invalid(exc) from exc
    created = await rights_request.submit(conn, data, learner)
    return _see_other(f"/pages/requests/{created.id}", "submitted")


@router.get("/requests/{request_id}", response_class=HTMLResponse)
async def my_request(
    request: Request, request_id: str, session: Session, conn: DbConn, settings: AppSettings
) -> Response:
    learner = _learner(session)
    detail = await rights_request.detail(conn, request_id, learner, settings)
    return render(
        request,
        "learner/detail.html",
        session=session,
        r=detail,
        question=pages.identity_question(detail),
        now=utcnow(),
        done=_done(request),
    )


@router.post("/requests/{request_id}/withdraw")
async def withdraw(
    request_id: str,
    session: Posted,
    conn: DbConn,
    confirm: Confirm = None,
    reason: Annotated[str, Form()] = "",
) -> Response:
    learner = _learner(session)
    _confirmed(confirm)
    await rights_request.withdraw(
        conn, request_id, WithdrawalCreate(reason=reason.strip() or None), learner
    )
    return _see_other(f"/pages/requests/{request_id}", "withdrawn")


@router.post("/requests/{request_id}/identity")
async def answer_identity(
    request_id: str,
    session: Posted,
    conn: DbConn,
    settings: AppSettings,
    answer: Annotated[str, Form(min_length=1, max_length=4_000)],
) -> Response:
    learner = _learner(session)
    await pages.answer_identity(conn, request_id, answer.strip(), learner, settings)
    return _see_other(f"/pages/requests/{request_id}", "answered")


# ------------------------------------------------------------------ the DPO


@router.get("/dpo", response_class=HTMLResponse)
async def dashboard(request: Request, session: Session, conn: DbConn) -> Response:
    _dpo(session)
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
    sort: pages.Sort = "due",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    dpo = _dpo(session)
    found = await pages.queue(
        conn,
        dpo,
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
    dpo = _dpo(session)
    detail = await rights_request.detail(conn, request_id, dpo, settings)
    return render(
        request,
        "dpo/detail.html",
        session=session,
        r=detail,
        question=pages.identity_question(detail),
        done=_done(request),
    )


Action = Literal["identity-request", "identity-received", "verify", "extend", "refuse", "close"]


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
    actor = actor_of(_dpo(session))
    _confirmed(confirm)
    form = {k: v.strip() for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        if action == "identity-request":
            await rights_request.ask_identity(
                conn, request_id, IdentityInfoAsked(what=form.get("what", "")), actor
            )
        elif action == "identity-received":
            await rights_request.identity_received(conn, request_id, actor)
        elif action == "verify":
            await rights_request.verify(
                conn,
                request_id,
                VerificationCreate.model_validate(
                    {
                        "method": form.get("method", ""),
                        "subject_id": form.get("subject_id") or None,
                        "note": form.get("note") or None,
                    }
                ),
                actor,
                settings,
            )
        elif action == "extend":
            await rights_request.extend(
                conn, request_id, ExtensionCreate(reason=form.get("reason", "")), actor
            )
        elif action == "refuse":
            await rights_request.refuse(
                conn,
                request_id,
                RefusalCreate.model_validate(
                    {
                        "ground": form.get("ground", ""),
                        "reason": form.get("reason", ""),
                        "justification": form.get("justification") or None,
                    }
                ),
                actor,
            )
        else:
            await rights_request.close(
                conn, request_id, ClosingCreate(note=form.get("note") or None), actor, settings
            )
    except ValidationError as exc:
        raise _invalid(exc) from exc
    return _see_other(f"/pages/dpo/requests/{request_id}", "recorded")


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
    actor = actor_of(_dpo(session))
    _confirmed(confirm)
    found: dict[str, Any] | None = None
    if data.strip():
        try:
            parsed = json.loads(data)
        except ValueError as exc:
            raise PageError(
                422,
                ("Données illisibles", "Unreadable data"),
                ("Les données trouvées doivent être un objet JSON.", "Data must be a JSON object."),
            ) from exc
        if not isinstance(parsed, dict):
            raise PageError(
                422,
                ("Données illisibles", "Unreadable data"),
                ("Les données trouvées doivent être un objet JSON.", "Data must be a JSON object."),
            )
        found = parsed
    await rights_request.complete_task_by_hand(
        conn, task_id, note=note.strip(), data=found, actor=actor, settings=settings
    )
    return _see_other(f"/pages/dpo/requests/{_safe_id(request_id)}", "recorded")


def _safe_id(value: str) -> str:
    return "".join(c for c in value if c.isalnum() or c in "-_")


@router.get("/dpo/register.{fmt}")
async def register_download(
    request: Request, fmt: Literal["csv", "json"], session: Session, conn: DbConn
) -> Response:
    """The register (H2's export), for the DPO's browser session rather than a bearer token."""
    _dpo(session)
    now = utcnow()
    today = paris_date(now)
    rows = await register_export.rows(conn, today=today, lang=i18n.negotiate(request))
    if fmt == "json":
        body = RegisterPublic(generated_at=now, count=len(rows), items=rows)
        return Response(
            body.model_dump_json(indent=2),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="registre-{today}.json"'},
        )
    return Response(
        to_csv(rows),
        media_type="text/csv; charset=utf-8; header=present",
        headers={"Content-Disposition": f'attachment; filename="registre-demandes-{today}.csv"'},
    )


@router.get("/dpo/register-request", response_class=HTMLResponse)
async def register_form(request: Request, session: Session) -> Response:
    _dpo(session)
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
    dpo = _dpo(session)
    _confirmed(confirm)
    try:
        data = RequestCreate.model_validate(
            {
                "request_type": request_type,
                "requester": requester.strip(),
                "subject_id": subject_id.strip() or None,
                "message": message.strip() or None,
                "corrections": _corrections(field or [], value or [])
                if request_type == RequestType.RECTIFICATION
                else None,
                "channel": channel,
                # The receipt day starts the period (Art. 12(3)); its hour does not matter.
                "received_at": datetime.combine(received_on, time(9), tzinfo=PARIS),
            }
        )
    except ValidationError as exc:
        raise _invalid(exc) from exc
    created = await rights_request.register(conn, data, actor=actor_of(dpo))
    return _see_other(f"/pages/dpo/requests/{created.id}", "registered")


root = APIRouter(include_in_schema=False)


@root.get("/")
async def to_pages() -> RedirectResponse:
    return RedirectResponse("/pages/", status_code=307)
