"""Traces and logs that follow one request across HTTP and Kafka hops.

The W3C trace context (``traceparent``) of the code that writes an outbox row travels with the
event as a Kafka header; the consumer continues that trace around its handler. Spans are
exported only when an OTLP endpoint is configured (``OTEL_EXPORTER_OTLP_ENDPOINT``, the
OpenTelemetry standard variable); logs are JSON lines carrying the trace id either way.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote_plus

import httpx
from fastapi.telemetry import TelemetryConfig
from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Receive, Scope, Send

tracer = trace.get_tracer("vigie")

FASTAPI_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}
"""FastAPI's own telemetry, off: each service has one instrumentation, ours (``Runtime.install``:
the OpenTelemetry FastAPI instrumentation when spans are exported, else ``RequestTraceContext``;
Prometheus metrics; JSON logs with trace ids). FastAPI turns its own on whenever an SDK tracer
provider is installed, which ours always is: it then built and dropped four spans per request
(app, dependencies, endpoint, serialization), a measurable share of the gateway's CPU per
client-credentials grant with nothing exported (``bench/bench_sso.py``)."""
_configured = False


def configure_tracing(service: str) -> None:
    """Install a tracer provider for this process (once); export if an endpoint is set."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"vigie-{service}"}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True


def inject_headers() -> list[tuple[str, bytes]]:
    """The current trace context as Kafka headers (W3C Trace Context: ``traceparent``)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(name, value.encode()) for name, value in carrier.items()]


@contextmanager
def consuming(
    headers: Sequence[tuple[str, bytes | None]] | None, name: str, **attributes: str
) -> Iterator[trace.Span]:
    """A consumer span continuing the producer's trace, when the record carries one."""
    carrier = {
        key: value.decode(errors="replace")
        for key, value in headers or ()
        if key in ("traceparent", "tracestate") and value is not None
    }
    parent = propagate.extract(carrier)
    token = context.attach(parent)
    try:
        if not spans_go_anywhere():
            # Nothing would receive the span: only continue the producer's context, so logs
            # carry its trace id and events written here propagate it (W3C Trace Context).
            yield trace.get_current_span()
            return
        with tracer.start_as_current_span(
            name, kind=trace.SpanKind.CONSUMER, attributes=attributes
        ) as span:
            yield span
    finally:
        context.detach(token)


def spans_go_anywhere() -> bool:
    """False when a span started now could reach no exporter: no SDK provider installed, or one
    with no span processor (no ``OTEL_EXPORTER_OTLP_ENDPOINT``). Checked per call, since a
    processor can be added to the provider later (tests, or an operator's instrumentation).
    Building an SDK span per consumed record was a large share of the audit log's CPU time
    per ingested event (docs/audit-log.md, Figures)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return False
    if isinstance(provider, TracerProvider):
        # The SDK keeps its processors privately; if that ever changes, spans are built.
        active = getattr(provider, "_active_span_processor", None)
        processors = getattr(active, "_span_processors", None)
        if isinstance(processors, tuple) and not processors:
            return False
    return True


def current_trace_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


_SAMPLED = trace.TraceFlags(trace.TraceFlags.SAMPLED)


class RequestTraceContext:
    """What the OpenTelemetry FastAPI instrumentation gives a request when no span is exported:
    a trace context, without building, timing and dropping a server span.

    The caller's W3C ``traceparent`` (Trace Context §3.2) is continued, else a new trace is
    started; either way the request runs under a non-recording span of that trace, so its logs
    carry the trace id and the events it writes propagate it (``inject_headers``). The full
    instrumentation, installed instead when spans go somewhere (``Runtime.install``), was a
    large share of the gateway's CPU per request with nothing exported.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode(): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"traceparent", b"tracestate")
        }
        parent = trace.get_current_span(propagate.extract(carrier)).get_span_context()
        span = trace.NonRecordingSpan(
            trace.SpanContext(
                trace_id=parent.trace_id if parent.is_valid else random.getrandbits(128),
                span_id=random.getrandbits(64),
                is_remote=False,
                # A new trace is sampled, as the SDK's default sampler would have it, so that a
                # service downstream that does export keeps its spans.
                trace_flags=parent.trace_flags if parent.is_valid else _SAMPLED,
                trace_state=parent.trace_state,
            )
        )
        token = context.attach(trace.set_span_in_context(span))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)


SECRET_PARAMETERS = frozenset(
    {
        "code",
        "code_verifier",
        "id_token_hint",
        "access_token",
        "refresh_token",
        # RFC 9126 §4: a live request_uri lets its holder start (or use up) that request.
        "request_uri",
        "token",
        "logout_token",
        "client_secret",
        "client_assertion",
        "password",
        "csrf_token",
    }
)
"""Query parameters whose value is a credential or lets its holder obtain one: an authorization
code (with its verifier, a token: RFC 6749 §10.5, RFC 9700 §4.2.4), an ID token (a full
``id_token_hint`` carries the person's identity claims and, here, ends their session), tokens
and secrets (RFC 6749 §10.3, RFC 6750 §5.3: not in logs), a password, a CSRF token. ``state``
and ``nonce`` stay readable: each is bound to the relying party's own browser session (RFC 6749
§10.12, OIDC Core §15.5.2), which a log does not carry, and they are what an operator matches a
failed login with."""

REDACTED = "[redacted]"


def redact_query(query: str) -> str:
    """The query string with the value of each :data:`SECRET_PARAMETERS` name replaced, the
    rest left exactly as sent. Names are compared decoded (``co%64e`` is ``code`` to the
    server that reads it) and case-insensitively."""
    pairs = query.split("&")
    for index, pair in enumerate(pairs):
        name, equals, _ = pair.partition("=")
        if equals and unquote_plus(name).lower() in SECRET_PARAMETERS:
            pairs[index] = f"{name}={REDACTED}"
    return "&".join(pairs)


def redact_url(url: str) -> str:
    """A URL or request target with :func:`redact_query` applied to its query (a fragment is
    kept as it is: servers never receive one)."""
    head, question, rest = url.partition("?")
    if not question:
        return url
    query, hash_sign, fragment = rest.partition("#")
    return f"{head}?{redact_query(query)}{hash_sign}{fragment}"


class _RedactFilter(logging.Filter):
    """Redacts the URLs a log record carries as arguments before any handler formats it:
    uvicorn's access log (``"%s %s HTTP/%s"`` with the full path and query) and httpx's request
    log (an ``httpx.URL``). A logger's own filter, so that every handler (JSON, a terminal,
    pytest's capture) sees the record redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args:
            record.args = tuple(_redacted_arg(arg) for arg in args)
        return True


def _redacted_arg(arg: object) -> object:
    if isinstance(arg, httpx.URL):
        return redact_url(str(arg))
    if isinstance(arg, str) and "?" in arg:
        return redact_url(arg)
    return arg


URL_LOGGERS = ("uvicorn.access", "uvicorn.error", "httpx")
_redaction = _RedactFilter()


def redact_logged_urls() -> None:
    """Install :class:`_RedactFilter` on the loggers that log request URLs (idempotent)."""
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if _redaction not in logger.filters:
            logger.addFilter(_redaction)


class _TraceIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = current_trace_id()
        return True


def configure_logging(level: str, *, json_logs: bool) -> None:
    """JSON lines with the trace id (for log shippers), or plain text for a terminal."""
    handler = logging.StreamHandler()
    handler.addFilter(_TraceIdFilter())
    if json_logs:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(trace_id)s",
                rename_fields={"levelname": "level", "asctime": "time"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    # uvicorn's loggers write through this handler (JSON, trace ids), not through handlers of
    # their own, which a uvicorn started with its default log config installs and which stop
    # propagation: theirs go, and they propagate to the root.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    redact_logged_urls()


def redact_server_span(span: Any, scope: dict[str, Any]) -> None:
    """The OpenTelemetry FastAPI instrumentation's ``server_request_hook``: the request's
    query goes into the server span's attributes as sent, so an authorization code or an
    ``id_token_hint`` would reach the trace backend; replace them as the logs do."""
    query = scope.get("query_string", b"").decode("latin-1")
    if not query or not span.is_recording():
        return
    redacted = redact_query(query)
    path = scope.get("path", "")
    span.set_attribute("url.query", redacted)
    span.set_attribute("http.target", f"{path}?{redacted}")
    recorded = getattr(span, "attributes", None) or {}
    for name in ("http.url", "url.full"):
        if name in recorded:
            span.set_attribute(name, redact_url(str(recorded[name])))
