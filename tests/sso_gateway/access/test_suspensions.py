"""Suspension workflow on real PostgreSQL: events out through the outbox, exactly once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

import sso_gateway
from sso_gateway.access.repository import access_repository
from sso_gateway.access.service import AccessService
from vigie_shared.events import DebtExempted, DebtReminded, DebtSettled, PaymentChannel
from vigie_shared.kit import db
from vigie_shared.kit.clock import PARIS
from vigie_shared.kit.db import Conn
from vigie_shared.kit.migrate import migrate

pytestmark = pytest.mark.asyncio(loop_scope="session")

MIGRATIONS = Path(sso_gateway.__file__).with_name("migrations")
REMINDED = datetime(2026, 11, 3, 10, 0, tzinfo=PARIS)
DEADLINE = datetime(2026, 11, 12, 0, 0, tzinfo=PARIS)


@pytest_asyncio.fixture(loop_scope="session")
async def pool(database_url: str, schema: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_url, schema, MIGRATIONS)
    pool = await db.create_pool(database_url, schema)
    yield pool
    await pool.close()


def reminder(debt: str = "d-1", learner: str = "u-1", at: datetime = REMINDED) -> DebtReminded:
    return DebtReminded(
        debt_id=debt,
        learner_id=learner,
        channel=PaymentChannel.CPA,
        amount=Decimal("120.50"),
        reminded_at=at,
    )


def settlement(debt: str = "d-1", learner: str = "u-1", at: datetime = REMINDED) -> DebtSettled:
    return DebtSettled(debt_id=debt, learner_id=learner, amount=Decimal("120.50"), settled_at=at)


async def events(pool: asyncpg.Pool) -> list[tuple[str, dict[str, Any]]]:
    rows = await pool.fetch("SELECT headers, value FROM outbox ORDER BY id")
    return [
        (dict(r["headers"])["ce_type"].removeprefix("vigie.access."), json.loads(r["value"]))
        for r in rows
        if dict(r["headers"])["ce_type"].startswith("vigie.access.")
    ]


async def apply(pool: asyncpg.Pool, service: AccessService, fact: Any, now: datetime) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if isinstance(fact, DebtReminded):
            await service.debt_reminded(conn, fact, now)
        else:
            await service.debt_settled(conn, fact, now)


async def test_unpaid_debt_is_scheduled_suspended_after_grace_and_restored_on_payment(
    pool: asyncpg.Pool,
) -> None:
    service = AccessService(access_repository)
    await apply(pool, service, reminder(), REMINDED)
    assert await service.sweep(pool, DEADLINE - timedelta(seconds=1)) == 0
    assert await service.sweep(pool, DEADLINE) == 1
    assert await service.sweep(pool, DEADLINE + timedelta(hours=1)) == 0
    await apply(pool, service, settlement(at=DEADLINE + timedelta(days=2)), DEADLINE)
    kinds = [kind for kind, _ in await events(pool)]
    assert kinds == ["suspension.scheduled", "suspended", "restored"]
    scheduled, suspended, restored = [data for _, data in await events(pool)]
    assert datetime.fromisoformat(scheduled["suspend_at"]) == DEADLINE
    assert suspended["debt_ids"] == ["d-1"]
    assert suspended["actor"] == {"kind": "system", "id": "grace-scheduler"}
    assert restored["debt_ids"] == ["d-1"]


async def test_settlement_before_its_reminder_cancels_and_never_suspends(
    pool: asyncpg.Pool,
) -> None:
    service = AccessService(access_repository)
    await apply(pool, service, settlement(at=REMINDED - timedelta(hours=1)), REMINDED)
    await apply(pool, service, reminder(), REMINDED)
    assert await service.sweep(pool, DEADLINE + timedelta(days=1)) == 0
    assert [kind for kind, _ in await events(pool)] == ["suspension.cancelled"]


async def test_payment_within_grace_cancels_the_scheduled_suspension(pool: asyncpg.Pool) -> None:
    service = AccessService(access_repository)
    await apply(pool, service, reminder(), REMINDED)
    await apply(pool, service, settlement(at=REMINDED + timedelta(days=3)), REMINDED)
    assert await service.sweep(pool, DEADLINE + timedelta(days=1)) == 0
    kinds = [kind for kind, _ in await events(pool)]
    assert kinds == ["suspension.scheduled", "suspension.cancelled"]


async def test_several_debts_restore_only_when_all_overdue_ones_are_paid(
    pool: asyncpg.Pool,
) -> None:
    service = AccessService(access_repository)
    later = DEADLINE + timedelta(days=10)
    await apply(pool, service, reminder("d-1"), REMINDED)
    await apply(pool, service, reminder("d-2", at=REMINDED + timedelta(days=1)), REMINDED)
    await service.sweep(pool, later)
    await apply(pool, service, settlement("d-1", at=later), later)
    async with pool.acquire() as conn:
        assert await service.is_suspended(conn, "u-1")
    await apply(pool, service, settlement("d-2", at=later), later)
    async with pool.acquire() as conn:
        assert not await service.is_suspended(conn, "u-1")
    kinds = [kind for kind, _ in await events(pool)]
    assert kinds.count("suspended") == 1
    assert kinds.count("restored") == 1


async def test_replaying_every_fact_changes_nothing(pool: asyncpg.Pool) -> None:
    service = AccessService(access_repository)
    facts: list[Any] = [reminder("d-1"), reminder("d-2"), settlement("d-2", at=DEADLINE)]
    after = DEADLINE + timedelta(days=1)
    for fact in facts:
        await apply(pool, service, fact, after)
    first = await events(pool)
    for fact in reversed(facts):
        await apply(pool, service, fact, after)
    await service.sweep(pool, after)
    assert await events(pool) == first


async def test_two_gateways_sweeping_at_once_suspend_once(
    pool: asyncpg.Pool, database_url: str, schema: str
) -> None:
    other = await db.create_pool(database_url, schema)
    try:
        service_a = AccessService(access_repository)
        service_b = AccessService(access_repository)
        for n in range(20):
            await apply(pool, service_a, reminder(f"d-{n}", f"u-{n}"), REMINDED)
        await asyncio.gather(service_a.sweep(pool, DEADLINE), service_b.sweep(other, DEADLINE))
    finally:
        await other.close()
    suspended = [data["learner_id"] for kind, data in await events(pool) if kind == "suspended"]
    assert sorted(suspended) == sorted(f"u-{n}" for n in range(20))


async def test_manual_suspension_needs_a_reason_and_runs_the_enforcers(
    pool: asyncpg.Pool,
) -> None:
    service = AccessService(access_repository)
    enforced: list[str] = []

    async def revoke(conn: Conn, learner_id: str) -> None:
        enforced.append(learner_id)

    service.on_suspension(revoke)
    async with pool.acquire() as conn:
        with pytest.raises(ValueError, match="reason"):
            await service.decide_manually(
                conn, "u-9", suspend=True, reason=" ", actor_id="u-compta", now=REMINDED
            )
        await service.decide_manually(
            conn, "u-9", suspend=True, reason="chèque rejeté", actor_id="u-compta", now=REMINDED
        )
        await service.decide_manually(
            conn, "u-9", suspend=False, reason="régularisé", actor_id="u-compta", now=DEADLINE
        )
    assert enforced == ["u-9"]
    (_, suspended), (_, restored) = await events(pool)
    assert suspended["reason"] == "chèque rejeté"
    assert suspended["actor"] == {"kind": "user", "id": "u-compta"}
    assert restored["reason"] == "régularisé"


def exemption(debt: str = "d-1", learner: str = "u-1", at: datetime = REMINDED) -> DebtExempted:
    return DebtExempted(debt_id=debt, learner_id=learner, reason="échéancier", exempted_at=at)


async def exempt(
    pool: asyncpg.Pool, service: AccessService, fact: DebtExempted, now: datetime
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await service.debt_exempted(conn, fact, now)


async def test_exemption_within_grace_cancels_and_never_suspends(pool: asyncpg.Pool) -> None:
    service = AccessService(access_repository)
    await apply(pool, service, reminder(), REMINDED)
    await exempt(pool, service, exemption(at=REMINDED + timedelta(days=2)), REMINDED)
    assert await service.sweep(pool, DEADLINE + timedelta(days=5)) == 0
    events_seen = await events(pool)
    assert [kind for kind, _ in events_seen] == ["suspension.scheduled", "suspension.cancelled"]
    assert "échéancier" in events_seen[1][1]["reason"]


async def test_exemption_after_suspension_restores_access(pool: asyncpg.Pool) -> None:
    service = AccessService(access_repository)
    await apply(pool, service, reminder(), REMINDED)
    await service.sweep(pool, DEADLINE)
    later = DEADLINE + timedelta(days=1)
    await exempt(pool, service, exemption(at=later), later)
    kinds = [kind for kind, _ in await events(pool)]
    assert kinds == ["suspension.scheduled", "suspended", "restored"]
