"""Fan-out of a verified request to every data system, and tracking of each task.

A task is ``pending`` until its system answers (``completed`` or ``failed``) or its wait runs
out. A late or retryable-failed task is requested again (same task id, new event id) up to
``task_max_attempts`` times; then, or at once for a non-retryable failure or a system that is
not automated (paper archives), it is escalated to the DPO as a *manual* task, which the DPO
completes by hand with a note.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Protocol

from dpo_requests.config import SOURCE, Settings
from dpo_requests.tasks.repository import (
    DataSystem,
    DataSystemRepository,
    Task,
    TaskRepository,
    TaskToSend,
    data_system_repository,
    task_repository,
)
from vigie_shared.events import (
    Actor,
    DataSystemAnnounced,
    DpoTaskCompleted,
    DpoTaskFailed,
    DpoTaskRequested,
    RequestType,
    TaskAction,
    new_event,
)
from vigie_shared.kit import outbox
from vigie_shared.kit.db import Conn
from vigie_shared.kit.http import Problem

# GDPR Art. 15 and 20 are answered with an export, Art. 16 rectify, 17 erase, 18 restrict,
# 21 object.
ACTION_FOR: dict[RequestType, TaskAction] = {
    RequestType.ACCESS: TaskAction.EXPORT,
    RequestType.PORTABILITY: TaskAction.EXPORT,
    RequestType.RECTIFICATION: TaskAction.RECTIFY,
    RequestType.ERASURE: TaskAction.ERASE,
    RequestType.RESTRICTION: TaskAction.RESTRICT,
    RequestType.OBJECTION: TaskAction.OBJECT,
}
SYSTEM = Actor(kind="system", id="dpo-task-tracker")


class RequestToFanOut(Protocol):
    """What fan-out reads of a verified request (the requests feature's record)."""

    @property
    def id(self) -> str: ...
    @property
    def request_type(self) -> str: ...
    @property
    def subject_id(self) -> str | None: ...
    @property
    def corrections(self) -> dict[str, Any] | None: ...


class Timeline(Protocol):
    """Where a task's steps are written on its request's timeline (the requests feature's
    repository): passed in by the request service, so tasks never import requests."""

    async def add_timeline(
        self,
        conn: Conn,
        request_id: str,
        *,
        kind: str,
        actor_kind: str,
        actor_id: str,
        detail: dict[str, Any] | None = None,
    ) -> None: ...


class TaskService:
    def __init__(self, systems: DataSystemRepository, tasks: TaskRepository) -> None:
        self._systems = systems
        self._tasks = tasks

    async def register_system(
        self, conn: Conn, *, name: str, actions: list[TaskAction], description: str, automated: bool
    ) -> DataSystem:
        return await self._systems.upsert(
            conn,
            name=name,
            actions=sorted(a.value for a in actions),
            description=description,
            automated=automated,
        )

    async def on_announced(self, conn: Conn, announced: DataSystemAnnounced) -> None:
        # The latest announcement wins (docs/backbone.md); replaying one is harmless.
        await self.register_system(
            conn,
            name=announced.system,
            actions=announced.actions,
            description=announced.description,
            automated=True,
        )

    async def systems(self, conn: Conn) -> list[DataSystem]:
        return await self._systems.all(conn)

    async def fan_out(
        self,
        conn: Conn,
        request: RequestToFanOut,
        *,
        now: datetime,
        settings: Settings,
        timeline: Timeline,
    ) -> list[Task]:
        """One task per data system answering the request's action; an automated one gets a
        ``dpo.task.requested`` through the outbox, a manual one goes to the DPO's list."""
        action = ACTION_FOR[RequestType(request.request_type)]
        created = []
        for system in await self._systems.supporting(conn, action.value):
            manual = not system.automated
            task = await self._tasks.insert(
                conn,
                task_id=f"t-{uuid.uuid4().hex[:16]}",
                request_id=request.id,
                system=system.name,
                action=action.value,
                manual=manual,
                requested_at=now,
                due_at=None if manual else now + timedelta(seconds=settings.task_timeout_seconds),
            )
            if task is None:
                continue
            created.append(task)
            if not manual:
                # Verifying a request names its subject before the fan-out.
                assert request.subject_id is not None
                await self._send(conn, task, request.subject_id, request.corrections)
            await timeline.add_timeline(
                conn,
                request.id,
                kind="task.manual" if manual else "task.requested",
                actor_kind=SYSTEM.kind,
                actor_id=SYSTEM.id,
                detail={"task_id": task.id, "system": task.system, "action": action.value},
            )
        return created

    async def _send(
        self,
        conn: Conn,
        task: Task,
        subject_id: str,
        corrections: dict[str, Any] | None,
    ) -> None:
        await outbox.enqueue(
            conn,
            new_event(
                DpoTaskRequested(
                    task_id=task.id,
                    request_id=task.request_id,
                    system=task.system,
                    action=TaskAction(task.action),
                    subject_id=subject_id,
                    corrections=corrections,
                ),
                subject=task.request_id,
                source=SOURCE,
            ),
        )

    async def tasks_of(self, conn: Conn, request_id: str) -> list[Task]:
        return await self._tasks.for_request(conn, request_id)

    async def search(
        self, conn: Conn, *, manual: bool | None, status: str | None, limit: int
    ) -> list[Task]:
        return await self._tasks.search(conn, manual=manual, status=status, limit=limit)

    async def record_completed(
        self, conn: Conn, result: DpoTaskCompleted, *, now: datetime, timeline: Timeline
    ) -> str | None:
        """The request id if the task changed; None for an unknown or already completed task.

        A late answer (after a timeout escalated the task) still completes it: the system's
        own data beats a manual note.
        """
        task = await self._tasks.get(conn, result.task_id, lock=True)
        if task is None or task.status == "completed" or task.system != result.system:
            return None
        await self._tasks.update(
            conn,
            task.id,
            status="completed",
            finished_at=now,
            data=result.data,
            data_ref=result.data_ref,
            error=None,
            completed_by=result.system,
        )
        await self._timeline(conn, timeline, task, "task.completed", result.system, {})
        return str(task.request_id)

    async def record_failed(
        self,
        conn: Conn,
        result: DpoTaskFailed,
        *,
        now: datetime,
        settings: Settings,
        timeline: Timeline,
    ) -> str | None:
        task = await self._tasks.get(conn, result.task_id, lock=True)
        if task is None or task.status != "pending" or task.system != result.system:
            return None
        if result.retryable and task.attempts < settings.task_max_attempts:
            await self._retry(
                conn, task, now=now, settings=settings, why=result.error, timeline=timeline
            )
            return None
        await self._tasks.update(
            conn, task.id, status="failed", manual=True, finished_at=now, error=result.error
        )
        await self._timeline(
            conn,
            timeline,
            task,
            "task.failed",
            result.system,
            {"error": result.error, "escalated": True},
        )
        return str(task.request_id)

    async def _retry(
        self,
        conn: Conn,
        task: TaskToSend,
        *,
        now: datetime,
        settings: Settings,
        why: str,
        timeline: Timeline,
    ) -> None:
        await self._tasks.update(
            conn,
            task.id,
            attempts=task.attempts + 1,
            due_at=now + timedelta(seconds=settings.task_timeout_seconds),
            error=why,
        )
        # Only tasks of verified requests are retried, and verifying names the subject.
        assert task.subject_id is not None
        await self._send(conn, task, task.subject_id, task.corrections)
        await self._timeline(
            conn,
            timeline,
            task,
            "task.retried",
            SYSTEM.id,
            {"attempt": task.attempts + 1, "why": why},
        )

    async def sweep_timeouts(
        self, conn: Conn, *, now: datetime, settings: Settings, timeline: Timeline
    ) -> set[str]:
        """Retry or escalate the tasks whose answer is late; returns the requests touched."""
        touched: set[str] = set()
        for task in await self._tasks.lock_timed_out(conn, now=now):
            if task.attempts < settings.task_max_attempts:
                await self._retry(
                    conn,
                    task,
                    now=now,
                    settings=settings,
                    why="no answer in time",
                    timeline=timeline,
                )
                continue
            await self._tasks.update(conn, task.id, status="timed_out", manual=True)
            await self._timeline(
                conn, timeline, task, "task.timed_out", SYSTEM.id, {"attempts": task.attempts}
            )
            touched.add(str(task.request_id))
        return touched

    async def complete_by_hand(
        self,
        conn: Conn,
        task_id: str,
        *,
        note: str,
        data: dict[str, Any] | None,
        actor: Actor,
        now: datetime,
        timeline: Timeline,
    ) -> Task:
        task = await self._tasks.get(conn, task_id, lock=True)
        if task is None:
            raise Problem(404, "Not Found", f"No task {task_id}.")
        if task.status == "completed":
            raise Problem(409, "Task already completed", f"{task_id} was completed already.")
        updated = await self._tasks.update(
            conn,
            task_id,
            status="completed",
            manual=True,
            finished_at=now,
            note=note,
            data=data,
            completed_by=f"{actor.kind}:{actor.id}",
        )
        await self._timeline(
            conn, timeline, task, "task.completed_by_hand", actor.id, {"note": note}
        )
        return updated

    @staticmethod
    async def _timeline(
        conn: Conn,
        timeline: Timeline,
        task: Task,
        kind: str,
        actor_id: str,
        extra: dict[str, Any],
    ) -> None:
        await timeline.add_timeline(
            conn,
            task.request_id,
            kind=kind,
            actor_kind="user" if kind == "task.completed_by_hand" else "service",
            actor_id=actor_id,
            detail={"task_id": task.id, "system": task.system, **extra},
        )


task_service = TaskService(data_system_repository, task_repository)
