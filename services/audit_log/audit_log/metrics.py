"""The audit log's own Prometheus series (default registry, exposed on ``/metrics``).

The tree and its checkpoints live in the database and every replica shares them, so the values
are read from there when Prometheus scrapes (what its client's custom collectors do for
values held elsewhere): each replica reports the same log, not what it appended itself, and a
stalled checkpoint signer shows as a growing age whichever replica is scraped.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import Gauge

from audit_log.context import AuditLog
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn

log = logging.getLogger(__name__)

TREE_SIZE = Gauge("vigie_audit_tree_size", "Entries in the audit log's Merkle tree.")
CHECKPOINT_TREE_SIZE = Gauge(
    "vigie_audit_checkpoint_tree_size",
    "Tree size the latest signed checkpoint commits to (tree size minus this: entries not yet "
    "covered by a signed tree head).",
)
CHECKPOINT_AGE = Gauge(
    "vigie_audit_checkpoint_age_seconds",
    "Seconds since the latest signed checkpoint was issued (NaN before the first one).",
)

# A scrape must answer even when the database does not: the previous values are kept.
REFRESH_TIMEOUT_SECONDS = 2.0


async def refresh(conn: Conn, audit: AuditLog) -> None:
    """Read the tree size and the latest checkpoint into the gauges."""
    TREE_SIZE.set(await audit.tree.size(conn))
    latest = await audit.checkpoints.latest(conn)
    if latest is None:
        CHECKPOINT_TREE_SIZE.set(0)
        CHECKPOINT_AGE.set(math.nan)
    else:
        CHECKPOINT_TREE_SIZE.set(latest.tree_size)
        CHECKPOINT_AGE.set(max(0.0, (utcnow() - latest.issued_at).total_seconds()))


def install(app: FastAPI) -> None:
    """Refresh the gauges just before ``/metrics`` (installed by the kit) renders them."""

    @app.middleware("http")
    async def refresh_before_scrape(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.method == "GET" and request.url.path == "/metrics":
            try:
                async with (
                    asyncio.timeout(REFRESH_TIMEOUT_SECONDS),
                    request.app.state.runtime.pool.acquire() as conn,
                ):
                    await refresh(conn, request.app.state.audit)
            except Exception:  # the other series are still worth serving
                log.warning("audit metrics not refreshed", exc_info=True)
        return await call_next(request)
