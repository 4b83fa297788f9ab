"""Consuming events: inbox dedupe, bounded retries, dead letters (docs/architecture.md, Delivery).

For each record: decode the CloudEvent (a malformed record becomes a dead letter at once); in
the batch's database transaction, record its id in the inbox (``kit.inbox``) and apply the
handler's effect (a redelivered id changes nothing); only then are the batch's Kafka offsets
committed, in the background while the next batch is read and applied (``OffsetCommits``); a
batch that fails is sought back to and redelivered.

Failures are classified (``failures.is_transient``). A permanent one, the record's fault, is
tried ``max_attempts`` times with backoff, then the record becomes a dead letter and the
partition moves on. A transient one, an outage of the database or the broker, is not the
message's fault: the batch is given back after a backoff that grows with each failure in a row,
and is redelivered, never dead-lettered. A consumer that has records waiting and has not moved
past any for its stall window is reported stalled (``ConsumerProgress``: ``/metrics``,
``/readyz``).

A consumer given a :class:`BatchStore` instead of handlers stores each polled batch in parts of
``part_size`` records, two at once, under the same rules; a :class:`DedupingStore` keeps each
event id once by itself and so claims nothing in the inbox.

Each rule has one home. This module subscribes the group, hands each batch to its path, gives a
failed batch back after the transient backoff and commits offsets after the effects. The rules
both paths apply to a record (dead letters for the malformed, bounded retries then a dead letter
for a permanent failure, outcome counts and metrics, spans) are ``kit.consuming.delivery``'s;
the handler path is ``kit.consuming.handlers``, the store path and its protocols
``kit.consuming.stores``. What services and tests use is importable from here (``__all__``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import ConsumerStoppedError, KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from vigie_shared.events import EventData
from vigie_shared.kit.backoff import Backoff
from vigie_shared.kit.consuming.delivery import Delivery, Deps, Outcome
from vigie_shared.kit.consuming.handlers import Handler, HandlerPath
from vigie_shared.kit.consuming.stores import (
    PART_SIZE,
    AnyStore,
    BatchStore,
    DedupingStore,
    Refused,
    StorePath,
)
from vigie_shared.kit.dead_letters import MAX_MESSAGE_BYTES
from vigie_shared.kit.failures import is_transient
from vigie_shared.kit.metrics import DEFAULT_STALL_SECONDS, ConsumerProgress, LogEnd

__all__ = [
    "DEFAULT_SESSION_TIMEOUT_MS",
    "PART_SIZE",
    "TRANSIENT_BACKOFF_CAP",
    "AnyStore",
    "BatchStore",
    "DedupingStore",
    "Deps",
    "EventConsumer",
    "Handler",
    "OffsetCommits",
    "Outcome",
    "Refused",
    "heartbeat_interval_ms",
    "log_end_of",
    "positions",
]

log = logging.getLogger(__name__)

D = TypeVar("D", bound=EventData)

TRANSIENT_BACKOFF_CAP = 30.0
"""Longest pause before a batch that failed on an outage is given back for redelivery."""

DEFAULT_SESSION_TIMEOUT_MS = 10_000
"""aiokafka's default; services take ``kafka_session_timeout_ms`` from their settings."""


def heartbeat_interval_ms(session_timeout_ms: int) -> int:
    """A third of the session timeout, as the Kafka consumer's documentation advises
    (``heartbeat.interval.ms``): two heartbeats may be lost before the coordinator takes the
    member for dead."""
    return max(100, session_timeout_ms // 3)


def log_end_of(msg: KafkaMessage) -> LogEnd | None:
    """The log-end offsets the message's consumer last fetched, for the lag it reports."""
    consumer = msg.consumer
    if not isinstance(consumer, AIOKafkaConsumer):
        return None

    def log_end(topic: str, partition: int) -> int | None:
        end: int | None = consumer.highwater(TopicPartition(topic, partition))
        return end

    return log_end


def positions(records: Sequence[ConsumerRecord[Any, Any]]) -> list[tuple[str, int, int]]:
    return [(record.topic, record.partition, record.offset) for record in records]


class OffsetCommits:
    """A consumer group's offset commits, made after each batch's effects have committed but not
    awaited by it: the next batch is read and applied meanwhile (the Java client's
    ``commitAsync``). Awaited, each commit, a broker round trip, lengthened every cycle of a
    consumer that is behind, and so the wait of every record queued behind it.

    An offset only says where a restarted or rebalanced consumer resumes. A commit that is lost
    (the process stops, the group rebalances, the broker refuses it) redelivers records whose
    effects are already committed, and their inbox rows (or a :class:`DedupingStore`'s own
    unique event id) make them change nothing. Commits go one at a time, each with the newest
    offsets of every partition: never one older than another that was sent before it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._due: dict[TopicPartition, int] = {}
        self._committing: asyncio.Task[None] | None = None

    def applied(self, consumer: Any, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Commit, soon, the offsets past ``records``, whose effects have committed."""
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            self._due[tp] = max(self._due.get(tp, 0), record.offset + 1)
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit(consumer))

    async def _commit(self, consumer: Any) -> None:
        while self._due:
            offsets, self._due = self._due, {}
            try:
                if isinstance(consumer, AIOKafkaConsumer):
                    # A partition the group gave to another member meanwhile is its to commit.
                    owned = consumer.assignment()
                    await consumer.commit({tp: o for tp, o in offsets.items() if tp in owned})
                else:
                    await consumer.commit()  # FastStream's stand-in, in its test client
            except (KafkaError, ConsumerStoppedError) as exc:
                # Only redeliveries follow, which the inbox absorbs.
                log.warning("%s: offsets not committed (%s)", self._name, type(exc).__name__)


async def _raw_body(msg: StreamMessage[Any]) -> bytes:
    """Keep the body as bytes: FastStream would parse JSON before our handler runs, and a body
    that is not JSON must reach ``kit.cloudevents.decode`` to be dead-lettered, not loop on
    redelivery."""
    return msg.body


class EventConsumer:
    """One consumer group of one service; handlers are registered per event data class, or
    one :class:`BatchStore` takes every event."""

    def __init__(
        self,
        name: str,
        deps: Deps,
        *,
        max_attempts: int = 5,
        base_delay: float = 0.05,
        transient_delay: float = 1.0,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        stall_after: float = DEFAULT_STALL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        store: AnyStore | None = None,
        part_size: int = PART_SIZE,
    ) -> None:
        """``base_delay`` is the first wait between tries of a failing handler;
        ``transient_delay`` the first pause before a batch failed by an outage is given back
        (each doubles with the failures in a row, see ``kit.backoff``). With ``store``, every
        event goes to it in parts of ``part_size`` records, and no handler is registered."""
        self.name = name
        self._delivery = Delivery(
            name,
            deps,
            max_attempts=max_attempts,
            base_delay=base_delay,
            max_message_bytes=max_message_bytes,
        )
        self._handlers = HandlerPath(self._delivery)
        self._store = None if store is None else StorePath(self._delivery, store, part_size)
        self._transient = Backoff(base=transient_delay, cap=TRANSIENT_BACKOFF_CAP)
        self.progress = ConsumerProgress(name, stall_after=stall_after, clock=clock)

    @property
    def counts(self) -> dict[Outcome, int]:
        """Records this process handled, by outcome."""
        return self._delivery.counts

    @property
    def dead_lettered(self) -> int:
        """Records this process made dead letters (not counting redeliveries of one)."""
        return self._delivery.dead_lettered

    @property
    def stored(self) -> int:
        """Records whose effect this process applied."""
        return self.counts[Outcome.PROCESSED]

    def handles(self, data_cls: type[D]) -> Callable[[Handler], Handler]:
        if self._store is not None:
            raise TypeError(f"{self.name}: its store takes every event, it has no handlers")

        def register(handler: Handler) -> Handler:
            self._handlers.handlers[data_cls.event_type] = handler
            return handler

        return register

    def subscribe(
        self,
        router: KafkaRouter | KafkaBroker,
        *topic_names: str,
        max_records: int = 500,
        session_timeout_ms: int = DEFAULT_SESSION_TIMEOUT_MS,
    ) -> None:
        """Consume in batches: one transaction and one offset commit per batch, not per record
        (a commit per record costs a broker round trip each). A crash between the database
        commit and the offset commit only causes redeliveries, which the inbox absorbs."""
        commits = OffsetCommits(self.name)

        async def consume(msg: KafkaMessage) -> None:
            raw = msg.raw_message
            records = raw if isinstance(raw, tuple) else (raw,)
            try:
                await self.process_batch(records, log_end=log_end_of(msg))
            except Exception:
                # Each partition back to the batch's first record: it is delivered again. One
                # the group gave to another member meanwhile cannot be sought: it is theirs.
                with contextlib.suppress(KafkaError):
                    await msg.nack()
                raise
            commits.applied(msg.consumer, records)

        consume.__name__ = f"{self.name}_consume"
        router.subscriber(
            *topic_names,
            group_id=self.name,
            auto_offset_reset="earliest",
            # Offsets are committed by ``consume`` (after the effects), sought back on error.
            ack_policy=AckPolicy.MANUAL,
            decoder=_raw_body,
            batch=True,
            max_records=max_records,
            batch_timeout_ms=100,
            # Apache Kafka answers a fetch as soon as data arrives; the embedded broker holds
            # it for up to about half this wait (measured), which bounds the latency it adds.
            # Shorter costs idle CPU in empty fetches, an idle consumer and the broker then
            # spinning on them.
            fetch_max_wait_ms=100,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms(session_timeout_ms),
            title=f"{self.name}:{','.join(topic_names)}",
        )(consume)

    async def process(self, record: ConsumerRecord[Any, Any], *, tried: int = 0) -> Outcome:
        """Handle one record on its own (its own transaction, retries, DLQ); ``tried`` counts
        attempts already made (in a batch). Handlers only: a store's records go through
        :meth:`process_batch`."""
        return await self._handlers.process(record, tried)

    async def process_batch(
        self, records: Sequence[ConsumerRecord[Any, Any]], *, log_end: LogEnd | None = None
    ) -> list[Outcome]:
        """Handle records in order, as many as possible in one transaction.

        A record whose handler fails ends the transaction before it; that record then goes
        through :meth:`process` alone (retries, then dead letter) and the batch resumes after
        it, so one person's events are still applied in order. A transient failure gives the
        whole batch back, after a backoff, for redelivery (the inbox skips what was applied).
        """
        self.progress.received(positions(records), log_end)
        try:
            if self._store is None:
                outcomes = await self._handlers.process_batch(records)
            else:
                outcomes = await self._store.store_batch(records)
        except Exception as exc:
            failures = self.progress.failed()
            if is_transient(exc):
                log.warning(
                    "%s: transient failure (%s), the batch will be redelivered",
                    self.name,
                    type(exc).__name__,
                )
            else:
                log.exception("%s: the batch failed and will be redelivered", self.name)
            await self._transient.sleep(failures)
            raise
        self.progress.advanced(positions(records), log_end)
        return outcomes
