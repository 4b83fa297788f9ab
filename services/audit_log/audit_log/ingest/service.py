from __future__ import annotations

from typing import Any

from audit_log.ingest.repository import EntryRepository, entry_repository
from vigie_shared.events import CloudEvent
from vigie_shared.kit.db import Conn


class IngestService:
    def __init__(self, repository: EntryRepository) -> None:
        self._repository = repository

    async def record(self, conn: Conn, event: CloudEvent[Any]) -> None:
        actor = getattr(event.data, "actor", None)
        await self._repository.append(
            conn,
            event_id=event.id,
            topic=event.data.topic,
            type_=event.type,
            source=event.source,
            subject=event.subject,
            actor=f"{actor.kind}:{actor.id}" if actor is not None else None,
            time=event.time,
            data_json=event.data.model_dump_json(),
        )


ingest = IngestService(entry_repository)
