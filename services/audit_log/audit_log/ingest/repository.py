"""All SQL on ingestion's own state: the pre-tree table of migration 0001 (the inbox is the kit's,
``kit.inbox``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vigie_shared.kit.db import Conn


@dataclass(frozen=True)
class LegacyEntry:
    """A row of the pre-tree table (migration 0001), its payload in clear."""

    position: int
    event_id: str
    topic: str
    type: str
    source: str
    subject: str
    actor: str | None
    time: datetime
    data: dict[str, Any]


class EntryRepository:
    async def oldest_legacy(self, conn: Conn, limit: int) -> list[LegacyEntry]:
        rows = await conn.fetch(
            "SELECT position, event_id, topic, type, source, subject, actor, time, data"
            " FROM entries ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED",
            limit,
        )
        return [
            LegacyEntry(
                position=row["position"],
                event_id=row["event_id"],
                topic=row["topic"],
                type=row["type"],
                source=row["source"],
                subject=row["subject"],
                actor=row["actor"],
                time=row["time"],
                data=row["data"],
            )
            for row in rows
        ]

    async def delete_legacy(self, conn: Conn, positions: Sequence[int]) -> None:
        await conn.execute(
            "DELETE FROM entries WHERE position = ANY($1::bigint[])", list(positions)
        )


entry_repository = EntryRepository()
