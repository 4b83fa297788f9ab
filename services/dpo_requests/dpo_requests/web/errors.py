"""Errors on the pages are pages (403, 404, CSRF failure...); the JSON API keeps RFC 9457
problem+json. The choice is by path: everything under ``/pages`` is for people."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dpo_requests.web.rendering import LoginRequired, PageError, error_page
from vigie_shared.kit.http import Problem

PREFIX = "/pages"

_TITLES = {
    400: ("Demande invalide", "Bad request"),
    403: ("Accès refusé", "Access denied"),
    404: ("Page introuvable", "Page not found"),
    405: ("Action impossible ici", "Method not allowed"),
    409: ("Action impossible dans l'état actuel", "Not possible in the current state"),
    422: ("Saisie incomplète ou invalide", "Invalid input"),
    429: ("Trop de tentatives", "Too many attempts"),
}
_NOT_FOUND = (
    "Cette page ou cette demande n'existe pas, ou elle n'est pas la vôtre.",
    "This page or request does not exist, or it is not yours.",
)


def _title(status: int) -> tuple[str, str]:
    return _TITLES.get(status, ("Erreur", "Error"))


def is_page(request: Request) -> bool:
    path = request.url.path
    return path == PREFIX or path.startswith(PREFIX + "/")


Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


async def _delegate(handler: Handler, request: Request, exc: Exception) -> Response:
    result = handler(request, exc)
    return await result if inspect.isawaitable(result) else result


def install(app: FastAPI) -> None:
    """Put page-aware handlers in front of the problem+json ones installed by the runtime."""
    api_problem = app.exception_handlers[Problem]
    api_http = app.exception_handlers[StarletteHTTPException]
    api_invalid = app.exception_handlers[RequestValidationError]

    async def on_page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return error_page(request, exc.status, exc.title, exc.detail)

    async def on_login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        target = request.url_for("login").include_query_params(next=exc.next_path)
        return RedirectResponse(f"{target.path}?{target.query}", status_code=303)

    async def on_problem(request: Request, exc: Exception) -> Response:
        if not is_page(request):
            return await _delegate(api_problem, request, exc)
        assert isinstance(exc, Problem)
        # A 404 says the same for a missing request and someone else's (no probing).
        detail = _NOT_FOUND if exc.status == 404 else exc.detail
        return error_page(request, exc.status, _title(exc.status), detail)

    async def on_http(request: Request, exc: Exception) -> Response:
        if not is_page(request):
            return await _delegate(api_http, request, exc)
        assert isinstance(exc, StarletteHTTPException)
        detail = _NOT_FOUND if exc.status_code == 404 else None
        return error_page(request, exc.status_code, _title(exc.status_code), detail)

    async def on_invalid(request: Request, exc: Exception) -> Response:
        if not is_page(request):
            return await _delegate(api_invalid, request, exc)
        assert isinstance(exc, RequestValidationError)
        fields = ", ".join(str(e.get("loc", ("",))[-1]) for e in exc.errors())
        return error_page(
            request,
            422,
            _title(422),
            (f"Champs à revoir : {fields}.", f"Fields to check: {fields}."),
        )

    app.add_exception_handler(PageError, on_page_error)
    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_invalid)
