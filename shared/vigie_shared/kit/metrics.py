"""Prometheus metrics common to every service (exposed on ``/metrics``).

Services add their own domain series (tokens issued, requests by state, tree size...) with
``prometheus_client`` on the default registry; these are the ones every service shares.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "vigie_http_requests_total",
    "HTTP requests answered, by route template and status.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "vigie_http_request_duration_seconds",
    "HTTP request latency, by route template.",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENTS_CONSUMED = Counter(
    "vigie_events_consumed_total",
    "Records handled by a consumer, by outcome (processed, duplicate, ignored, dead_lettered).",
    ["consumer", "topic", "outcome"],
)
EVENTS_DEAD_LETTERED = Counter(
    "vigie_events_dead_lettered_total",
    "Records sent to a dead-letter topic.",
    ["consumer", "topic"],
)
CONSUMER_LAG_SECONDS = Gauge(
    "vigie_consumer_lag_seconds",
    "Age of the last record handled (now minus its Kafka timestamp): how far behind it runs.",
    ["consumer", "topic"],
)
EVENTS_PUBLISHED = Counter(
    "vigie_events_published_total",
    "Outbox rows confirmed by the broker, by topic.",
    ["service", "topic"],
)
OUTBOX_BACKLOG = Gauge(
    "vigie_outbox_backlog",
    "Outbox rows not yet confirmed by the broker.",
    ["service"],
)
OUTBOX_REPUBLISHED = Counter(
    "vigie_outbox_republished_total",
    "Relayed rows queued again because the broker had lost them.",
    ["service"],
)


class HttpMetrics:
    """Counts and times each HTTP request under the route template the router matched."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The router writes the matched route into this same scope.
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, template).observe(time.perf_counter() - start)


def install_http_metrics(app: FastAPI, service: str) -> None:
    """Count and time every request by its route *template* (never the raw path: ids in paths
    would make one series per id)."""

    # A plain ASGI middleware: @app.middleware("http") (BaseHTTPMiddleware) adds a task group,
    # a wrapped receive and a streaming response to every request, measured at about a third
    # of the gateway's CPU per client-credentials grant (issue 9).
    app.add_middleware(HttpMetrics, service=service)

    router = APIRouter(tags=["operations"])

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)
