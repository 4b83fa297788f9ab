"""Access governance: suspension after unpaid debts, restoration on payment.

Every handler here is idempotent and order-insensitive: facts are merged into the debt row
(earliest reminder, earliest settlement), announcements carry once-only flags, and the learner's
access is recomputed from all known facts under a row lock, emitting an event only when the
decision changes. So duplicates, late events and replays give the same final state, and two
gateway instances never suspend twice.

One instance per app (its enforcers need the app's settings), built in ``create_app``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg

from sso_gateway.access.policy import AccessDecision, ManualDecision, decide, grace_deadline
from sso_gateway.access.records import DebtRecord
from sso_gateway.access.repository import AccessRepository
from sso_gateway.access.schemas import AccessStatePublic
from sso_gateway.config import SOURCE
from vigie_shared.events import (
    AccessRestored,
    AccessSuspended,
    Actor,
    DebtExempted,
    DebtReminded,
    DebtSettled,
    EventData,
    SuspensionCancelled,
    SuspensionScheduled,
    new_event,
)
from vigie_shared.kit import outbox
from vigie_shared.kit.db import Conn

Enforcer = Callable[[Conn, str], Awaitable[None]]
"""Run in the suspending transaction: revoke the learner's sessions and training-platform
tokens, queue back-channel logouts."""

AccessListener = Callable[[Conn, str, bool, str, datetime], Awaitable[None]]
"""Run in the transaction that suspends (True) or restores (False) a learner, with the reason
and the time of the change: the Shared Signals transmitter writes its SETs there."""

BILLING = Actor(kind="service", id="accounting-system")
SCHEDULER = Actor(kind="system", id="grace-scheduler")


class AccessService:
    def __init__(self, repository: AccessRepository) -> None:
        self._repository = repository
        self._enforcers: list[Enforcer] = []
        self._listeners: list[AccessListener] = []

    def on_suspension(self, enforcer: Enforcer) -> None:
        self._enforcers.append(enforcer)

    def on_change(self, listener: AccessListener) -> None:
        """Call ``listener`` on each suspension and restoration, before the enforcers: what
        it records of the change comes before the sessions the suspension ends."""
        self._listeners.append(listener)

    async def _emit(self, conn: Conn, data: EventData, learner_id: str) -> None:
        await outbox.enqueue(conn, new_event(data, subject=learner_id, source=SOURCE))

    async def debt_reminded(self, conn: Conn, data: DebtReminded, now: datetime) -> None:
        suspend_at = grace_deadline(data.reminded_at, data.grace_days)
        row = await self._repository.record_reminder(
            conn,
            debt_id=data.debt_id,
            learner_id=data.learner_id,
            channel=data.channel.value,
            amount=data.amount,
            reminded_at=data.reminded_at,
            grace_days=data.grace_days,
            suspend_at=suspend_at,
        )
        await self._announce(conn, row)
        await self.reconcile(conn, data.learner_id, now, actor=SCHEDULER)

    async def debt_settled(self, conn: Conn, data: DebtSettled, now: datetime) -> None:
        row = await self._repository.record_settlement(
            conn, debt_id=data.debt_id, learner_id=data.learner_id, settled_at=data.settled_at
        )
        await self._announce(conn, row)
        await self.reconcile(conn, data.learner_id, now, actor=BILLING)

    async def _announce(self, conn: Conn, debt: DebtRecord) -> None:
        """Announce a debt's suspension as scheduled while it is reminded and unpaid, and as
        cancelled once it is paid before the deadline — each once, whatever order the reminder
        and the payment arrived in."""
        learner_id, debt_id, suspend_at = debt.learner_id, debt.debt_id, debt.suspend_at
        if suspend_at is None:
            return  # no reminder known yet: nothing was or will be scheduled
        ended_at = min(
            (t for t in (debt.settled_at, debt.exempted_at) if t is not None), default=None
        )
        if ended_at is None:
            if await self._repository.mark_announced(conn, debt_id, schedule=True):
                await self._emit(
                    conn,
                    SuspensionScheduled(
                        learner_id=learner_id,
                        debt_id=debt_id,
                        suspend_at=suspend_at,
                        reason=f"unpaid debt: access suspended after {debt.grace_days} days' grace",
                        actor=BILLING,
                    ),
                    learner_id,
                )
        elif ended_at < suspend_at and await self._repository.mark_announced(
            conn, debt_id, schedule=False
        ):
            await self._emit(
                conn,
                SuspensionCancelled(
                    learner_id=learner_id,
                    debt_id=debt_id,
                    reason="debt settled within the grace period"
                    if debt.settled_at is not None and debt.settled_at == ended_at
                    else f"exempted by the accounting office: {debt.exemption_reason}",
                    actor=BILLING,
                ),
                learner_id,
            )

    async def debt_exempted(self, conn: Conn, data: DebtExempted, now: datetime) -> None:
        row = await self._repository.record_exemption(
            conn,
            debt_id=data.debt_id,
            learner_id=data.learner_id,
            exempted_at=data.exempted_at,
            reason=data.reason,
        )
        await self._announce(conn, row)
        await self.reconcile(
            conn, data.learner_id, now, actor=BILLING, reason=f"exempted: {data.reason}"
        )

    async def reconcile(
        self, conn: Conn, learner_id: str, now: datetime, *, actor: Actor, reason: str = ""
    ) -> AccessDecision:
        """Recompute the learner's access from every known fact; announce and enforce a
        change. Must run inside a transaction (the state row stays locked until it ends)."""
        state = await self._repository.lock_state(conn, learner_id)
        debts = await self._repository.debts_of(conn, learner_id)
        decision = decide(debts, state.manual, now)
        if decision.suspended == state.suspended:
            return decision
        debt_ids = list(decision.overdue_debts)
        if decision.suspended:
            why = reason or "unpaid debt past its grace period"
            await self._repository.save_state(
                conn, learner_id, suspended=True, changed_at=now, reason=why, debt_ids=debt_ids
            )
            await self._emit(
                conn,
                AccessSuspended(learner_id=learner_id, debt_ids=debt_ids, reason=why, actor=actor),
                learner_id,
            )
            for listener in self._listeners:
                await listener(conn, learner_id, True, why, now)
            for enforce in self._enforcers:
                await enforce(conn, learner_id)
        else:
            why = reason or "debts settled"
            settled = list(state.debt_ids)
            await self._repository.save_state(
                conn, learner_id, suspended=False, changed_at=now, reason=why, debt_ids=[]
            )
            await self._emit(
                conn,
                AccessRestored(learner_id=learner_id, debt_ids=settled, reason=why, actor=actor),
                learner_id,
            )
            for listener in self._listeners:
                await listener(conn, learner_id, False, why, now)
        return decision

    async def decide_manually(
        self,
        conn: Conn,
        learner_id: str,
        *,
        suspend: bool,
        reason: str,
        actor_id: str,
        now: datetime,
    ) -> AccessDecision:
        """Suspend or restore by hand (role accounting), with a mandatory reason."""
        if not reason.strip():
            raise ValueError("a reason is required")
        async with conn.transaction():
            await self._repository.lock_state(conn, learner_id)
            await self._repository.save_manual(
                conn,
                learner_id,
                ManualDecision(suspended=suspend, decided_at=now, reason=reason, actor_id=actor_id),
            )
            return await self.reconcile(
                conn, learner_id, now, actor=Actor(kind="user", id=actor_id), reason=reason
            )

    async def sweep(self, pool: asyncpg.Pool, now: datetime, *, limit: int = 200) -> int:
        """Suspend every learner whose grace has run out; what a scheduler that was down when
        a deadline passed catches up on at restart. Returns how many were suspended."""
        suspended = 0
        async with pool.acquire() as conn:
            for learner_id in await self._repository.due_learners(conn, now, limit):
                async with conn.transaction():
                    decision = await self.reconcile(conn, learner_id, now, actor=SCHEDULER)
                    suspended += int(decision.suspended)
        return suspended

    async def state(self, conn: Conn, learner_id: str, now: datetime) -> AccessStatePublic:
        """What the accounting office sees for one learner."""
        state = await self._repository.get_state(conn, learner_id)
        decision = decide(
            await self._repository.debts_of(conn, learner_id),
            None if state is None else state.manual,
            now,
        )
        return AccessStatePublic(
            learner_id=learner_id,
            suspended=state is not None and state.suspended,
            changed_at=None if state is None else state.changed_at,
            reason=None if state is None else state.reason,
            debt_ids=[] if state is None else list(state.debt_ids),
            overdue_debts=list(decision.overdue_debts),
            pending_debts=list(decision.pending_debts),
            next_deadline=decision.next_deadline,
        )

    async def is_suspended(self, conn: Conn, learner_id: str) -> bool:
        return await self._repository.is_suspended(conn, learner_id)
