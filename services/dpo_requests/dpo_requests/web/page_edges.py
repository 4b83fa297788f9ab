"""What every page edge shares: the browser session as a dependency (a login redirect without
one), the CSRF and origin check of a form post, the role a page needs, the confirmation box
and the POST/redirect/GET answer. Nothing a visitor types is ever echoed from the URL."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from dpo_requests.config import Settings
from dpo_requests.deps import DbConn
from dpo_requests.web.oidc import RelyingParty
from dpo_requests.web.rendering import LoginRequired, PageError
from dpo_requests.web.session import WebSession, csrf_valid, read_session
from vigie_shared.kit.forms import same_origin
from vigie_shared.kit.oidc import Principal


def forbidden() -> PageError:
    return PageError(
        403,
        ("Accès refusé", "Access denied"),
        (
            "Cette page est réservée au délégué à la protection des données.",
            "This page is for the DPO.",
        ),
    )


def not_a_learner() -> PageError:
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
            ("Formulaire expiré", "Form expired"),
            (
                "Le jeton de sécurité du formulaire manque ou ne correspond pas. Rechargez la "
                "page et recommencez.",
                "The form's security token is missing or wrong. Reload the page and try again.",
            ),
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


def invalid(exc: ValidationError) -> PageError:
    messages = "; ".join(str(e.get("msg", "")).removeprefix("Value error, ") for e in exc.errors())
    return PageError(422, ("Saisie incomplète ou invalide", "Invalid input"), (messages, messages))


def confirmed(confirm: str | None) -> None:
    if confirm != "yes":
        raise PageError(
            422,
            ("Confirmation manquante", "Not confirmed"),
            (
                "Cochez la case de confirmation pour effectuer cette action.",
                "Tick the confirmation box to carry out this action.",
            ),
        )


def done_message(request: Request) -> tuple[str, str] | None:
    return DONE.get(request.query_params.get("done", ""))


def safe_next(value: str | None) -> str:
    # Only a path of this site: an open redirect would lend our name to phishing.
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/pages/"
    parts = urlsplit(value)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def corrections(fields: list[str], values: list[str]) -> dict[str, str] | None:
    pairs = {f: v.strip() for f, v in zip(fields, values, strict=False) if f and v.strip()}
    return pairs or None
