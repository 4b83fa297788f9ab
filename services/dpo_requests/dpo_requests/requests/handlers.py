"""Kafka subscribers: data systems announcing themselves and answering tasks.

Each runs in the consumer's transaction with its inbox row (a redelivered event is skipped),
and the state changes are themselves idempotent (an answer to a completed task changes
nothing), so a repeat from a broker that lost its log is harmless too.
"""

from __future__ import annotations

from typing import Any

from dpo_requests.config import Settings
from dpo_requests.requests.service import rights_request
from dpo_requests.tasks.service import task_service
from vigie_shared import topics
from vigie_shared.events import CloudEvent, DataSystemAnnounced, DpoTaskCompleted, DpoTaskFailed
from vigie_shared.kit.db import Conn
from vigie_shared.kit.runtime import Runtime


def register(runtime: Runtime, settings: Settings) -> None:
    consumer = runtime.consumer("task-results", topics.DPO_TASK_RESULTS)

    @consumer.handles(DataSystemAnnounced)
    async def on_announced(conn: Conn, event: CloudEvent[Any]) -> None:
        await task_service.on_announced(conn, event.data)

    @consumer.handles(DpoTaskCompleted)
    async def on_completed(conn: Conn, event: CloudEvent[Any]) -> None:
        await rights_request.on_task_completed(conn, event.data, settings)

    @consumer.handles(DpoTaskFailed)
    async def on_failed(conn: Conn, event: CloudEvent[Any]) -> None:
        await rights_request.on_task_failed(conn, event.data, settings)
