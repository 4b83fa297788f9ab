"""All SQL on ingestion's own state: the inbox of the batch consumer, the 0001 table."""

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
    async def claim(
        self, conn: Conn, consumer: str, records: Sequence[tuple[str, str, int, int]]
    ) -> set[str]:
        """Insert ``(event_id, topic, partition, offset)`` into the inbox; the ids not seen
        before (docs/architecture.md, Delivery: dedupe by ``ce_id``). The statement answers with the
        ids seen before, usually none, rather than with every new one."""
        event_ids = [r[0] for r in records]
        rows = await conn.fetch(
            "WITH claimed AS ("
            " INSERT INTO inbox (consumer, event_id, topic, partition, kafka_offset)"
            " SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int[], $5::bigint[])"
            " ON CONFLICT DO NOTHING RETURNING event_id)"
            " SELECT r.event_id FROM unnest($2::text[]) AS r(event_id)"
            " WHERE r.event_id NOT IN (SELECT event_id FROM claimed)",
            consumer,
            event_ids,
            [r[1] for r in records],
            [r[2] for r in records],
            [r[3] for r in records],
        )
        return set(event_ids).difference(row["event_id"] for row in rows)

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
