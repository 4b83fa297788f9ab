"""Consuming events: inbox dedupe, bounded retries, dead-letter topic (ARCHITECTURE.md, Delivery).

For each record: decode the CloudEvent (a malformed record goes straight to ``<topic>.dlq``);
in the batch's database transaction, record its id in the inbox and apply the handler's effect
(a redelivered id changes nothing); only then does FastStream commit the Kafka offsets
(``AckPolicy.NACK_ON_ERROR``: commit after success, seek back on error). A handler that keeps
failing on the same event is tried ``max_attempts`` times, then the record goes to the DLQ with
the error in headers, so one poison message never stops the partition. An outage of the database
or the broker is not the message's fault: it is retried without end and never dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import asyncpg
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from vigie_shared import topics
from vigie_shared.events import CloudEvent, EventData
from vigie_shared.kit.cloudevents import KafkaRecord, MalformedEvent, decode
from vigie_shared.kit.db import Conn
from vigie_shared.kit.kafka import Producer
from vigie_shared.kit.metrics import (
    CONSUMER_LAG_SECONDS,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
)
from vigie_shared.kit.telemetry import consuming

log = logging.getLogger(__name__)

D = TypeVar("D", bound=EventData)
Handler = Callable[[Conn, CloudEvent[Any]], Awaitable[None]]

# Infrastructure failures: the message is fine, the world is not. Retried forever, never DLQ'd.
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    KafkaError,
    TimeoutError,
)


async def _raw_body(msg: StreamMessage[Any]) -> bytes:
    """Keep the body as bytes: FastStream would parse JSON before our handler runs, and a body
    that is not JSON must reach :func:`decode` to be dead-lettered, not loop on redelivery."""
    return msg.body


class Outcome(StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    DEAD_LETTERED = "dead_lettered"


class Deps(Protocol):
    """What a consumer needs at run time (created in the service's lifespan)."""

    @property
    def pool(self) -> asyncpg.Pool: ...

    @property
    def producer(self) -> Producer: ...


class EventConsumer:
    """One consumer group of one service; handlers are registered per event data class."""

    def __init__(
        self,
        name: str,
        deps: Deps,
        *,
        max_attempts: int = 5,
        base_delay: float = 0.05,
        transient_delay: float = 1.0,
    ) -> None:
        self.name = name
        self._deps = deps
        self._handlers: dict[str, Handler] = {}
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._transient_delay = transient_delay
        self.counts: dict[Outcome, int] = dict.fromkeys(Outcome, 0)

    def handles(self, data_cls: type[D]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._handlers[data_cls.event_type] = handler
            return handler

        return register

    def handle_all(self, handler: Handler) -> None:
        """One handler for every type of the catalog (the audit log ingests everything)."""
        from vigie_shared.events import EVENT_TYPES

        for event_type in EVENT_TYPES:
            self._handlers[event_type] = handler

    def subscribe(
        self, router: KafkaRouter | KafkaBroker, *topic_names: str, max_records: int = 500
    ) -> None:
        """Consume in batches: one transaction and one offset commit per batch, not per record
        (a commit per record costs a broker round trip each). A crash between the database
        commit and the offset commit only causes redeliveries, which the inbox absorbs."""

        async def consume(msg: KafkaMessage) -> None:
            raw = msg.raw_message
            await self.process_batch(raw if isinstance(raw, tuple) else (raw,))

        consume.__name__ = f"{self.name}_consume"
        router.subscriber(
            *topic_names,
            group_id=self.name,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            decoder=_raw_body,
            batch=True,
            max_records=max_records,
            batch_timeout_ms=100,
            # The broker answers a fetch as soon as data arrives, else after this wait: it
            # bounds the latency an idle partition adds.
            fetch_max_wait_ms=100,
            title=f"{self.name}:{','.join(topic_names)}",
        )(consume)

    async def process(self, record: ConsumerRecord[Any, Any], *, tried: int = 0) -> Outcome:
        """Handle one record on its own (its own transaction, retries, DLQ); ``tried`` counts
        attempts already made (in a batch)."""
        with consuming(
            record.headers,
            f"consume {record.topic}",
            **{"messaging.consumer.group.name": self.name, "messaging.destination": record.topic},
        ):
            outcome = await self._process(record, tried)
        self._count(record, outcome)
        return outcome

    async def process_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> list[Outcome]:
        """Handle records in order, as many as possible in one transaction (a savepoint each).

        A record whose handler fails ends the transaction before it; that record then goes
        through :meth:`process` alone (retries, then DLQ) and the batch resumes after it, so
        one person's events are still applied in order.
        """
        outcomes: list[Outcome] = []
        position = 0
        while position < len(records):
            try:
                applied, tried = await self._apply_run(records[position:])
            except TRANSIENT:
                log.warning("%s: transient failure, the batch will be redelivered", self.name)
                await asyncio.sleep(self._transient_delay)
                raise
            outcomes.extend(applied)
            position += len(applied)
            if position < len(records):
                outcomes.append(await self.process(records[position], tried=tried))
                position += 1
        return outcomes

    async def _apply_run(
        self, records: Sequence[ConsumerRecord[Any, Any]]
    ) -> tuple[list[Outcome], int]:
        """Apply records in one transaction until one fails; returns the outcomes applied and
        how many times the record that stopped the run was tried (0 if malformed)."""
        outcomes: list[Outcome] = []
        tried = 0
        async with self._deps.pool.acquire() as conn, conn.transaction():
            for record in records:
                try:
                    event = decode(record.headers, record.value)
                except MalformedEvent:
                    break  # dead-lettered by process(), outside the transaction
                handler = self._handlers.get(event.type)
                if handler is None:
                    outcomes.append(Outcome.IGNORED)
                    continue
                try:
                    with consuming(
                        record.headers,
                        f"consume {record.topic}",
                        **{
                            "messaging.consumer.group.name": self.name,
                            "messaging.destination": record.topic,
                        },
                    ):
                        async with conn.transaction():
                            outcome = await self._apply_in(conn, record, event, handler)
                except TRANSIENT:
                    raise
                except Exception:
                    tried = 1
                    break
                outcomes.append(outcome)
        for record, outcome in zip(records, outcomes, strict=False):
            self._count(record, outcome)
        return outcomes, tried

    def _count(self, record: ConsumerRecord[Any, Any], outcome: Outcome) -> None:
        self.counts[outcome] += 1
        EVENTS_CONSUMED.labels(self.name, record.topic, outcome.value).inc()
        if record.timestamp:
            CONSUMER_LAG_SECONDS.labels(self.name, record.topic).set(
                max(0.0, time.time() - record.timestamp / 1000)
            )

    async def _process(self, record: ConsumerRecord[Any, Any], tried: int) -> Outcome:
        try:
            event = decode(record.headers, record.value)
        except MalformedEvent as exc:
            log.warning(
                "%s: malformed record %s[%s]@%s to DLQ: %s",
                self.name,
                record.topic,
                record.partition,
                record.offset,
                exc.reason,
            )
            await self._dead_letter(record, "malformed", exc.reason, attempts=0)
            return Outcome.DEAD_LETTERED
        handler = self._handlers.get(event.type)
        if handler is None:
            return Outcome.IGNORED
        attempt = tried
        while True:
            attempt += 1
            try:
                async with self._deps.pool.acquire() as conn, conn.transaction():
                    return await self._apply_in(conn, record, event, handler)
            except TRANSIENT:
                log.warning("%s: transient failure on %s, will redeliver", self.name, event.id)
                await asyncio.sleep(self._transient_delay)
                raise
            except Exception as exc:
                if attempt >= self._max_attempts:
                    log.exception("%s: %s failed %d times, to DLQ", self.name, event.id, attempt)
                    await self._dead_letter(record, type(exc).__name__, str(exc), attempt)
                    return Outcome.DEAD_LETTERED
                await asyncio.sleep(self._base_delay * 2 ** (attempt - 1))

    async def _apply_in(
        self,
        conn: Conn,
        record: ConsumerRecord[Any, Any],
        event: CloudEvent[Any],
        handler: Handler,
    ) -> Outcome:
        fresh = await conn.fetchval(
            "INSERT INTO inbox (consumer, event_id, topic, partition, kafka_offset)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true",
            self.name,
            event.id,
            record.topic,
            record.partition,
            record.offset,
        )
        if not fresh:
            return Outcome.DUPLICATE
        await handler(conn, event)
        return Outcome.PROCESSED

    async def _dead_letter(
        self, record: ConsumerRecord[Any, Any], error: str, reason: str, attempts: int
    ) -> None:
        await dead_letter(
            self._deps.producer,
            record,
            consumer=self.name,
            error=error,
            reason=reason,
            attempts=attempts,
        )


async def dead_letter(
    producer: Producer,
    record: ConsumerRecord[Any, Any],
    *,
    consumer: str,
    error: str,
    reason: str,
    attempts: int,
) -> None:
    """Send ``record``, unchanged, to ``<topic>.dlq`` with the error in headers (docs/
    backbone.md, dead letters); for any consumer, batch or not."""
    EVENTS_DEAD_LETTERED.labels(consumer, record.topic).inc()
    headers = [
        *(record.headers or ()),
        ("dlq_error", error.encode()),
        ("dlq_reason", reason[:2000].encode()),
        ("dlq_consumer", consumer.encode()),
        ("dlq_topic", record.topic.encode()),
        ("dlq_partition", str(record.partition).encode()),
        ("dlq_offset", str(record.offset).encode()),
        ("dlq_attempts", str(attempts).encode()),
    ]
    await producer.send_and_wait(
        KafkaRecord(
            topic=topics.dlq(record.topic), key=record.key, value=record.value, headers=headers
        )
    )
