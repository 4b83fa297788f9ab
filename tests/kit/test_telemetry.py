"""One trace across HTTP and Kafka hops; metrics by route template; JSON logs with trace ids."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from tests.fixtures.kafka import SESSION_TIMEOUT_MS
from vigie_shared import topics
from vigie_shared.events import SERVICE_SOURCES, CloudEvent, UserCreated, new_event
from vigie_shared.kit import db, outbox
from vigie_shared.kit.consumer import EventConsumer
from vigie_shared.kit.db import Conn
from vigie_shared.kit.kafka import Producer, ensure_topics
from vigie_shared.kit.metrics import install_http_metrics
from vigie_shared.kit.migrate import migrate
from vigie_shared.kit.outbox import OutboxRelay
from vigie_shared.kit.telemetry import (
    configure_logging,
    configure_tracing,
    current_trace_id,
    tracer,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Deps:
    def __init__(self, pool: Any, producer: Producer) -> None:
        self.pool = pool
        self.producer = producer


@pytest.mark.broker
async def test_trace_started_where_the_event_is_written_continues_in_its_consumer(
    database_url: str, schema: str, private_broker: Any
) -> None:
    configure_tracing("test")
    bootstrap = private_broker.bootstrap
    await migrate(database_url, schema, None)
    await ensure_topics(bootstrap, [topics.IDENTITY])
    pool = await db.create_pool(database_url, schema)
    producer = Producer(bootstrap, client_id="t")
    await producer.start()
    relay_task = asyncio.create_task(OutboxRelay(pool, producer, schema=schema).run())
    broker = KafkaBroker(bootstrap, logger=None)
    consumer = EventConsumer(f"g-{uuid.uuid4().hex[:6]}", Deps(pool, producer))
    seen: list[str | None] = []

    @consumer.handles(UserCreated)
    async def record_trace(conn: Conn, event: CloudEvent[Any]) -> None:
        seen.append(current_trace_id())

    consumer.subscribe(broker, topics.IDENTITY, session_timeout_ms=SESSION_TIMEOUT_MS)
    await broker.start()
    try:
        with tracer.start_as_current_span("POST /requests"):
            written_in = current_trace_id()
            async with pool.acquire() as conn, conn.transaction():
                await outbox.enqueue(
                    conn,
                    new_event(
                        UserCreated(user_id="u-1", email="a@b.fr", display_name="A"),
                        subject="u-1",
                        source=SERVICE_SOURCES["sso_gateway"],
                    ),
                )
        deadline = time.monotonic() + 30
        while not seen and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()
        relay_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay_task
        await producer.stop()
        await pool.close()
    assert written_in is not None
    assert seen == [written_in]


async def test_metrics_count_requests_by_route_template() -> None:
    app = FastAPI()
    install_http_metrics(app, "svc-test")

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        await http.get("/items/a")
        await http.get("/items/b")
        body = (await http.get("/metrics")).text
    line = next(
        ln
        for ln in body.splitlines()
        if ln.startswith("vigie_http_requests_total{")
        and 'service="svc-test"' in ln
        and 'route="/items/{item_id}"' in ln
    )
    assert line.endswith(" 2.0")
    assert "/items/a" not in body


async def test_json_logs_carry_the_current_trace_id() -> None:
    configure_tracing("test")
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    configure_logging("INFO", json_logs=True)
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        with tracer.start_as_current_span("work"):
            expected = current_trace_id()
            logging.getLogger("vigie.test").info("suspension decided")
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["message"] == "suspension decided"
    assert line["level"] == "INFO"
    assert line["trace_id"] == expected


async def test_a_server_span_carries_no_code_or_token_of_the_query() -> None:
    """Exported traces are a copy of every URL: the authorization code and the hint a browser
    sends in a query must not reach the trace backend (only their names do)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from audit_log.app import create_app
    from audit_log.config import Settings
    from vigie_shared.kit.telemetry import configure_tracing

    configure_tracing("test")
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    app = create_app(Settings(env="development"))
    secret = "c0de-" + uuid.uuid4().hex
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc.test"
    ) as http:
        await http.get(f"/entries?code={secret}&id_token_hint={secret}&limit=1")
    served = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert served
    values = [str(v) for s in served for v in (s.attributes or {}).values()]
    assert not [v for v in values if secret in v]
    assert any("code=" in v and "limit=1" in v for v in values)
