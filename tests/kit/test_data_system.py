"""A data system answers the DPO's tasks addressed to it, once, through its outbox."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest

from vigie_shared.events import SERVICE_SOURCES, DpoTaskRequested, TaskAction, new_event
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.data_system import DataSystem, TaskRefused
from vigie_shared.kit.db import Conn
from vigie_shared.kit.kafka import Producer
from vigie_shared.kit.runtime import Runtime, ServiceSpec
from vigie_shared.kit.settings import ServiceSettings

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.broker,
    pytest.mark.both_brokers,
]


async def test_tasks_are_answered_completed_failed_or_unsupported_and_the_system_announced(
    database_url: str, schema: str, kafka: str
) -> None:
    name = f"archive-{uuid.uuid4().hex[:6]}"
    spec = ServiceSpec(
        name=name,
        schema=schema,
        default_port=0,
        migrations=None,
        module="none",
        settings_factory=ServiceSettings,
    )
    runtime = Runtime(spec, ServiceSettings(database_url=database_url, kafka_bootstrap=kafka))
    system = DataSystem(name, description="paper archives, scanned")

    @system.action(TaskAction.EXPORT)
    async def export(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
        return {"subject": task.subject_id, "boxes": 2}

    @system.action(TaskAction.ERASE)
    async def erase(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
        raise TaskRefused("legal hold until 2030 (Code du patrimoine)")

    system.register(runtime)
    await runtime.start()
    producer = Producer(kafka, client_id="test")
    await producer.start()
    try:
        tasks = {
            action: DpoTaskRequested(
                task_id=f"t-{action}",
                request_id="r-1",
                system=name,
                action=action,
                subject_id="u-1",
            )
            for action in (TaskAction.EXPORT, TaskAction.ERASE, TaskAction.RECTIFY)
        }
        other = DpoTaskRequested(
            task_id="t-other",
            request_id="r-1",
            system="someone-else",
            action=TaskAction.EXPORT,
            subject_id="u-1",
        )
        records = [
            encode(new_event(task, subject="r-1", source=SERVICE_SOURCES["dpo_requests"]))
            for task in [*tasks.values(), other]
        ]
        # The first record again, byte for byte: a redelivery must not be answered twice.
        for record in [*records, records[0]]:
            await producer.send_and_wait(record)
        deadline = time.monotonic() + 30
        rows: list[Any] = []
        while time.monotonic() < deadline and len(rows) < 3:
            rows = await runtime.pool.fetch(
                "SELECT headers, value FROM outbox WHERE topic = 'dpo.task-results.v1'"
                " AND key = 'r-1'::bytea ORDER BY id"
            )
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # time for a duplicate answer to show, if any
        rows = await runtime.pool.fetch(
            "SELECT headers, value FROM outbox WHERE topic = 'dpo.task-results.v1'"
            " AND key = 'r-1'::bytea ORDER BY id"
        )
        announced = await runtime.pool.fetchval(
            "SELECT value FROM outbox WHERE key = $1::text::bytea", name
        )
    finally:
        await producer.stop()
        await runtime.stop()

    results = {
        json.loads(r["value"])["task_id"]: (dict(r["headers"]), json.loads(r["value"]))
        for r in rows
    }
    assert len(rows) == 3
    export_headers, export_body = results["t-export"]
    assert export_headers["ce_type"] == "vigie.dpo.task.completed"
    assert export_body["data"] == {"subject": "u-1", "boxes": 2}
    erase_headers, erase_body = results["t-erase"]
    assert erase_headers["ce_type"] == "vigie.dpo.task.failed"
    assert "legal hold" in erase_body["error"]
    assert "does not support rectify" in results["t-rectify"][1]["error"]
    assert json.loads(announced) == {
        "system": name,
        "actions": ["erase", "export"],
        "description": "paper archives, scanned",
    }


async def test_an_export_too_large_for_an_event_is_answered_failed_not_stuck(
    database_url: str, schema: str
) -> None:
    """A 13,000-login history would exceed the broker's record limit: the relay, which keeps
    order, would retry that row forever and hold back every later event of the service."""
    from vigie_shared.kit import db
    from vigie_shared.kit.data_system import EXPORT_INLINE_LIMIT
    from vigie_shared.kit.migrate import migrate

    await migrate(database_url, schema, None)
    system = DataSystem("big-archive")

    @system.action(TaskAction.EXPORT)
    async def export(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
        return {"logins": ["x" * 100] * (EXPORT_INLINE_LIMIT // 100)}

    task = DpoTaskRequested(
        task_id="t-big",
        request_id="r-big",
        system="big-archive",
        action=TaskAction.EXPORT,
        subject_id="u-1",
    )
    conn = await db.connect(database_url, schema)
    try:
        async with conn.transaction():
            await system.answer(conn, task, source=SERVICE_SOURCES["sso_gateway"])
        row = await conn.fetchrow("SELECT headers, value FROM outbox WHERE key = 'r-big'::bytea")
    finally:
        await conn.close()
    assert row is not None
    assert dict(row["headers"])["ce_type"] == "vigie.dpo.task.failed"
    body = json.loads(row["value"])
    assert "larger than an event may carry" in body["error"]
    assert body["retryable"] is False
