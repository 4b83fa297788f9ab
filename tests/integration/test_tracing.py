"""One trace from the DPO API to the audit log's consumer: the trace id a caller sets on an HTTP
request is the one of the span that receives its event in audit_log."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from audit_log.app import create_app as audit_app
from audit_log.config import Settings as AuditSettings
from tests.dpo_requests.support import running_dpo
from vigie_shared.kit.telemetry import configure_tracing

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.broker,
    pytest.mark.both_brokers,
]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_trace_id_set_at_the_dpo_api_is_on_the_audit_logs_receive_span(
    database_url: str, private_broker: Any, schema: str
) -> None:
    configure_tracing("test")
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    audit = audit_app(
        AuditSettings(database_url=database_url, kafka_bootstrap=private_broker.bootstrap)
    )
    async with (
        audit.router.lifespan_context(audit),
        running_dpo(database_url, schema, private_broker.bootstrap) as dpo,
    ):
        response = await dpo.http.post(
            "/requests",
            json={"request_type": "access", "message": "Mes données, s'il vous plaît."},
            headers={
                **dpo.learner("u-traced"),
                "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01",
            },
        )
        assert response.status_code == 201, response.text
        deadline = time.monotonic() + 30
        received: list[Any] = []
        while time.monotonic() < deadline and not received:
            received = [
                s
                for s in spans.get_finished_spans()
                if s.name == "receive dpo.requests.v1"
                and format(s.context.trace_id, "032x") == TRACE_ID
            ]
            await asyncio.sleep(0.2)
    assert received, [s.name for s in spans.get_finished_spans()]
    server = [
        s
        for s in spans.get_finished_spans()
        if s.kind == trace.SpanKind.SERVER and format(s.context.trace_id, "032x") == TRACE_ID
    ]
    assert server  # the API's own span is in the same trace
