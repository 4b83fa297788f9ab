"""From CloudEvents to log entries: what stays in clear, what is sealed (docs/audit-log.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from audit_log.ingest.repository import EntryRepository, entry_repository
from audit_log.tree.leaf import MAX_LEAF_BYTES, EntryTooLarge, Leaf
from audit_log.tree.service import NewEntry, TreeService
from vigie_shared.events import CloudEvent
from vigie_shared.kit.db import Conn

log = logging.getLogger(__name__)

# The person a payload is about, by the catalog's field names; the CloudEvent subject otherwise.
_SUBJECT_FIELDS = ("learner_id", "user_id", "subject_id")
# Non-personal attributes kept in clear for the suspension campaign report.
_FACETS = ("channel", "debt_id", "debt_ids")


def data_subject_of(subject: str, data: dict[str, Any]) -> str:
    for name in _SUBJECT_FIELDS:
        value = data.get(name)
        if isinstance(value, str) and value:
            return value
    return subject


def facets_of(data: dict[str, Any]) -> dict[str, Any]:
    return {name: data[name] for name in _FACETS if data.get(name) is not None}


def actor_of(data: dict[str, Any]) -> str | None:
    actor = data.get("actor")
    if isinstance(actor, dict) and "kind" in actor and "id" in actor:
        return f"{actor['kind']}:{actor['id']}"
    return None


def entry_of(event: CloudEvent[Any]) -> NewEntry:
    """The event as an entry; ``EntryTooLarge`` when its leaf could exceed what a tlog-tiles
    entry bundle carries (``tree.leaf.MAX_LEAF_BYTES``), judged before it is claimed or
    appended, so it becomes a dead letter and the tree stays servable as tiles."""
    # ``model_dump(mode="json")`` without its Python wrapper around the same pydantic-core call
    # (it runs once per event): the same dict, keys in the same order.
    data: dict[str, Any] = event.data.__pydantic_serializer__.to_python(event.data, mode="json")
    entry = NewEntry(
        event_id=event.id,
        topic=event.data.topic,
        type=event.type,
        source=event.source,
        subject=event.subject,
        actor=actor_of(data),
        time=event.time,
        data_subject=data_subject_of(event.subject, data),
        data=data,
        facets=facets_of(data),
    )
    size = entry.leaf_size_at_most()
    if size > MAX_LEAF_BYTES:
        raise EntryTooLarge(
            f"its leaf would be up to {size} bytes, beyond the {MAX_LEAF_BYTES} a tlog-tiles"
            " entry bundle carries (c2sp.org/tlog-tiles); the dead letter keeps the event"
        )
    return entry


class IngestService:
    def __init__(self, tree: TreeService, repository: EntryRepository = entry_repository) -> None:
        self._tree = tree
        self._repository = repository

    async def record(
        self, conn: Conn, entries: Sequence[NewEntry], *, locked: asyncio.Event | None = None
    ) -> list[Leaf]:
        return await self._tree.append(conn, entries, locked=locked)

    async def adopt_legacy(self, conn: Conn, *, batch: int = 1000) -> int:
        """Move rows of the pre-tree table (migration 0001) into the tree, oldest first, and drop
        their clear-text copy; idempotent, and a no-op once the old table is empty."""
        adopted = 0
        while True:
            async with conn.transaction():
                legacy = await self._repository.oldest_legacy(conn, batch)
                if not legacy:
                    return adopted
                entries = [
                    NewEntry(
                        event_id=old.event_id,
                        topic=old.topic,
                        type=old.type,
                        source=old.source,
                        subject=old.subject,
                        actor=old.actor,
                        time=old.time,
                        data_subject=data_subject_of(old.subject, old.data),
                        data=old.data,
                        facets=facets_of(old.data),
                    )
                    for old in legacy
                ]
                await self._tree.append(conn, entries)
                await self._repository.delete_legacy(conn, [old.position for old in legacy])
                adopted += len(legacy)
                log.info("adopted %d legacy entries into the tree", adopted)
