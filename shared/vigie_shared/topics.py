"""Kafka topic names of the event catalog of docs/architecture.md."""

from __future__ import annotations

IDENTITY = "identity.events.v1"
ACCESS = "access.events.v1"
BILLING = "billing.events.v1"
DPO_REQUESTS = "dpo.requests.v1"
DPO_TASKS = "dpo.tasks.v1"
DPO_TASK_RESULTS = "dpo.task-results.v1"

ALL: tuple[str, ...] = (IDENTITY, ACCESS, BILLING, DPO_REQUESTS, DPO_TASKS, DPO_TASK_RESULTS)


def dlq(topic: str) -> str:
    """Dead-letter topic of ``topic``: undeliverable messages, unchanged, error in headers."""
    return f"{topic}.dlq"
