"""All SQL on data systems and the per-system tasks of a request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vigie_shared.kit.db import Conn, RowUpdate, record

_GET = (
    "SELECT t.*, r.subject_id, r.corrections FROM tasks t"
    " JOIN requests r ON r.id = t.request_id WHERE t.id = $1"
)
_GET_FOR_UPDATE = _GET + " FOR UPDATE OF t"
# What a system's answer, a retry, a timeout or the DPO's hand changes on a task.
_UPDATE = RowUpdate(
    "tasks",
    frozenset(
        {
            "status",
            "manual",
            "attempts",
            "due_at",
            "finished_at",
            "data",
            "data_ref",
            "error",
            "note",
            "completed_by",
        }
    ),
)


@dataclass(frozen=True, slots=True)
class DataSystem:
    """A system holding personal data, and the task actions it answers."""

    name: str
    actions: list[str]
    description: str
    automated: bool
    announced_at: datetime


@dataclass(frozen=True, slots=True)
class Task:
    """One data system's part of a request."""

    id: str
    request_id: str
    system: str
    action: str
    status: str
    manual: bool
    attempts: int
    requested_at: datetime
    due_at: datetime | None
    finished_at: datetime | None
    data: dict[str, Any] | None
    data_ref: str | None
    error: str | None
    note: str | None
    completed_by: str | None


@dataclass(frozen=True, slots=True)
class TaskToSend(Task):
    """A task with what its system needs to act: the learner and, to rectify, the corrections."""

    subject_id: str | None
    corrections: dict[str, Any] | None


class DataSystemRepository:
    async def upsert(
        self, conn: Conn, *, name: str, actions: list[str], description: str, automated: bool
    ) -> DataSystem:
        row = await conn.fetchrow(
            "INSERT INTO data_systems (name, actions, description, automated)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET actions = $2,"
            " description = $3, automated = $4, announced_at = now() RETURNING *",
            name,
            actions,
            description,
            automated,
        )
        assert row is not None
        return record(DataSystem, row)

    async def all(self, conn: Conn) -> list[DataSystem]:
        rows = await conn.fetch("SELECT * FROM data_systems ORDER BY name")
        return [record(DataSystem, r) for r in rows]

    async def supporting(self, conn: Conn, action: str) -> list[DataSystem]:
        rows = await conn.fetch(
            "SELECT * FROM data_systems WHERE $1 = ANY(actions) ORDER BY name", action
        )
        return [record(DataSystem, r) for r in rows]


class TaskRepository:
    async def insert(
        self,
        conn: Conn,
        *,
        task_id: str,
        request_id: str,
        system: str,
        action: str,
        manual: bool,
        requested_at: datetime,
        due_at: datetime | None,
    ) -> Task | None:
        """None when the request already has this (system, action) task: fan-out is idempotent."""
        row = await conn.fetchrow(
            "INSERT INTO tasks (id, request_id, system, action, manual, requested_at, due_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (request_id, system, action) DO NOTHING RETURNING *",
            task_id,
            request_id,
            system,
            action,
            manual,
            requested_at,
            due_at,
        )
        return None if row is None else record(Task, row)

    async def get(self, conn: Conn, task_id: str, *, lock: bool = False) -> TaskToSend | None:
        row = await conn.fetchrow(_GET_FOR_UPDATE if lock else _GET, task_id)
        return None if row is None else record(TaskToSend, row)

    async def for_request(self, conn: Conn, request_id: str) -> list[Task]:
        rows = await conn.fetch(
            "SELECT * FROM tasks WHERE request_id = $1 ORDER BY system, action", request_id
        )
        return [record(Task, r) for r in rows]

    async def search(
        self, conn: Conn, *, manual: bool | None, status: str | None, limit: int
    ) -> list[Task]:
        rows = await conn.fetch(
            "SELECT * FROM tasks WHERE ($1::boolean IS NULL OR manual = $1)"
            " AND ($2::text IS NULL OR status = $2) ORDER BY requested_at, id LIMIT $3",
            manual,
            status,
            limit,
        )
        return [record(Task, r) for r in rows]

    async def lock_timed_out(
        self, conn: Conn, *, now: datetime, limit: int = 100
    ) -> list[TaskToSend]:
        """Automated tasks whose answer is late; ``SKIP LOCKED`` so replicas share the sweep."""
        rows = await conn.fetch(
            "SELECT t.*, r.subject_id, r.corrections FROM tasks t"
            " JOIN requests r ON r.id = t.request_id"
            " WHERE t.status = 'pending' AND NOT t.manual AND t.due_at <= $1"
            # A refused or withdrawn request asks nothing more of anyone.
            " AND r.status = 'in_progress'"
            " ORDER BY t.due_at LIMIT $2 FOR UPDATE OF t SKIP LOCKED",
            now,
            limit,
        )
        return [record(TaskToSend, r) for r in rows]

    async def update(self, conn: Conn, task_id: str, **fields: Any) -> Task:
        return record(Task, await _UPDATE.fetch(conn, task_id, fields))


data_system_repository = DataSystemRepository()
task_repository = TaskRepository()
