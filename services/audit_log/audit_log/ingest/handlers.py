"""The audit log consumes every topic of the catalog (docs/architecture.md, Events), in batches.

One consumer group; each batch polled is stored in parts of ``part_size`` records: malformed
records become dead letters (``kit.dead_letters``, as in the kit's ``EventConsumer``: one row
and one copy on ``<topic>.dlq`` per record however often it is delivered, a record of it when
it is too large to go whole), then one database
transaction per part claims the event ids in the inbox and appends the new ones to the tree.
Two parts are stored at once, on two connections: while one appends, the next claims its
records, then queues for the tree's writer lock, which the parts take in the order polled; and
the part after them is decoded meanwhile. Only once every part has committed does FastStream
commit the offsets (``AckPolicy.NACK_ON_ERROR``: commit on success, seek back on error). An
infrastructure failure (``failures.is_transient``) fails the batch, which is redelivered
after a backoff (its parts already stored are then skipped by the inbox); any other failure
makes that part fall back to one record per transaction, so one poison record becomes a dead
letter after ``max_attempts`` and never blocks the partition.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from audit_log.ingest.repository import EntryRepository, entry_repository
from audit_log.ingest.service import IngestService, entry_of
from audit_log.tree.leaf import EntryTooLarge
from audit_log.tree.service import NewEntry
from vigie_shared.kit.backoff import Backoff
from vigie_shared.kit.cloudevents import MalformedEvent, decode
from vigie_shared.kit.consumer import (
    DEFAULT_SESSION_TIMEOUT_MS,
    TRANSIENT_BACKOFF_CAP,
    Deps,
    heartbeat_interval_ms,
    log_end_of,
    positions,
)
from vigie_shared.kit.dead_letters import MAX_MESSAGE_BYTES, dead_letter, is_dead_letter
from vigie_shared.kit.failures import is_transient
from vigie_shared.kit.metrics import DEFAULT_STALL_SECONDS, ConsumerProgress, LogEnd
from vigie_shared.kit.telemetry import consuming, spans_go_anywhere

log = logging.getLogger(__name__)

CONSUMER = "audit_log.ingest"
"""Inbox name; the same as the per-record consumer it replaces, so its dedupe history holds."""

PART_SIZE = 500
"""Records per transaction (the batch size before parts): smaller parts would pay a
transaction's dozen round trips and its commit more often."""

_YIELD_EVERY = 10
"""Decoding lets the parts being stored send their next statements every this many records."""

_IN_FLIGHT = 2
"""Parts being stored at once, each in its own transaction on its own connection: while one
appends to the tree, the next claims its records in the inbox, then queues for the writer lock."""

Item = tuple[ConsumerRecord[Any, Any], NewEntry]


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
        part_size: int = PART_SIZE,
        repository: EntryRepository = entry_repository,
        retry_delay: float = 0.05,
        transient_delay: float = 1.0,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        stall_after: float = DEFAULT_STALL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._deps = deps
        self._service = service
        self._max_attempts = max_attempts
        self.group = group
        self._part_size = part_size
        self._repository = repository
        self._retry = Backoff(base=retry_delay, cap=max(retry_delay, 5.0))
        self._transient = Backoff(base=transient_delay, cap=TRANSIENT_BACKOFF_CAP)
        self._max_message_bytes = max_message_bytes
        self.progress = ConsumerProgress(group, stall_after=stall_after, clock=clock)
        self.stored = 0
        self.dead_lettered = 0

    def subscribe(
        self,
        broker: KafkaBroker,
        *topic_names: str,
        max_records: int,
        session_timeout_ms: int = DEFAULT_SESSION_TIMEOUT_MS,
    ) -> None:
        async def consume(msg: KafkaMessage) -> None:
            raw = msg.raw_message
            records = list(raw) if isinstance(raw, tuple) else [raw]
            await self.process(records, log_end=log_end_of(msg))

        broker.subscriber(
            *topic_names,
            group_id=self.group,
            batch=True,
            max_records=max_records,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            decoder=_no_decode,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms(session_timeout_ms),
            title=f"{self.group}:batch",
        )(consume)

    async def process(
        self, records: Sequence[ConsumerRecord[Any, Any]], *, log_end: LogEnd | None = None
    ) -> None:
        """Store a polled batch; a failure gives it back, after a backoff, for redelivery."""
        self.progress.received(positions(records), log_end)
        try:
            await self._process(records)
        except Exception as exc:
            failures = self.progress.failed()
            if is_transient(exc):
                log.warning("transient failure (%s), the batch will be redelivered", exc)
            else:
                log.exception("the batch failed and will be redelivered")
            await self._transient.sleep(failures)
            raise
        self.progress.advanced(positions(records), log_end)

    async def _process(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        # Asked once per batch: with nowhere for spans to go, a per-record context would only
        # be attached around decoding, which logs nothing and writes no event.
        traced = spans_go_anywhere()
        storing: list[asyncio.Task[None]] = []
        ahead: asyncio.Event | None = None
        try:
            for start in range(0, len(records), self._part_size):
                part = await self._parse(records[start : start + self._part_size], traced)
                if not part:
                    continue
                while len(storing) >= _IN_FLIGHT:
                    await storing.pop(0)
                locked = asyncio.Event()
                storing.append(asyncio.create_task(self._store_part(part, ahead, locked)))
                ahead = locked
                await asyncio.sleep(0)  # let it begin before the next part is decoded
            while storing:
                await storing.pop(0)
        finally:
            if pending := [task for task in storing if not task.done()]:
                # Failing while parts are being stored: they commit or roll back before the
                # batch is given up (and redelivered), and the error raised is the first one.
                await asyncio.wait(pending)
            for task in storing:
                if not task.cancelled():
                    task.exception()

    async def _parse(self, records: Sequence[ConsumerRecord[Any, Any]], traced: bool) -> list[Item]:
        """The entries of ``records``; a record that is not one goes to the DLQ."""
        items: list[Item] = []
        for n, record in enumerate(records, 1):
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            try:
                if traced:
                    # The receive span continues the producer's trace (W3C traceparent header),
                    # so a request's trace reaches the audit log.
                    with consuming(
                        record.headers,
                        f"receive {record.topic}",
                        **{"messaging.consumer.group.name": self.group},
                    ):
                        event = decode(record.headers, record.value)
                else:
                    event = decode(record.headers, record.value)
            except MalformedEvent as exc:
                log.warning(
                    "malformed record %s[%s]@%s, a dead letter: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    exc.reason,
                )
                await self._dead_letter(record, "malformed", exc.reason, 0)
                continue
            try:
                items.append((record, entry_of(event)))
            except EntryTooLarge as exc:
                log.warning("%s is too large for the log, a dead letter: %s", event.id, exc)
                await self._dead_letter(record, "too_large", str(exc), 0)
            except Exception as exc:
                # A valid event the log cannot represent would fail every attempt to store it.
                log.exception("%s cannot be recorded, a dead letter", event.id)
                await self._dead_letter(record, type(exc).__name__, str(exc), 0)
        return items

    async def _store_part(
        self, items: Sequence[Item], ahead: asyncio.Event | None, locked: asyncio.Event
    ) -> None:
        try:
            await self._store(items, ahead, locked)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception("part of %d failed; retrying record by record", len(items))
            for item in items:
                await self._store_one(item)

    async def _store(
        self,
        items: Sequence[Item],
        ahead: asyncio.Event | None = None,
        locked: asyncio.Event | None = None,
    ) -> None:
        """One transaction: claim ``items`` in the inbox and append the new ones to the tree.
        With ``ahead``, the claim waits until the part before holds the tree's writer lock
        (or is done), so parts take that lock in order; ``locked`` is this part's own signal,
        set once it holds the lock or has failed."""
        try:
            async with self._deps.pool.acquire() as conn, conn.transaction():
                if ahead is not None:
                    await ahead.wait()
                fresh = await self._repository.claim(
                    conn,
                    self.group,
                    [
                        (entry.event_id, record.topic, record.partition, record.offset)
                        for record, entry in items
                    ],
                )
                stored = await self._service.record(
                    conn, [entry for _, entry in items if entry.event_id in fresh], locked=locked
                )
        finally:
            if locked is not None:
                locked.set()
        self.stored += len(stored)

    async def _store_one(self, item: Item) -> None:
        record, entry = item
        if await is_dead_letter(self._deps.pool, self.group, record):
            # Given up on in a delivery whose offsets were never committed: no retries again,
            # and no second copy (the first is sent now if that delivery could not).
            await self._dead_letter(record, "redelivered", "already a dead letter", 0)
            return
        for attempt in range(1, self._max_attempts + 1):
            try:
                await self._store([item])
                return
            except Exception as exc:
                if is_transient(exc):
                    raise
                if attempt == self._max_attempts:
                    log.exception("%s failed %d times, a dead letter", entry.event_id, attempt)
                    await self._dead_letter(record, type(exc).__name__, str(exc), attempt)
                    return
                await self._retry.sleep(attempt)

    async def _dead_letter(
        self, record: ConsumerRecord[Any, Any], error: str, reason: str, attempts: int
    ) -> None:
        if await dead_letter(
            self._deps.pool,
            self._deps.producer,
            record,
            consumer=self.group,
            error=error,
            reason=reason,
            attempts=attempts,
            max_message_bytes=self._max_message_bytes,
        ):
            self.dead_lettered += 1
