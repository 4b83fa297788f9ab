"""The audit log consumes every topic of the catalog (ARCHITECTURE.md, Events), in batches.

One consumer group; for each batch polled: malformed records go to ``<topic>.dlq`` (as the kit's
``EventConsumer`` does), then one database transaction claims the event ids in the inbox and
appends the new ones to the tree; only after it commits does FastStream commit the offsets
(``AckPolicy.NACK_ON_ERROR``: commit on success, seek back on error). An infrastructure failure
fails the batch, which is redelivered; any other failure makes the batch fall back to one record
per transaction, so one poison record goes to the DLQ after ``max_attempts`` and never blocks
the partition.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from audit_log.ingest.repository import EntryRepository, entry_repository
from audit_log.ingest.service import IngestService
from vigie_shared.events import CloudEvent, EventData
from vigie_shared.kit.cloudevents import MalformedEvent, decode
from vigie_shared.kit.consumer import TRANSIENT, Deps, dead_letter
from vigie_shared.kit.telemetry import consuming

log = logging.getLogger(__name__)

CONSUMER = "audit_log.ingest"
"""Inbox name; the same as the per-record consumer it replaces, so its dedupe history holds."""


async def _no_decode(_msg: StreamMessage[Any]) -> bytes:
    # Bodies stay bytes: a body that is not JSON must reach decode() to be dead-lettered.
    return b""


class BatchIngest:
    def __init__(
        self,
        deps: Deps,
        service: IngestService,
        *,
        max_attempts: int = 5,
        group: str = CONSUMER,
        repository: EntryRepository = entry_repository,
    ) -> None:
        self._deps = deps
        self._service = service
        self._max_attempts = max_attempts
        self.group = group
        self._repository = repository
        self.stored = 0
        self.dead_lettered = 0

    def subscribe(self, broker: KafkaBroker, *topic_names: str, max_records: int) -> None:
        async def consume(msg: KafkaMessage) -> None:
            raw = msg.raw_message
            await self.process(list(raw) if isinstance(raw, tuple) else [raw])

        broker.subscriber(
            *topic_names,
            group_id=self.group,
            batch=True,
            max_records=max_records,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            decoder=_no_decode,
            title=f"{self.group}:batch",
        )(consume)

    async def process(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        good: list[tuple[ConsumerRecord[Any, Any], CloudEvent[EventData]]] = []
        for record in records:
            try:
                # The receive span continues the producer's trace (W3C traceparent header), so
                # a request's trace reaches the audit log.
                with consuming(
                    record.headers,
                    f"receive {record.topic}",
                    **{"messaging.consumer.group.name": self.group},
                ):
                    good.append((record, decode(record.headers, record.value)))
            except MalformedEvent as exc:
                log.warning(
                    "malformed record %s[%s]@%s to DLQ: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    exc.reason,
                )
                await self._dead_letter(record, "malformed", exc.reason, 0)
        if not good:
            return
        try:
            await self._store(good)
        except TRANSIENT:
            raise
        except Exception:
            log.exception("batch of %d failed; retrying record by record", len(good))
            for item in good:
                await self._store_one(item)

    async def _store(
        self, items: Sequence[tuple[ConsumerRecord[Any, Any], CloudEvent[EventData]]]
    ) -> None:
        async with self._deps.pool.acquire() as conn, conn.transaction():
            fresh = await self._repository.claim(
                conn,
                self.group,
                [
                    (event.id, record.topic, record.partition, record.offset)
                    for record, event in items
                ],
            )
            stored = await self._service.record(
                conn, [event for _, event in items if event.id in fresh]
            )
        self.stored += len(stored)

    async def _store_one(
        self, item: tuple[ConsumerRecord[Any, Any], CloudEvent[EventData]]
    ) -> None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                await self._store([item])
                return
            except TRANSIENT:
                raise
            except Exception as exc:
                if attempt == self._max_attempts:
                    log.exception("%s failed %d times, to DLQ", item[1].id, attempt)
                    await self._dead_letter(item[0], type(exc).__name__, str(exc), attempt)
                    return
                await asyncio.sleep(0.05 * 2 ** (attempt - 1))

    async def _dead_letter(
        self, record: ConsumerRecord[Any, Any], error: str, reason: str, attempts: int
    ) -> None:
        await dead_letter(
            self._deps.producer,
            record,
            consumer=self.group,
            error=error,
            reason=reason,
            attempts=attempts,
        )
        self.dead_lettered += 1
