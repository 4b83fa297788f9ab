"""Prometheus metrics common to every service (exposed on ``/metrics``).

Services add their own domain series (tokens issued, requests by state, tree size...) with
``prometheus_client`` on the default registry; these are the ones every service shares.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

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
DEAD_LETTER_COPIES = Counter(
    "vigie_dead_letter_copies_total",
    "Dead letters by the copy sent to the dead-letter topic: the record whole, a record of it "
    "(too large to go whole), or none (the broker refused both; kept in PostgreSQL only).",
    ["consumer", "topic", "form"],
)
CONSUMER_OFFSET_LAG = Gauge(
    "vigie_consumer_offset_lag",
    "Records of a partition a consumer has not moved past yet (log end minus its position).",
    ["consumer", "topic", "partition"],
)
CONSUMER_LAST_ADVANCE = Gauge(
    "vigie_consumer_last_advance_timestamp_seconds",
    "When a consumer last moved past a batch of records (Unix time).",
    ["consumer"],
)
CONSUMER_STALLED = Gauge(
    "vigie_consumer_stalled",
    "1 while a consumer has records waiting and has not moved past any for its stall window.",
    ["consumer"],
)
CONSUMER_TRANSIENT_FAILURES = Counter(
    "vigie_consumer_transient_failures_total",
    "Batches given back for redelivery because the database or the broker failed.",
    ["consumer"],
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


DEFAULT_STALL_SECONDS = 120.0
"""How long a consumer with records waiting may go without moving past one before it counts as
stalled: longer than any batch takes, shorter than anyone would leave a wedged partition."""

Partition = tuple[str, int]
LogEnd = Callable[[str, int], int | None]
"""The log-end offset of a partition as the consumer last fetched it, when known."""


class ConsumerProgress:
    """Whether a consumer moves: its lag per partition, when it last advanced, and so whether
    it is stalled (records waiting, nothing moved past for ``stall_after`` seconds). Shown on
    ``/metrics`` and, for the consumers a runtime watches, on ``/readyz``."""

    def __init__(
        self,
        consumer: str,
        *,
        stall_after: float = DEFAULT_STALL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.consumer = consumer
        self.stall_after = stall_after
        self._clock = clock
        self._behind: dict[Partition, int] = {}
        self._last_advance = clock()
        self.failures = 0
        """Transient failures since the consumer last advanced (the backoff's retry number)."""
        # Read at scrape time, so that a consumer wedged inside one batch still shows.
        CONSUMER_STALLED.labels(consumer).set_function(lambda: float(self.stalled()))
        CONSUMER_LAST_ADVANCE.labels(consumer).set(time.time())

    @property
    def behind(self) -> int:
        return sum(self._behind.values())

    def stalled(self) -> bool:
        return self.behind > 0 and self._clock() - self._last_advance > self.stall_after

    def received(self, records: Iterable[tuple[str, int, int]], log_end: LogEnd | None) -> None:
        """A batch of ``(topic, partition, offset)`` is in hand, not yet moved past."""
        first: dict[Partition, int] = {}
        count: dict[Partition, int] = {}
        for topic, partition, offset in records:
            key = (topic, partition)
            first[key] = min(first.get(key, offset), offset)
            count[key] = count.get(key, 0) + 1
        for key, offset in first.items():
            end = log_end(*key) if log_end is not None else None
            self._set_behind(key, max(count[key], (end or 0) - offset))

    def advanced(self, records: Iterable[tuple[str, int, int]], log_end: LogEnd | None) -> None:
        """The batch is done: its offsets will be committed."""
        after: dict[Partition, int] = {}
        for topic, partition, offset in records:
            after[(topic, partition)] = max(after.get((topic, partition), 0), offset + 1)
        for key, position in after.items():
            end = log_end(*key) if log_end is not None else None
            self._set_behind(key, max(0, (end or 0) - position))
        self._last_advance = self._clock()
        self.failures = 0
        CONSUMER_LAST_ADVANCE.labels(self.consumer).set(time.time())

    def failed(self) -> int:
        """A transient failure gave the batch back; returns how many in a row."""
        self.failures += 1
        CONSUMER_TRANSIENT_FAILURES.labels(self.consumer).inc()
        return self.failures

    def _set_behind(self, key: Partition, behind: int) -> None:
        self._behind[key] = behind
        CONSUMER_OFFSET_LAG.labels(self.consumer, key[0], str(key[1])).set(behind)


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
    # a wrapped receive and a streaming response to every request, a large share of the
    # gateway's CPU per client-credentials grant (``bench/bench_sso.py``).
    app.add_middleware(HttpMetrics, service=service)

    router = APIRouter(tags=["operations"])

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)
