"""What every page edge shares: the browser session as a dependency (a login redirect without
one), the CSRF and origin check of a form post, the role a page needs, the confirmation box,
the POST/redirect/GET answer and a request's page (the learner's and the DPO's). Nothing a
visitor types is ever echoed from the URL."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from dpo_requests.config import Settings
from dpo_requests.deps import DbConn
from dpo_requests.requests.schemas import RequestDetail
from dpo_requests.web import service as pages
from dpo_requests.web.oidc import RelyingParty
from dpo_requests.web.rendering import LoginRequired, PageError, render
from dpo_requests.web.session import WebSession, csrf_valid, read_session
from vigie_shared.kit.forms import same_origin
from vigie_shared.kit.i18n import N_
from vigie_shared.kit.oidc import Principal


def forbidden() -> PageError:
    return PageError(
        403, N_("Access denied"), N_("This page is for the data protection officer (DPO).")
    )


def not_a_learner() -> PageError:
    return PageError(403, N_("Access denied"), N_("These pages are the learners'."))


# Messages after an action, by key: nothing the visitor types is ever echoed from the URL.
DONE = {
    "submitted": N_("Your request is recorded."),
    "withdrawn": N_("The request is withdrawn."),
    "answered": N_("Your answer is sent; the time limit runs again."),
    "recorded": N_("Action recorded."),
    "registered": N_("Request registered with its receipt date."),
}


def relying_party(request: Request) -> RelyingParty:
    rp: RelyingParty = request.app.state.relying_party
    return rp


async def page_session(request: Request, conn: DbConn) -> WebSession:
    session = await read_session(conn, request.app.state.settings, request)
    if session is None:
        raise LoginRequired(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
    request.state.web_session = session
    return session


Session = Annotated[WebSession, Depends(page_session)]


async def posted(
    request: Request, session: Annotated[WebSession, Depends(page_session)]
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
            N_("Form expired"),
            N_("The form's security token is missing or wrong. Reload the page and try again."),
        )
    return session


Posted = Annotated[WebSession, Depends(posted)]
Confirm = Annotated[str | None, Form()]


def as_learner(session: WebSession) -> Principal:
    # Learner pages see with a learner's eyes only, even for someone who is also the DPO.
    if "learner" not in session.roles:
        raise not_a_learner()
    return Principal(
        subject=session.subject,
        roles=frozenset({"learner"}),
        claims=session.principal.claims,
    )


def as_dpo(session: WebSession) -> Principal:
    if not session.is_dpo:
        raise forbidden()
    return session.principal


def see_other(path: str, done: str | None = None) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}" if done else path, status_code=303)


# The schemas' own checks (requests/schemas.py), in words for the person; any other refusal
# of the input gets the general sentence.
RULES = {
    "a rectification request lists the corrections (GDPR Art. 16)": N_(
        "A rectification request lists the corrections (GDPR Art. 16)."
    ),
    "corrections only go with a rectification request": N_(
        "Corrections only go with a rectification request."
    ),
    "GDPR Art. 12(5): a written justification is required": N_(
        "A written justification is required (GDPR Art. 12(5))."
    ),
}
INVALID = N_("Some fields are missing or invalid: check them and send the form again.")


def invalid(exc: ValidationError) -> PageError:
    broken = [str(e.get("msg", "")).removeprefix("Value error, ") for e in exc.errors()]
    known = [RULES[m] for m in broken if m in RULES]
    return PageError(422, N_("Invalid input"), known[0] if known else INVALID)


def confirmed(confirm: str | None) -> None:
    if confirm != "yes":
        raise PageError(
            422, N_("Not confirmed"), N_("Tick the confirmation box to carry out this action.")
        )


def done_message(request: Request) -> str | None:
    return DONE.get(request.query_params.get("done", ""))


def render_detail(
    request: Request, template: str, session: WebSession, detail: RequestDetail, **context: Any
) -> HTMLResponse:
    """A request's page, the learner's or the DPO's: the request, its systems' outcomes, the
    question on the requester's identity if one is open, and the notice of the last action."""
    return render(
        request,
        template,
        session=session,
        r=detail,
        outcomes=pages.outcomes(detail),
        question=pages.identity_question(detail),
        done=done_message(request),
        **context,
    )


def safe_next(value: str | None) -> str:
    # Only a path of this site: an open redirect would lend our name to phishing.
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/pages/"
    parts = urlsplit(value)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def corrections(fields: list[str], values: list[str]) -> dict[str, str] | None:
    pairs = {f: v.strip() for f, v in zip(fields, values, strict=False) if f and v.strip()}
    return pairs or None
