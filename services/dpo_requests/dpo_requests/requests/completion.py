"""Completion: task results (answers, failures, timeouts, the DPO's hand) settle a request,
which is completed once every task is done, or closed by the DPO with a note when some
could not be."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dpo_requests.config import SOURCE, Settings
from dpo_requests.requests.core import SYSTEM, RequestCore
from dpo_requests.requests.repository import RequestRecord
from dpo_requests.requests.schemas import ClosingCreate
from dpo_requests.tasks.repository import Task
from vigie_shared.events import (
    Actor,
    DpoRequestCompleted,
    DpoTaskCompleted,
    DpoTaskFailed,
    RequestType,
    new_event,
)
from vigie_shared.kit import outbox
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn
from vigie_shared.kit.http import Problem

EXPORTING = (RequestType.ACCESS, RequestType.PORTABILITY)


class RequestCompletion(RequestCore):
    async def on_task_completed(
        self, conn: Conn, result: DpoTaskCompleted, settings: Settings
    ) -> None:
        request_id = await self._tasks.record_completed(
            conn, result, now=utcnow(), timeline=self._repository
        )
        if request_id is not None:
            await self._settle(conn, request_id, settings=settings)

    async def on_task_failed(self, conn: Conn, result: DpoTaskFailed, settings: Settings) -> None:
        await self._tasks.record_failed(
            conn, result, now=utcnow(), settings=settings, timeline=self._repository
        )

    async def complete_task_by_hand(
        self,
        conn: Conn,
        task_id: str,
        *,
        note: str,
        data: dict[str, Any] | None,
        actor: Actor,
        settings: Settings,
    ) -> Task:
        async with conn.transaction():
            task = await self._tasks.complete_by_hand(
                conn,
                task_id,
                note=note,
                data=data,
                actor=actor,
                now=utcnow(),
                timeline=self._repository,
            )
            await self._settle(conn, task.request_id, settings=settings)
        return task

    async def close(
        self,
        conn: Conn,
        request_id: str,
        data: ClosingCreate,
        actor: Actor,
        settings: Settings,
    ) -> RequestRecord:
        """The DPO completes a request whose tasks did not all succeed; the note explains the
        partial result to the requester."""
        async with conn.transaction():
            row = await self._lock(conn, request_id, "in_progress")
            tasks = await self._tasks.tasks_of(conn, request_id)
            unfinished = [t for t in tasks if t.status != "completed"]
            if unfinished and not (data.note and data.note.strip()):
                raise Problem(
                    422,
                    "Explanation required",
                    f"{len(unfinished)} task(s) did not complete: say why in `note`.",
                )
            row = await self._complete(conn, row, tasks, actor, settings, note=data.note)
        return row

    async def _settle(self, conn: Conn, request_id: str, *, settings: Settings) -> RequestRecord:
        """Complete an in-progress request once every one of its tasks is completed."""
        row = await self._lock(conn, request_id)
        if row.status != "in_progress":
            return row
        tasks = await self._tasks.tasks_of(conn, request_id)
        if not tasks or any(t.status != "completed" for t in tasks):
            return row
        return await self._complete(conn, row, tasks, SYSTEM, settings, note=None)

    async def _complete(
        self,
        conn: Conn,
        row: RequestRecord,
        tasks: list[Task],
        actor: Actor,
        settings: Settings,
        *,
        note: str | None,
    ) -> RequestRecord:
        now = utcnow()
        request_id = row.id
        package = None
        if RequestType(row.request_type) in EXPORTING:
            package = await self._packages.build(conn, row, tasks, now=now, settings=settings)
        row = await self._repository.update(
            conn, request_id, status="completed", closed_at=now, closing_note=note
        )
        await self._timeline(
            conn,
            row,
            "completed",
            actor,
            {"note": note, "package": package.id if package else None},
        )
        await outbox.enqueue(
            conn,
            new_event(
                DpoRequestCompleted(request_id=request_id, actor=actor),
                subject=row.subject_id or request_id,
                source=SOURCE,
            ),
        )
        outcomes = "\n".join(f"- {o.system}: {o.outcome}" for o in self._outcomes(tasks))
        body = f"Votre demande {request_id} est traitée / Your request {request_id} is done.\n"
        body += outcomes
        if package is not None:
            body += (
                f"\n\nVos données / Your data (lien valable jusqu'au / link valid until "
                f"{package.expires_at:%d/%m/%Y %H:%M} UTC):\n"
                f"{self._packages.url(package, settings)}"
            )
        await self._inform(conn, row, "Votre demande RGPD / Your GDPR request", body)
        return row

    async def sweep(self, conn: Conn, *, now: datetime, settings: Settings) -> None:
        """Task timeouts (retry, then escalate to a manual task) and expired packages."""
        async with conn.transaction():
            await self._tasks.sweep_timeouts(
                conn, now=now, settings=settings, timeline=self._repository
            )
            await self._packages.purge_expired(conn, now=now)
