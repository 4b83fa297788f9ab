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
        before. An id repeated in ``claims`` is inserted once and is fresh once in the answer
        (the caller applies it once). Answering with the new ids is cheaper than answering with
        those seen before (an anti-join of the input against them), from one record to a part
        of a batch store."""
        if not claims:
            return set()
        rows = await conn.fetch(
            "INSERT INTO inbox (consumer, event_id, topic, partition, kafka_offset)"
            " SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int[], $5::bigint[])"
            " ON CONFLICT DO NOTHING RETURNING event_id",
            consumer,
            [event_id for _, event_id in claims],
            [record.topic for record, _ in claims],
            [record.partition for record, _ in claims],
            [record.offset for record, _ in claims],
        )
        return {row["event_id"] for row in rows}


inbox_repository = InboxRepository()
