"""The audit log consumes every topic of the catalog (docs/architecture.md, Events), in batches.

One consumer group, a kit ``EventConsumer`` whose store is :class:`EntryStore`: each polled
batch is stored in parts, one transaction per part appending to the tree the events whose id it
does not hold. The log's unique event id is the dedupe, so no inbox row is written (a
``kit.consumer.DedupingStore``). The parts take the tree's writer lock in the order polled;
malformed records, events the log cannot represent (``EntryTooLarge``) and poison records become
dead letters; an outage fails the batch, which is redelivered; offsets are committed once every
part has (``kit.consumer`` and ``kit.consuming`` hold those rules for every consumer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from audit_log.ingest.service import IngestService, entry_of
from audit_log.tree.leaf import EntryTooLarge
from audit_log.tree.service import NewEntry
from vigie_shared.events import CloudEvent
from vigie_shared.kit.consumer import PART_SIZE, DedupingStore, Deps, EventConsumer, Refused
from vigie_shared.kit.db import Conn

CONSUMER = "audit_log.ingest"
"""The consumer group, whose name its dead letters carry; the same as the per-record consumer it
replaced. Inbox rows written under it before the log's unique event id became ingestion's dedupe
stay: nothing reads them any more, and every event they name was stored."""


class EntryStore:
    """Events become entries of the tree, each event id once: the log's unique event id
    (migration 0002) refuses one it holds and the tree skips it (``TreeService.append``), for
    as long as the log lasts (it is append-only). An inbox row per event would keep the same
    fact twice, so the store declares that it dedupes by itself
    (``kit.consumer.DedupingStore``) and says which events it stored."""

    dedupes_by_event_id: ClassVar[Literal[True]] = True

    def __init__(self, service: IngestService) -> None:
        self._service = service

    def prepare(self, event: CloudEvent[Any]) -> NewEntry:
        try:
            return entry_of(event)
        except EntryTooLarge as exc:
            raise Refused("too_large", str(exc)) from exc

    async def store(
        self, conn: Conn, items: Sequence[NewEntry], *, locked: asyncio.Event
    ) -> list[str]:
        leaves = await self._service.record(conn, items, locked=locked)
        return [leaf.event_id for leaf in leaves]


def ingest_consumer(
    deps: Deps,
    service: IngestService,
    *,
    max_attempts: int = 5,
    group: str = CONSUMER,
    part_size: int = PART_SIZE,
) -> EventConsumer:
    """The audit log's consumer group (``subscribe`` it to the topics)."""
    # Typed so that mypy holds the store to what its declaration promises the consumer.
    store: DedupingStore[NewEntry] = EntryStore(service)
    return EventConsumer(group, deps, max_attempts=max_attempts, store=store, part_size=part_size)
