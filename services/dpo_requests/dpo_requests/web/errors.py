"""Errors on the pages are pages (403, 404, CSRF failure...); the JSON API keeps RFC 9457
problem+json. The choice is by path: everything under ``/pages`` is for people."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dpo_requests.web import i18n
from dpo_requests.web.rendering import LoginRequired, PageError, error_page
from vigie_shared.kit.http import Problem
from vigie_shared.kit.i18n import N_

PREFIX = "/pages"

_TITLES = {
    400: N_("Bad request"),
    403: N_("Access denied"),
    404: N_("Page not found"),
    405: N_("Method not allowed"),
    409: N_("Not possible in the current state"),
    422: N_("Invalid input"),
    429: N_("Too many attempts"),
}
# What a refusal of the service means, for pages in a language its (English) details are not.
_MEANINGS = {
    400: N_("The request could not be understood."),
    403: N_("This action is not allowed to you."),
    409: N_("This action is not possible in the request's current state."),
    410: N_("This link or code has expired."),
    422: N_("Some fields are missing or invalid: check them and send the form again."),
    429: N_("Too many attempts: wait a moment and try again."),
}
_NOT_FOUND = N_("This page or request does not exist, or it is not yours.")
_RAW = "%(detail)s"


def _title(status: int) -> str:
    return _TITLES.get(status, N_("Error"))


def _problem_detail(request: Request, problem: Problem) -> tuple[str | None, dict[str, object]]:
    """The service's own detail is an English sentence for the API: shown as it is on an
    English page, replaced by the status's meaning on a page in another language."""
    if problem.status == 404:
        return _NOT_FOUND, {}
    if i18n.negotiate(request) == i18n.catalogues.source and problem.detail:
        return _RAW, {"detail": problem.detail}
    return _MEANINGS.get(problem.status), {}


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
        return error_page(request, exc.status, exc.title, exc.detail, exc.values)

    async def on_login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        target = request.url_for("login").include_query_params(next=exc.next_path)
        return RedirectResponse(f"{target.path}?{target.query}", status_code=303)

    async def on_problem(request: Request, exc: Exception) -> Response:
        if not is_page(request):
            return await _delegate(api_problem, request, exc)
        assert isinstance(exc, Problem)
        # A 404 says the same for a missing request and someone else's (no probing).
        detail, values = _problem_detail(request, exc)
        return error_page(request, exc.status, _title(exc.status), detail, values)

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
            request, 422, _title(422), N_("Fields to check: %(fields)s."), {"fields": fields}
        )

    app.add_exception_handler(PageError, on_page_error)
    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_invalid)
