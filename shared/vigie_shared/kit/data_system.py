"""Answering the DPO's tasks as a *data system* (docs/architecture.md, Events: ``dpo.tasks.v1`` and
``dpo.task-results.v1``).

A service that holds personal data declares one handler per action it supports (export, erase,
rectify, restrict, object). Each ``vigie.dpo.task.requested`` addressed to it runs the handler
in the consumer's transaction (so the effect, the inbox row and the result's outbox row commit
together: a redelivered task is answered once) and publishes ``vigie.dpo.task.completed`` or
``vigie.dpo.task.failed``, keyed by the request id. At start-up the system announces the
actions it supports, which is how dpo_requests learns which tasks to fan out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from vigie_shared import topics
from vigie_shared.events import (
    CloudEvent,
    DataSystemAnnounced,
    DpoTaskCompleted,
    DpoTaskFailed,
    DpoTaskRequested,
    TaskAction,
    new_event,
)
from vigie_shared.kit import outbox
from vigie_shared.kit.cloudevents import MAX_EXPORT_EVENT_BYTES
from vigie_shared.kit.db import Conn
from vigie_shared.kit.runtime import Runtime

EXPORT_INLINE_LIMIT = MAX_EXPORT_EVENT_BYTES - 16 * 1024
"""Largest export carried inline: the consumers' bound minus room for the other fields."""

TaskHandler = Callable[[Conn, DpoTaskRequested], Awaitable[dict[str, Any] | None]]


class TaskRefused(Exception):
    """The system cannot do this task for a reason the DPO must see (e.g. unknown subject with
    nothing to erase is NOT a refusal; a legal hold on the data is)."""

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.retryable = retryable


class DataSystem:
    def __init__(self, name: str, *, description: str = "") -> None:
        self.name = name
        self.description = description
        self._handlers: dict[TaskAction, TaskHandler] = {}

    def action(self, action: TaskAction) -> Callable[[TaskHandler], TaskHandler]:
        def register(handler: TaskHandler) -> TaskHandler:
            self._handlers[action] = handler
            return handler

        return register

    @property
    def actions(self) -> list[TaskAction]:
        return sorted(self._handlers)

    def register(self, runtime: Runtime) -> None:
        """Subscribe to the DPO's tasks and announce this system when the runtime starts."""
        source = runtime.spec.source
        consumer = runtime.consumer(f"data-system.{self.name}", topics.DPO_TASKS)

        @consumer.handles(DpoTaskRequested)
        async def on_task(conn: Conn, event: CloudEvent[Any]) -> None:
            await self.answer(conn, event.data, source=source)

        async def announce(conn: Conn) -> None:
            async with conn.transaction():
                await outbox.enqueue(
                    conn,
                    new_event(
                        DataSystemAnnounced(
                            system=self.name, actions=self.actions, description=self.description
                        ),
                        subject=self.name,
                        source=source,
                    ),
                )

        runtime.on_start(announce)

    async def answer(self, conn: Conn, task: DpoTaskRequested, *, source: str) -> None:
        if task.system != self.name:
            return
        handler = self._handlers.get(task.action)
        result: DpoTaskCompleted | DpoTaskFailed
        common = {
            "task_id": task.task_id,
            "request_id": task.request_id,
            "system": self.name,
            "action": task.action,
        }
        if handler is None:
            result = DpoTaskFailed(
                **common, error=f"{self.name} does not support {task.action}", retryable=False
            )
        else:
            try:
                # A savepoint: a refused task leaves no half-done effect behind.
                async with conn.transaction():
                    data = await handler(conn, task)
            except TaskRefused as exc:
                result = DpoTaskFailed(**common, error=str(exc), retryable=exc.retryable)
            else:
                result = DpoTaskCompleted(**common, data=data)
                size = len(result.model_dump_json().encode())
                if size > EXPORT_INLINE_LIMIT:
                    # The broker would refuse the record and the relay, which keeps order,
                    # would retry it forever with every later event of this service behind
                    # it. A failed task instead goes to the DPO, who gets the data another way.
                    result = DpoTaskFailed(
                        **common,
                        error=f"{self.name}: the export ({size} bytes) is larger than an event "
                        f"may carry ({EXPORT_INLINE_LIMIT} bytes); to be handed over by hand",
                        retryable=False,
                    )
        await outbox.enqueue(conn, new_event(result, subject=task.request_id, source=source))
