"""Kafka subscribers and the grace-period scheduler of access governance."""

from __future__ import annotations

import logging
from typing import Any

from sso_gateway.access.service import AccessService
from vigie_shared import topics
from vigie_shared.events import CloudEvent, DebtExempted, DebtReminded, DebtSettled
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn
from vigie_shared.kit.runtime import Runtime

log = logging.getLogger(__name__)


def register(runtime: Runtime, access: AccessService) -> None:
    consumer = runtime.consumer("access", topics.BILLING)

    @consumer.handles(DebtReminded)
    async def on_reminded(conn: Conn, event: CloudEvent[Any]) -> None:
        await access.debt_reminded(conn, event.data, utcnow())

    @consumer.handles(DebtSettled)
    async def on_settled(conn: Conn, event: CloudEvent[Any]) -> None:
        await access.debt_settled(conn, event.data, utcnow())

    @consumer.handles(DebtExempted)
    async def on_exempted(conn: Conn, event: CloudEvent[Any]) -> None:
        await access.debt_exempted(conn, event.data, utcnow())


def schedule_grace(runtime: Runtime, access: AccessService, interval: float) -> None:
    """Suspend learners whose grace ran out: at start (deadlines that passed while the gateway
    was down) and every ``interval`` seconds. Safe with several replicas (row locks)."""

    async def sweep() -> None:
        count = await access.sweep(runtime.pool, utcnow())
        if count:
            log.info("grace scheduler suspended %d learner(s)", count)

    runtime.every(interval, "grace scheduler", sweep)
