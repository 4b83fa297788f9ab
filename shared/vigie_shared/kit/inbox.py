"""The inbox (kit migration 0001): every event id a consumer group applied, written in the
transaction of its effect, so that a redelivery (Kafka delivers at least once) finds its id
and changes nothing. All SQL on ``inbox``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka.structs import ConsumerRecord

from vigie_shared.kit.db import Conn

Claim = tuple[ConsumerRecord[Any, Any], str]
"""A record and the id of the event it carries (its ``ce_id``)."""


class InboxRepository:
    async def claim(self, conn: Conn, consumer: str, claims: Sequence[Claim]) -> set[str]:
        """Record the events as applied by ``consumer``, in one statement; the ids not seen
        before. The statement answers with the ids seen before, usually none, rather than with
        every new one: a run of hundreds then costs no rows back. An id repeated in ``claims``
        is inserted once and is fresh once in the answer (the caller applies it once)."""
        if not claims:
            return set()
        event_ids = [event_id for _, event_id in claims]
        rows = await conn.fetch(
            "WITH claimed AS ("
            " INSERT INTO inbox (consumer, event_id, topic, partition, kafka_offset)"
            " SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int[], $5::bigint[])"
            " ON CONFLICT DO NOTHING RETURNING event_id)"
            " SELECT r.event_id FROM unnest($2::text[]) AS r(event_id)"
            " WHERE r.event_id NOT IN (SELECT event_id FROM claimed)",
            consumer,
            event_ids,
            [record.topic for record, _ in claims],
            [record.partition for record, _ in claims],
            [record.offset for record, _ in claims],
        )
        return set(event_ids).difference(row["event_id"] for row in rows)


inbox_repository = InboxRepository()
