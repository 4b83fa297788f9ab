"""Kafka subscribers and the grace-period scheduler of access governance."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
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


@contextlib.asynccontextmanager
async def grace_scheduler(
    runtime: Runtime, access: AccessService, interval: float
) -> AsyncIterator[None]:
    """Suspend learners whose grace ran out: at start (deadlines that passed while the gateway
    was down) and every ``interval`` seconds. Safe with several replicas (row locks)."""

    async def loop() -> None:
        while True:
            try:
                count = await access.sweep(runtime.pool, utcnow())
                if count:
                    log.info("grace scheduler suspended %d learner(s)", count)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("grace scheduler sweep failed; retrying")
            await asyncio.sleep(interval)

    task = asyncio.create_task(loop(), name="sso-grace-scheduler")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
