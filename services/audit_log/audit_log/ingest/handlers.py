"""The audit log consumes every topic of the catalog (docs/architecture.md, Events), in batches.

One consumer group, a kit ``EventConsumer`` whose store is :class:`EntryStore`: each polled
batch is stored in parts, one transaction per part claiming the event ids in the inbox and
appending the new ones to the tree. The parts take the tree's writer lock in the order polled;
malformed records, events the log cannot represent (``EntryTooLarge``) and poison records become
dead letters; an outage fails the batch, which is redelivered; offsets are committed once every
part has (``kit.consumer`` holds those rules for every consumer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from audit_log.ingest.service import IngestService, entry_of
from audit_log.tree.leaf import EntryTooLarge
from audit_log.tree.service import NewEntry
from vigie_shared.events import CloudEvent
from vigie_shared.kit.consumer import PART_SIZE, Deps, EventConsumer, Refused
from vigie_shared.kit.db import Conn

CONSUMER = "audit_log.ingest"
"""Inbox name; the same as the per-record consumer it replaced, so its dedupe history holds."""


class EntryStore:
    """Events become entries of the tree (a ``kit.consumer.BatchStore``)."""

    def __init__(self, service: IngestService) -> None:
        self._service = service

    def prepare(self, event: CloudEvent[Any]) -> NewEntry:
        try:
            return entry_of(event)
        except EntryTooLarge as exc:
            raise Refused("too_large", str(exc)) from exc

    async def store(self, conn: Conn, items: Sequence[NewEntry], *, locked: asyncio.Event) -> None:
        await self._service.record(conn, items, locked=locked)


def ingest_consumer(
    deps: Deps,
    service: IngestService,
    *,
    max_attempts: int = 5,
    group: str = CONSUMER,
    part_size: int = PART_SIZE,
) -> EventConsumer:
    """The audit log's consumer group (``subscribe`` it to the topics)."""
    return EventConsumer(
        group,
        deps,
        max_attempts=max_attempts,
        store=EntryStore(service),
        part_size=part_size,
    )
