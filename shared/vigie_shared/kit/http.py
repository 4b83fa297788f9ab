"""HTTP edge kit: RFC 9457 problem details for every error, and the health endpoints."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from vigie_shared.kit.denials import record_denial
from vigie_shared.kit.failures import DATABASE_UNREACHABLE

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An expected error with its HTTP status (RFC 9457 section 3)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        denial: str | None = None,
        **extra: Any,
    ) -> None:
        """``denial`` names why a caller is refused personal data (``missing_token``,
        ``not_owner``...): the refusal is then recorded for the audit log (``kit.denials``)."""
        super().__init__(detail or title)
        self.status = status
        self.denial = denial
        self.title = title
        self.detail = detail
        self.type = type_
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    type_: str = "about:blank",
    instance: str | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


UNAVAILABLE: tuple[type[Exception], ...] = (ConnectionError, TimeoutError, *DATABASE_UNREACHABLE)
"""Failures of the database connection, answered 503 (the consumer retries the same ones)."""


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        if exc.denial is not None:
            await record_denial(request, exc.status, exc.denial)
        response = problem_response(
            exc.status,
            exc.title,
            exc.detail,
            type_=exc.type,
            instance=request.url.path,
            **exc.extra,
        )
        response.headers.update(exc.headers)
        return response

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        response = problem_response(
            exc.status_code, _title(exc.status_code), str(exc.detail), instance=request.url.path
        )
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type")}
            for err in exc.errors()
        ]
        return problem_response(
            422,
            "Unprocessable Content",
            "The request does not match the schema.",
            instance=request.url.path,
            errors=errors,
        )

    async def on_bad_data(request: Request, exc: Exception) -> JSONResponse:
        # Data the database cannot hold comes from the caller's input, not from our failure.
        log.info("refused data on %s %s: %s", request.method, request.url.path, exc)
        return problem_response(
            422,
            "Unprocessable Content",
            "The request holds values that cannot be stored (e.g. invalid characters).",
            instance=request.url.path,
        )

    async def on_too_deep(request: Request, exc: Exception) -> JSONResponse:
        # A structure nested past the interpreter's recursion limit is the input's fault; the
        # request limits refuse most of these before parsing, this catches the rest.
        log.info("refused too deep a structure on %s %s", request.method, request.url.path)
        return problem_response(
            400,
            "Bad Request",
            "The request is nested too deeply.",
            instance=request.url.path,
        )

    async def on_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database is down or restarting: our outage, not a bug, and one a client should
        # retry (RFC 9110 §15.6.4 503, with Retry-After §10.2.3), not a 500 to page someone.
        log.warning("database unavailable on %s %s: %r", request.method, request.url.path, exc)
        response = problem_response(
            503,
            "Service Unavailable",
            "A backing service is unavailable; retry shortly.",
            instance=request.url.path,
        )
        response.headers["Retry-After"] = "1"
        return response

    async def on_disconnect(request: Request, exc: Exception) -> JSONResponse:
        # The client hung up while we read its body: nobody to answer, nothing went wrong here.
        log.info("client left during %s %s", request.method, request.url.path)
        return problem_response(400, "Bad Request", "Client disconnected.")

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "Internal Server Error", instance=request.url.path)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(UnicodeEncodeError, on_bad_data)
    # SQLSTATE class 22 (data exception): a value the database refuses, e.g. lone surrogates
    # or NUL characters in text or JSON, numbers out of range.
    app.add_exception_handler(asyncpg.exceptions.DataError, on_bad_data)
    app.add_exception_handler(RecursionError, on_too_deep)
    app.add_exception_handler(ClientDisconnect, on_disconnect)
    for unavailable in UNAVAILABLE:
        app.add_exception_handler(unavailable, on_unavailable)
    app.add_exception_handler(Exception, on_unexpected)


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def health_router(readiness: Callable[[], Awaitable[dict[str, bool]]]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: database and broker reachable",
        responses={503: {"description": "A dependency is unreachable"}},
    )
    async def readyz() -> JSONResponse:
        checks = await readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    return router


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status"],
    "additionalProperties": True,
}
COMMON_PROBLEMS = {
    "400": "Bad request",
    "401": "No valid credentials",
    "403": "Not allowed for this caller",
    "404": "Not found",
    "405": "Method not allowed",
    "408": "The request body did not arrive in time",
    "409": "Conflict with the current state",
    "413": "Body too large",
    "422": "Invalid input",
    "429": "Too many requests",
    "500": "Unexpected error",
    "503": "A dependency is unavailable",
}


def document_problems(app: FastAPI) -> None:
    """Say in the OpenAPI document what every operation may answer besides its success:
    problem+json with the statuses the edge produces (so clients and fuzzers can rely on it).
    Responses an operation documents itself are kept as they are."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        ref = {"$ref": "#/components/schemas/Problem"}
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                if "HTTPValidationError" in str(responses.get("422", "")):
                    # FastAPI's default describes its own error shape; ours is problem+json.
                    del responses["422"]
                for status, description in COMMON_PROBLEMS.items():
                    # What an operation documents itself (an OAuth error, a page) stays as is.
                    responses.setdefault(
                        status,
                        {"description": description, "content": {PROBLEM_JSON: {"schema": ref}}},
                    )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


PlainEndpoint = Callable[[Request], Awaitable[Response]]


class _PlainEndpoint:
    """An endpoint taking only the request, called as a bare ASGI app."""

    def __init__(self, path: str, method: str, endpoint: PlainEndpoint) -> None:
        self.endpoint = endpoint
        self.route = Route(path, self, methods=[method], name=f"plain:{path}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # FastAPI's router records the matched route only for its own: the metrics label the
        # request by this route's template, as for any other.
        scope["route"] = self.route
        response = await self.endpoint(Request(scope, receive, send))
        await response(scope, receive, send)


def serve_plainly(app: FastAPI, routes: Sequence[tuple[str, str, PlainEndpoint]]) -> None:
    """Serve these (path, method, endpoint) through plain Starlette routes matched before FastAPI's
    own, for the few endpoints called far more than the rest (the gateway's token endpoint, JWKS and
    discovery, which every platform polls).

    FastAPI's path operation machinery (request-scoped exit stacks, dependency solving, response
    validation, its exception wrapper) was a large share of the CPU of a client-credentials grant
    (``bench/bench_sso.py``), for an endpoint that takes the raw request and returns a built
    response. Each endpoint stays declared with FastAPI too, so it is in the OpenAPI document, and
    it is the same function: one implementation, two ways in. Everything around the routes
    is unchanged (the middlewares: limits, security headers, metrics, trace context; the
    problem handlers).
    """
    app.router.routes[0:0] = [
        _PlainEndpoint(path, method, endpoint).route for path, method, endpoint in routes
    ]
