"""Deadline reminders: ``dpo.request.due_soon`` (7 days before) and ``dpo.request.overdue``.

Each is sent once per deadline in force: the due date it was sent for is stored in the same
transaction as the outbox row, so a restart neither loses nor repeats it, and replicas running
the sweep at once take different rows (``FOR UPDATE SKIP LOCKED``). An extension or a clock
suspension moves the due date, which owes its own reminders.
"""

from __future__ import annotations

from datetime import date

from dpo_requests.config import SOURCE
from dpo_requests.deadlines import DUE_SOON_DAYS
from dpo_requests.requests.repository import RequestRepository, request_repository
from vigie_shared.events import CloudEvent, DpoRequestDueSoon, DpoRequestOverdue, new_event
from vigie_shared.kit import outbox
from vigie_shared.kit.db import Conn


class ReminderService:
    def __init__(self, repository: RequestRepository) -> None:
        self._repository = repository

    async def sweep(self, conn: Conn, *, today: date) -> int:
        """Send the reminders owed on ``today`` (a Paris date); returns how many."""
        sent = 0
        async with conn.transaction():
            for owed in await self._repository.lock_reminders_due(
                conn, today=today, due_soon_days=DUE_SOON_DAYS
            ):
                due_on = owed.due_on
                subject = owed.subject_id or owed.id
                event: CloudEvent[DpoRequestOverdue] | CloudEvent[DpoRequestDueSoon]
                if due_on < today:
                    event = new_event(
                        DpoRequestOverdue(request_id=owed.id, due_on=due_on),
                        subject=subject,
                        source=SOURCE,
                    )
                    await self._repository.update(conn, owed.id, overdue_sent_for=due_on)
                    kind = "overdue"
                else:
                    event = new_event(
                        DpoRequestDueSoon(request_id=owed.id, due_on=due_on),
                        subject=subject,
                        source=SOURCE,
                    )
                    await self._repository.update(conn, owed.id, due_soon_sent_for=due_on)
                    kind = "due_soon"
                await outbox.enqueue(conn, event)
                await self._repository.add_timeline(
                    conn,
                    owed.id,
                    kind=kind,
                    actor_kind="system",
                    actor_id="dpo-reminders",
                    detail={"due_on": due_on.isoformat()},
                )
                sent += 1
        return sent


reminders = ReminderService(request_repository)
