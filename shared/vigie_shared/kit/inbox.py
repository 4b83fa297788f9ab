"""The inbox (kit migration 0001): every event id a consumer group applied, written in the
transaction of its effect, so that a redelivery (Kafka delivers at least once) finds its id
and changes nothing. All SQL on ``inbox``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka.structs import ConsumerRecord

from vigie_shared.events import CloudEvent
from vigie_shared.kit.db import Conn


class InboxRepository:
    async def claim(
        self, conn: Conn, consumer: str, record: ConsumerRecord[Any, Any], event: CloudEvent[Any]
    ) -> bool:
        """Record ``event`` as applied by ``consumer``; False when it already was."""
        fresh = await conn.fetchval(
            "INSERT INTO inbox (consumer, event_id, topic, partition, kafka_offset)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true",
            consumer,
            event.id,
            record.topic,
            record.partition,
            record.offset,
        )
        return bool(fresh)

    async def claim_all(
        self,
        conn: Conn,
        consumer: str,
        items: Sequence[tuple[ConsumerRecord[Any, Any], CloudEvent[Any]]],
    ) -> set[str]:
        """:meth:`claim` for a whole run in one statement; the ids not seen before."""
        if not items:
            return set()
        rows = await conn.fetch(
            "INSERT INTO inbox (consumer, event_id, topic, partition, kafka_offset)"
            " SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int[], $5::bigint[])"
            " ON CONFLICT DO NOTHING RETURNING event_id",
            consumer,
            [event.id for _, event in items],
            [record.topic for record, _ in items],
            [record.partition for record, _ in items],
            [record.offset for record, _ in items],
        )
        return {row["event_id"] for row in rows}


inbox_repository = InboxRepository()
