"""The service's clock: task timeouts, deadline reminders, expired packages, gauges.

Driven by the database, not by timers in memory: each sweep reads what is owed now, so a
restart picks up where it stopped, and row locks with ``SKIP LOCKED`` let several replicas
sweep at once without doing anything twice.
"""

from __future__ import annotations

import logging

import asyncpg

from dpo_requests.config import Settings
from dpo_requests.dashboard.metrics import dpo_metrics
from dpo_requests.deadlines import paris_date
from dpo_requests.reminders.service import reminders
from dpo_requests.requests.service import rights_request
from vigie_shared.kit.clock import utcnow

log = logging.getLogger(__name__)


async def sweep_once(pool: asyncpg.Pool, settings: Settings) -> None:
    now = utcnow()
    async with pool.acquire() as conn:
        await rights_request.sweep(conn, now=now, settings=settings)
        await reminders.sweep(conn, today=paris_date(now))
        await dpo_metrics.refresh(conn, today=paris_date(now))
