"""The portal's pages: log in through the gateway, the learner's debts, paying one, and the
receipt that follows the gateway's answer. Edges only: the work is in ``payments``."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from vigie_shared.demo.payment import i18n
from vigie_shared.demo.payment.config import PaymentSettings
from vigie_shared.demo.payment.payments import (
    AccessOutcome,
    PaymentNotRecorded,
    PaymentService,
    UnknownDebt,
)
from vigie_shared.demo.payment.rendering import LoginRequired, PageError, render
from vigie_shared.demo.payment.session import (
    PortalSession,
    clear_login_state,
    end_session,
    open_session,
    read_login_state,
    read_session,
    set_login_state,
)
from vigie_shared.kit.forms import first_values, read_form, same_origin
from vigie_shared.kit.oidc_rp import LoginFailed, RelyingParty

router = APIRouter(include_in_schema=False)

REFRESH_SECONDS = 2
"""How often the receipt reloads itself while the gateway has yet to restore access."""


def _settings(request: Request) -> PaymentSettings:
    settings: PaymentSettings = request.app.state.settings
    return settings


def _payments(request: Request) -> PaymentService:
    service: PaymentService = request.app.state.payments
    return service


def _rp(request: Request) -> RelyingParty:
    rp: RelyingParty = request.app.state.relying_party
    return rp


def return_to(request: Request, value: str | None) -> str | None:
    """The platform's own authorization request at the gateway, to go back to once access is
    restored: only a URL of the gateway's ``/authorize`` is kept (an open redirect would lend
    the accounting office's name to phishing)."""
    if not value:
        return None
    issuer, target = urlsplit(_rp(request).issuer), urlsplit(value)
    if (target.scheme, target.netloc) != (issuer.scheme, issuer.netloc):
        return None
    if target.path != issuer.path.rstrip("/") + "/authorize":
        return None
    return value


def _with_return(path: str, back: str | None) -> str:
    return f"{path}?{urlencode({'return_to': back})}" if back else path


async def learner(request: Request) -> PortalSession:
    session = read_session(request, _settings(request))
    if session is None:
        raise LoginRequired
    return session


Learner = Annotated[PortalSession, Depends(learner)]


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    back = return_to(request, request.query_params.get("return_to"))
    session = read_session(request, _settings(request))
    if session is None:
        return render(request, "welcome.html", login_url=_with_return("/login", back))
    debts = request.app.state.ledger.debts_of(session.subject)
    return render(
        request,
        "debts.html",
        session=session,
        due=[d for d in debts if d.open],
        paid=[d for d in debts if not d.open],
        return_to=back,
    )


@router.get("/login")
async def login(request: Request) -> Response:
    rp = _rp(request)
    if not rp.configured:
        raise PageError(503, "login_failed_title", "unconfigured")
    try:
        started = await rp.start(lang=i18n.negotiate(request))
    except LoginFailed as exc:
        raise PageError(503, "login_failed_title", "login_failed") from exc
    back = return_to(request, request.query_params.get("return_to"))
    response = RedirectResponse(started.url, status_code=303)
    set_login_state(
        response, _settings(request), {**started.state, **({"return_to": back} if back else {})}
    )
    return response


@router.get("/auth/callback")
async def callback(request: Request) -> Response:
    settings = _settings(request)
    pending = read_login_state(request, settings)
    if (
        pending is None
        or request.query_params.get("error")
        or request.query_params.get("state") != pending.get("state")
    ):
        raise PageError(400, "login_failed_title", "login_failed")
    try:
        identity = await _rp(request).finish(callback_url=str(request.url), pending=pending)
    except LoginFailed as exc:
        raise PageError(400, "login_failed_title", "login_failed") from exc
    response = RedirectResponse(_with_return("/", pending.get("return_to")), status_code=303)
    clear_login_state(response)
    sid = identity.claims.get("sid")
    open_session(
        response, settings, identity.subject, identity.name, None if sid is None else str(sid)
    )
    return response


@router.post("/logout")
async def logout(request: Request, session: Learner) -> Response:
    await _posted(request, session)
    response = RedirectResponse("/", status_code=303)
    end_session(response)
    return response


async def _posted(request: Request, session: PortalSession) -> dict[str, str]:
    """The fields of a form post from our own page with the session's CSRF token."""
    fields = first_values(await read_form(request))
    if not same_origin(request, _settings(request).public_url) or not session.csrf_valid(
        fields.get("csrf")
    ):
        raise PageError(403, "form_expired_title", "form_expired")
    return fields


@router.post("/pay")
async def pay(request: Request, session: Learner) -> Response:
    fields = await _posted(request, session)
    try:
        receipt = await _payments(request).pay(session.subject, fields.get("debt_id", ""))
    except UnknownDebt as exc:
        raise PageError(404, "error_title", "unknown_debt") from exc
    except PaymentNotRecorded as exc:
        raise PageError(503, "not_recorded_title", "not_recorded") from exc
    # POST/redirect/GET: reloading the receipt never posts the payment again.
    query = {"return_to": return_to(request, fields.get("return_to"))}
    if not receipt.paid_now:
        query["again"] = "1"
    target = f"/payments/{receipt.debt.debt_id}"
    kept = {k: v for k, v in query.items() if v}
    return RedirectResponse(f"{target}?{urlencode(kept)}" if kept else target, status_code=303)


@router.get("/payments/{debt_id}", response_class=HTMLResponse)
async def receipt(debt_id: str, request: Request, session: Learner) -> Response:
    payments = _payments(request)
    try:
        debt = payments.debt_of(session.subject, debt_id)
    except UnknownDebt as exc:
        raise PageError(404, "error_title", "unknown_debt") from exc
    if debt.open:
        return RedirectResponse("/", status_code=303)
    outcome = payments.access_after(debt)
    return render(
        request,
        "receipt.html",
        session=session,
        debt=debt,
        outcome=outcome.value,
        again=request.query_params.get("again") == "1",
        return_to=return_to(request, request.query_params.get("return_to")),
        refresh=REFRESH_SECONDS if outcome is AccessOutcome.WAITING else None,
    )


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready once the ledger has read the history: before, a learner's debts may be missing."""
    ready = request.app.state.follower.caught_up
    return JSONResponse(
        {"status": "ok" if ready else "starting"}, status_code=200 if ready else 503
    )
