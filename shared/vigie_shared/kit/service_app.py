"""What every service's FastAPI app has, whatever the service: problem details (RFC 9457),
health and readiness, metrics, traces, request limits and security headers, and no secret in
its logs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from vigie_shared.kit.settings import ServiceSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

SECRET_LOGGERS = ("authlib",)
"""Libraries whose DEBUG lines carry secrets (Authlib logs whole token responses and PKCE
verifiers): held at INFO whatever the service's log level, so that no secret reaches a log."""


def quiet_secret_loggers() -> None:
    for name in SECRET_LOGGERS:
        # An explicit level, so that lowering the root logger's later changes nothing.
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.level, logging.INFO))


def install_service_app(
    app: FastAPI,
    *,
    service: str,
    settings: ServiceSettings,
    readiness: Callable[[], Awaitable[dict[str, bool]]],
) -> None:
    """Install on ``app`` what every service's app has; ``readiness`` answers ``/readyz``."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    from vigie_shared.kit.http import (
        document_problems,
        health_router,
        install_problem_handlers,
    )
    from vigie_shared.kit.limits import RequestLimits
    from vigie_shared.kit.metrics import install_http_metrics
    from vigie_shared.kit.security_headers import SecurityHeaders
    from vigie_shared.kit.telemetry import (
        RequestTraceContext,
        configure_tracing,
        redact_server_span,
        spans_go_anywhere,
    )

    quiet_secret_loggers()
    install_problem_handlers(app)
    document_problems(app)
    app.include_router(health_router(readiness))
    install_http_metrics(app, service)
    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.max_body_bytes,
        max_json_depth=settings.max_json_depth,
        body_timeout=settings.body_timeout,
    )
    # Added after the limits, so outside them: their refusals carry the headers too.
    app.add_middleware(SecurityHeaders, hsts=settings.env != "development")
    configure_tracing(service)
    if spans_go_anywhere():
        FastAPIInstrumentor.instrument_app(
            app,
            excluded_urls="healthz,readyz,metrics",
            server_request_hook=redact_server_span,
        )
    else:
        # Nothing would receive a server span (no OTLP endpoint): only the trace context.
        app.add_middleware(RequestTraceContext)
