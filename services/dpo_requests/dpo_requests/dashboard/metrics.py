"""Prometheus gauges of the register: requests by status and overdue ones (``/metrics``).

Refreshed by the scheduler's sweep (``scheduler.py``). Every replica runs the sweep and so
every replica exposes the same values, read from the shared database: aggregate them with
``max()`` (not ``sum()``) in queries and alerts. Computing them is one ``GROUP BY`` on an
indexed column (``bench/bench_dpo.py`` measures it at scale), cheaper than electing a
leader for it every sweep.
"""

from __future__ import annotations

from datetime import date

from prometheus_client import Gauge

from dpo_requests.dashboard.repository import DashboardRepository, dashboard_repository
from vigie_shared.kit.db import Conn

#: Every status a request can have (``requests_status_known``, migration 0002): each one is
#: exported, zeros included, so that a status emptied since the last sweep reads 0, not stale.
STATUSES = ("received", "identity_pending", "in_progress", "completed", "refused", "withdrawn")

REQUESTS = Gauge(
    "vigie_dpo_requests",
    "Rights requests on the register, by status.",
    ["status"],
)
OVERDUE = Gauge(
    "vigie_dpo_requests_overdue",
    "Open rights requests whose GDPR Art. 12(3) due date has passed.",
)


class DpoMetrics:
    def __init__(self, repository: DashboardRepository) -> None:
        self._repository = repository

    async def refresh(self, conn: Conn, *, today: date) -> None:
        counts = dict.fromkeys(STATUSES, 0) | await self._repository.count_by_status(conn)
        overdue = await self._repository.count_overdue(conn, today=today)
        for status, value in counts.items():
            REQUESTS.labels(status).set(value)
        OVERDUE.set(overdue)


dpo_metrics = DpoMetrics(dashboard_repository)
