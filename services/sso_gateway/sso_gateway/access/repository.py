"""All SQL on debts and access states."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import asyncpg

from sso_gateway.access.policy import Debt, ManualDecision
from sso_gateway.access.records import AccessState, DebtRecord, ReachablePlatform
from vigie_shared.kit.db import Conn, record


class AccessRepository:
    async def record_reminder(
        self,
        conn: Conn,
        *,
        debt_id: str,
        learner_id: str,
        channel: str,
        amount: Decimal,
        reminded_at: datetime,
        grace_days: int,
        suspend_at: datetime,
    ) -> DebtRecord:
        """Upsert the reminder's facts; the earliest reminder of a debt starts its grace."""
        row = await conn.fetchrow(
            "INSERT INTO debts (debt_id, learner_id, channel, amount, reminded_at, grace_days,"
            " suspend_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (debt_id) DO UPDATE SET"
            "  channel = EXCLUDED.channel, amount = EXCLUDED.amount,"
            "  reminded_at = LEAST(debts.reminded_at, EXCLUDED.reminded_at),"
            "  grace_days = CASE WHEN debts.reminded_at IS NULL"
            "    OR EXCLUDED.reminded_at < debts.reminded_at"
            "    THEN EXCLUDED.grace_days ELSE debts.grace_days END,"
            "  suspend_at = CASE WHEN debts.reminded_at IS NULL"
            "    OR EXCLUDED.reminded_at < debts.reminded_at"
            "    THEN EXCLUDED.suspend_at ELSE debts.suspend_at END,"
            "  updated_at = now()"
            " RETURNING *",
            debt_id,
            learner_id,
            channel,
            amount,
            reminded_at,
            grace_days,
            suspend_at,
        )
        assert row is not None
        return record(DebtRecord, row)

    async def record_settlement(
        self, conn: Conn, *, debt_id: str, learner_id: str, settled_at: datetime
    ) -> DebtRecord:
        row = await conn.fetchrow(
            "INSERT INTO debts (debt_id, learner_id, settled_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (debt_id) DO UPDATE SET"
            "  settled_at = LEAST(debts.settled_at, EXCLUDED.settled_at), updated_at = now()"
            " RETURNING *",
            debt_id,
            learner_id,
            settled_at,
        )
        assert row is not None
        return record(DebtRecord, row)

    async def record_exemption(
        self, conn: Conn, *, debt_id: str, learner_id: str, exempted_at: datetime, reason: str
    ) -> DebtRecord:
        row = await conn.fetchrow(
            "INSERT INTO debts (debt_id, learner_id, exempted_at, exemption_reason)"
            " VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (debt_id) DO UPDATE SET"
            "  exempted_at = LEAST(debts.exempted_at, EXCLUDED.exempted_at),"
            "  exemption_reason = COALESCE(debts.exemption_reason, EXCLUDED.exemption_reason),"
            "  updated_at = now()"
            " RETURNING *",
            debt_id,
            learner_id,
            exempted_at,
            reason,
        )
        assert row is not None
        return record(DebtRecord, row)

    async def mark_announced(self, conn: Conn, debt_id: str, *, schedule: bool) -> bool:
        """Set the once-only flag; True if this call set it (so the event goes out once)."""
        column = "schedule_announced" if schedule else "cancel_announced"
        status: str = await conn.execute(
            f"UPDATE debts SET {column} = true WHERE debt_id = $1 AND NOT {column}",  # noqa: S608
            debt_id,
        )
        return status.endswith(" 1")

    async def lock_state(self, conn: Conn, learner_id: str) -> AccessState:
        """The learner's access state, row-locked for this transaction: two gateways deciding
        for the same learner take turns, so a suspension is decided once."""
        await conn.execute(
            "INSERT INTO access_states (learner_id) VALUES ($1) ON CONFLICT DO NOTHING",
            learner_id,
        )
        row = await conn.fetchrow(
            "SELECT * FROM access_states WHERE learner_id = $1 FOR UPDATE", learner_id
        )
        assert row is not None
        return _state_of(row)

    async def debts_of(self, conn: Conn, learner_id: str) -> list[Debt]:
        rows = await conn.fetch(
            "SELECT debt_id, reminded_at, grace_days, settled_at, exempted_at FROM debts"
            " WHERE learner_id = $1",
            learner_id,
        )
        return [
            Debt(r["debt_id"], r["reminded_at"], r["grace_days"], r["settled_at"], r["exempted_at"])
            for r in rows
        ]

    async def save_state(
        self,
        conn: Conn,
        learner_id: str,
        *,
        suspended: bool,
        changed_at: datetime,
        reason: str,
        debt_ids: list[str],
    ) -> None:
        await conn.execute(
            "UPDATE access_states SET suspended = $2, changed_at = $3, reason = $4,"
            " debt_ids = $5 WHERE learner_id = $1",
            learner_id,
            suspended,
            changed_at,
            reason,
            debt_ids,
        )

    async def save_manual(self, conn: Conn, learner_id: str, decision: ManualDecision) -> None:
        await conn.execute(
            "UPDATE access_states SET manual_suspended = $2, manual_decided_at = $3,"
            " manual_reason = $4, manual_actor = $5 WHERE learner_id = $1",
            learner_id,
            decision.suspended,
            decision.decided_at,
            decision.reason,
            decision.actor_id,
        )

    async def due_learners(self, conn: Conn, now: datetime, limit: int) -> list[str]:
        """Learners with an unpaid debt past grace who are not suspended yet; rows another
        gateway is deciding right now are skipped, not waited for."""
        rows = await conn.fetch(
            "SELECT DISTINCT d.learner_id FROM debts d"
            " LEFT JOIN access_states s ON s.learner_id = d.learner_id"
            " WHERE d.settled_at IS NULL AND d.exempted_at IS NULL AND d.suspend_at <= $1"
            " AND (s.learner_id IS NULL OR NOT s.suspended) LIMIT $2",
            now,
            limit,
        )
        return [r["learner_id"] for r in rows]

    async def get_state(self, conn: Conn, learner_id: str) -> AccessState | None:
        row = await conn.fetchrow("SELECT * FROM access_states WHERE learner_id = $1", learner_id)
        return None if row is None else _state_of(row)

    async def is_suspended(self, conn: Conn, learner_id: str) -> bool:
        value: bool | None = await conn.fetchval(
            "SELECT suspended FROM access_states WHERE learner_id = $1", learner_id
        )
        return bool(value)

    async def reachable_platforms(self, conn: Conn, limit: int = 20) -> list[ReachablePlatform]:
        """Platforms a suspended learner can still open (payment, GDPR requests): not training
        platforms, used by people (the authorization code grant), and with a home page to
        open; an API or a console has none."""
        rows = await conn.fetch(
            "SELECT name, client_uri FROM clients"
            " WHERE NOT training_platform AND 'authorization_code' = ANY(grant_types)"
            " AND client_uri IS NOT NULL"
            " ORDER BY name, client_id LIMIT $1",
            limit,
        )
        return [ReachablePlatform(name=row["name"], home=row["client_uri"]) for row in rows]


access_repository = AccessRepository()


def _state_of(row: asyncpg.Record) -> AccessState:
    manual = None
    if row["manual_suspended"] is not None:
        manual = ManualDecision(
            suspended=row["manual_suspended"],
            decided_at=row["manual_decided_at"],
            reason=row["manual_reason"],
            actor_id=row["manual_actor"],
        )
    return AccessState(
        learner_id=row["learner_id"],
        suspended=row["suspended"],
        changed_at=row["changed_at"],
        reason=row["reason"],
        debt_ids=list(row["debt_ids"]),
        manual=manual,
    )
