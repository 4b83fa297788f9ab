"""Consuming events: inbox dedupe, bounded retries, dead letters (docs/architecture.md, Delivery).

For each record: decode the CloudEvent (a malformed record becomes a dead letter at once); in
the batch's database transaction, record its id in the inbox (``kit.inbox``) and apply the
handler's effect (a redelivered id changes nothing); only then are the batch's Kafka offsets
committed, in the background while the next batch is read and applied (``OffsetCommits``); a
batch that fails is sought back to and redelivered.

Failures are classified (``failures.is_transient``). A permanent one, the record's fault, is
tried ``max_attempts`` times with backoff, then the record becomes a dead letter (one row and one
copy on ``<topic>.dlq`` per consumer group, whatever the redeliveries) and the partition moves
on. A transient one, an outage of the database or the broker, is not the message's fault: the
batch is given back after a backoff that grows with each failure in a row, and is redelivered,
never dead-lettered. A consumer that has records waiting and has not moved past any for its
stall window is reported stalled (``ConsumerProgress``: ``/metrics``, ``/readyz``).

A consumer given a :class:`BatchStore` instead of handlers stores each polled batch in parts of
``part_size`` records: one transaction per part claims the part's ids in the inbox and hands the
new ones to the store. A :class:`DedupingStore` (the audit log's, which takes every event and
whose unique event id refuses a repeat) is handed every record and claims nothing: it says
which it stored. Two parts are stored at once, on two connections, and take the store's ordering
lock in the order polled, while the next part is decoded. A part that fails (not transiently)
is stored again one record per transaction, so a poison record becomes a dead letter after
``max_attempts`` and the rest of its part is kept. Retries, dead letters, the transient backoff,
the offset commit after the effect and the metrics are those of the handler path.

One module for both paths, over the usual length: they share every rule above, and splitting
them would give those rules two homes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Sequence
from contextlib import AbstractContextManager
from enum import StrEnum
from typing import Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import ConsumerStoppedError, KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from opentelemetry import trace

from vigie_shared.events import CloudEvent, EventData
from vigie_shared.kit.backoff import Backoff
from vigie_shared.kit.cloudevents import MalformedEvent, decode
from vigie_shared.kit.db import Conn
from vigie_shared.kit.dead_letters import MAX_MESSAGE_BYTES, dead_letter, is_dead_letter
from vigie_shared.kit.failures import is_transient
from vigie_shared.kit.inbox import inbox_repository
from vigie_shared.kit.kafka import Producer
from vigie_shared.kit.metrics import (
    CONSUMER_LAG_SECONDS,
    DEFAULT_STALL_SECONDS,
    EVENTS_CONSUMED,
    ConsumerProgress,
    LogEnd,
)
from vigie_shared.kit.telemetry import consuming, spans_go_anywhere

log = logging.getLogger(__name__)

D = TypeVar("D", bound=EventData)
T = TypeVar("T")
Handler = Callable[[Conn, CloudEvent[Any]], Awaitable[None]]

TRANSIENT_BACKOFF_CAP = 30.0
"""Longest pause before a batch that failed on an outage is given back for redelivery."""

DEFAULT_SESSION_TIMEOUT_MS = 10_000
"""aiokafka's default; services take ``kafka_session_timeout_ms`` from their settings."""

PART_SIZE = 500
"""Records per transaction of a :class:`BatchStore` (the batch size before parts): smaller
parts would pay a transaction's dozen round trips and its commit more often."""

_IN_FLIGHT = 2
"""Parts being stored at once, each in its own transaction on its own connection: while one
holds the store's ordering lock, the next claims its records in the inbox (unless its store
dedupes by itself), then queues."""

_YIELD_EVERY = 10
"""Decoding lets the parts being stored send their next statements every this many records."""


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


class _HandlerFailed(Exception):
    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


class _UnattributedFailure(Exception):
    """The run's transaction was aborted by an error some handler caught and did not re-raise."""


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


class Refused(Exception):
    """A valid event that a :class:`BatchStore` can never take (too large for it, say): a dead
    letter at once, never claimed nor retried."""

    def __init__(self, error: str, reason: str) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason


class BatchStore(Protocol[T]):
    """A consumer's own storage of its records, part by part, in place of handlers; the
    consumer claims each part's event ids in the inbox and hands the store the new ones."""

    def prepare(self, event: CloudEvent[Any]) -> T:
        """What is stored of ``event``, judged before it is claimed; raises :class:`Refused`
        (or any error) for an event that can never be stored, which becomes a dead letter."""
        ...

    async def store(self, conn: Conn, items: Sequence[T], *, locked: asyncio.Event) -> None:
        """Apply the new ``items`` of a part in its transaction, in order; set ``locked`` once
        holding the lock that orders the parts (the consumer sets it when this returns)."""
        ...


@runtime_checkable
class DedupingStore(Protocol[T]):
    """A :class:`BatchStore` that keeps each event id once by itself, and so has nothing
    claimed in the inbox.

    Its storage holds the id of every event it applied under a unique key, for as long as the
    effect lasts, and it skips the ids it holds: an inbox row per event would record the same
    fact a second time, in the same transaction, at a cost per event. Delivery stays at least
    once and the effect once per id: a redelivered record reaches the store, which stores
    nothing for it and says so, and the consumer counts it a duplicate.
    """

    dedupes_by_event_id: ClassVar[Literal[True]]
    """The declaration that takes the store off the inbox; a store without it is claimed."""

    def prepare(self, event: CloudEvent[Any]) -> T:
        """As :meth:`BatchStore.prepare`; what it makes carries the event's id."""
        ...

    async def store(
        self, conn: Conn, items: Sequence[T], *, locked: asyncio.Event
    ) -> Collection[str]:
        """Apply, in the part's transaction and in order, those of ``items`` whose event id it
        does not hold yet (an id repeated in ``items`` once); the event ids it applied. Set
        ``locked`` as :meth:`BatchStore.store` does."""
        ...


AnyStore = BatchStore[Any] | DedupingStore[Any]


_Item = tuple[int, ConsumerRecord[Any, Any], str, Any]
"""A record of a part: its place in the batch, the record, its event id, what is stored."""


def _first_of(new: set[str], event_id: str) -> Outcome:
    """A part's record given the part's ids that are new (claimed, or stored by the store): the
    first record of a new id is processed, any later one a duplicate (``new`` loses the id)."""
    if event_id in new:
        new.discard(event_id)
        return Outcome.PROCESSED
    return Outcome.DUPLICATE


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
        self._deps = deps
        self._handlers: dict[str, Handler] = {}
        self._store = store
        self._part_size = part_size
        self._max_attempts = max_attempts
        self._retry = Backoff(base=base_delay, cap=max(base_delay, 5.0))
        self._transient = Backoff(base=transient_delay, cap=TRANSIENT_BACKOFF_CAP)
        self._max_message_bytes = max_message_bytes
        self.progress = ConsumerProgress(name, stall_after=stall_after, clock=clock)
        self.counts: dict[Outcome, int] = dict.fromkeys(Outcome, 0)
        self.dead_lettered = 0
        """Records this process made dead letters (not counting redeliveries of one)."""

    @property
    def stored(self) -> int:
        """Records whose effect this process applied."""
        return self.counts[Outcome.PROCESSED]

    def handles(self, data_cls: type[D]) -> Callable[[Handler], Handler]:
        if self._store is not None:
            raise TypeError(f"{self.name}: its store takes every event, it has no handlers")

        def register(handler: Handler) -> Handler:
            self._handlers[data_cls.event_type] = handler
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

    def _span(
        self, record: ConsumerRecord[Any, Any], operation: str = "consume"
    ) -> AbstractContextManager[trace.Span]:
        """The record's span, child of the producer's trace (``kit.telemetry``)."""
        return consuming(
            record.headers,
            f"{operation} {record.topic}",
            **{"messaging.consumer.group.name": self.name, "messaging.destination": record.topic},
        )

    async def process(self, record: ConsumerRecord[Any, Any], *, tried: int = 0) -> Outcome:
        """Handle one record on its own (its own transaction, retries, DLQ); ``tried`` counts
        attempts already made (in a batch). Handlers only: a store's records go through
        :meth:`process_batch`."""
        with self._span(record):
            outcome = await self._process(record, tried)
        self._count(record, outcome)
        return outcome

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
                outcomes = await self._process_batch(records)
            else:
                outcomes = await self._store_batch(self._store, records)
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

    async def _process_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        position = 0
        while position < len(records):
            try:
                applied, tried = await self._apply_run(records[position:])
            except _UnattributedFailure:
                applied, tried = await self._apply_run_guarded(records[position:])
            outcomes.extend(applied)
            position += len(applied)
            if position < len(records):
                outcomes.append(await self.process(records[position], tried=tried))
                position += 1
        return outcomes

    def _decode_run(
        self, records: Sequence[ConsumerRecord[Any, Any]]
    ) -> list[tuple[ConsumerRecord[Any, Any], CloudEvent[Any], Handler | None]]:
        """The records up to the first malformed one (dead-lettered by :meth:`process`)."""
        run: list[tuple[ConsumerRecord[Any, Any], CloudEvent[Any], Handler | None]] = []
        for record in records:
            try:
                event = decode(record.headers, record.value)
            except MalformedEvent:
                break
            run.append((record, event, self._handlers.get(event.type)))
        return run

    async def _apply_run(
        self, records: Sequence[ConsumerRecord[Any, Any]]
    ) -> tuple[list[Outcome], int]:
        """Apply records in one transaction until one fails; returns the outcomes applied and
        how many times the record that stopped the run was tried (0 if malformed).

        The inbox rows of the whole run are claimed in one statement and the handlers run
        without a savepoint each: a savepoint costs two round trips per record, which made the
        consumer fall behind at the backbone's target rate. Failures are rare, so when a
        handler raises the transaction is rolled back and the records before it are applied
        again (their handlers run twice then, as on any redelivery: at-least-once, the inbox
        dedupes)."""
        run = self._decode_run(records)
        tried = 0
        while run:
            try:
                outcomes = await self._apply_all(run)
            except _HandlerFailed as failed:
                run, tried = run[: failed.index], 1
                continue
            self._count_many([record for record, _, _ in run], outcomes)
            return outcomes, tried
        return [], tried

    async def _apply_all(
        self, run: Sequence[tuple[ConsumerRecord[Any, Any], CloudEvent[Any], Handler | None]]
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        async with self._deps.pool.acquire() as conn, conn.transaction():
            fresh = await inbox_repository.claim(
                conn,
                self.name,
                [(record, event.id) for record, event, handler in run if handler is not None],
            )
            for index, (record, event, handler) in enumerate(run):
                if handler is None:
                    outcomes.append(Outcome.IGNORED)
                    continue
                if event.id not in fresh:
                    outcomes.append(Outcome.DUPLICATE)
                    continue
                fresh.discard(event.id)  # the same id again later in the run is a repeat
                try:
                    with self._span(record):
                        await handler(conn, event)
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    raise _HandlerFailed(index) from exc
                outcomes.append(Outcome.PROCESSED)
            try:
                # asyncpg turns COMMIT of an aborted transaction into a silent rollback: a
                # handler that swallowed a database error would lose the run while its offsets
                # are committed. Any statement fails in an aborted transaction.
                await conn.execute("SELECT 1")
            except asyncpg.InFailedSQLTransactionError as exc:
                raise _UnattributedFailure from exc
        return outcomes

    async def _apply_run_guarded(
        self, records: Sequence[ConsumerRecord[Any, Any]]
    ) -> tuple[list[Outcome], int]:
        """:meth:`_apply_run` with a savepoint per record, for a run whose failure could not be
        pinned on one record (a handler swallowed a database error): the check after each
        handler fails on that record's own turn."""
        outcomes: list[Outcome] = []
        tried = 0
        async with self._deps.pool.acquire() as conn, conn.transaction():
            for record, event, handler in self._decode_run(records):
                if handler is None:
                    outcomes.append(Outcome.IGNORED)
                    continue
                try:
                    with self._span(record):
                        async with conn.transaction():
                            outcome = await self._apply_in(conn, record, event, handler)
                            # Inside the savepoint, so that it is rolled back: a failed RELEASE
                            # would leave the whole transaction aborted.
                            await conn.execute("SELECT 1")
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    tried = 1
                    break
                outcomes.append(outcome)
        self._count_many(records[: len(outcomes)], outcomes)
        return outcomes, tried

    def _count(self, record: ConsumerRecord[Any, Any], outcome: Outcome) -> None:
        self._count_many([record], [outcome])

    def _count_many(
        self, records: Sequence[ConsumerRecord[Any, Any]], outcomes: Sequence[Outcome]
    ) -> None:
        """Metrics once per batch and label set: a label lookup per record costs more than the
        increment."""
        tally: Counter[tuple[str, Outcome]] = Counter()
        newest: dict[str, int] = {}
        for record, outcome in zip(records, outcomes, strict=True):
            tally[(record.topic, outcome)] += 1
            if record.timestamp:
                newest[record.topic] = max(newest.get(record.topic, 0), record.timestamp)
        for (topic, outcome), count in tally.items():
            self.counts[outcome] += count
            EVENTS_CONSUMED.labels(self.name, topic, outcome.value).inc(count)
        now = time.time()
        for topic, timestamp in newest.items():
            CONSUMER_LAG_SECONDS.labels(self.name, topic).set(max(0.0, now - timestamp / 1000))

    async def _process(self, record: ConsumerRecord[Any, Any], tried: int) -> Outcome:
        try:
            event = decode(record.headers, record.value)
        except MalformedEvent as exc:
            return await self._malformed(record, exc)
        handler = self._handlers.get(event.type)
        if handler is None:
            return Outcome.IGNORED

        async def apply() -> Outcome:
            async with self._deps.pool.acquire() as conn, conn.transaction():
                outcome = await self._apply_in(conn, record, event, handler)
                # Fails if the handler swallowed a database error (see _apply_all), so the
                # event is retried, then dead-lettered, rather than silently rolled back.
                await conn.execute("SELECT 1")
                return outcome

        return await self._retried(record, event.id, tried, apply)

    async def _retried(
        self,
        record: ConsumerRecord[Any, Any],
        event_id: str,
        tried: int,
        apply: Callable[[], Awaitable[Outcome]],
    ) -> Outcome:
        """``apply`` the record in its own transaction until it succeeds or has been tried
        ``max_attempts`` times in all, then make it a dead letter; transient failures raise."""
        if await is_dead_letter(self._deps.pool, self.name, record):
            # Given up on in an earlier delivery whose offset was never committed: its copy is
            # sent (if that delivery could not) but never a second one, and no retries again.
            await self._dead_letter(record, "redelivered", "already a dead letter", tried)
            return Outcome.DEAD_LETTERED
        attempt = tried
        while True:
            attempt += 1
            try:
                return await apply()
            except Exception as exc:
                if is_transient(exc):
                    raise
                if attempt >= self._max_attempts:
                    log.exception(
                        "%s: %s failed %d times, a dead letter", self.name, event_id, attempt
                    )
                    await self._dead_letter(record, type(exc).__name__, str(exc), attempt)
                    return Outcome.DEAD_LETTERED
                await self._retry.sleep(attempt)

    async def _apply_in(
        self,
        conn: Conn,
        record: ConsumerRecord[Any, Any],
        event: CloudEvent[Any],
        handler: Handler,
    ) -> Outcome:
        if not await inbox_repository.claim(conn, self.name, [(record, event.id)]):
            return Outcome.DUPLICATE
        await handler(conn, event)
        return Outcome.PROCESSED

    async def _store_batch(
        self, store: AnyStore, records: Sequence[ConsumerRecord[Any, Any]]
    ) -> list[Outcome]:
        """Store ``records`` part by part, two parts in flight; the outcomes in record order.
        Returns once every part has committed; on a failure, once the parts in flight have
        committed or rolled back, raising the first error."""
        # Asked once per batch: with nowhere for spans to go, a per-record context would only
        # be attached around decoding, which logs nothing and writes no event.
        traced = spans_go_anywhere()
        outcomes = [Outcome.DEAD_LETTERED] * len(records)  # each is set as its record is done
        storing: list[asyncio.Task[None]] = []
        ahead: asyncio.Event | None = None
        try:
            for start in range(0, len(records), self._part_size):
                part = await self._prepare_part(
                    store, records[start : start + self._part_size], start, traced
                )
                if not part:
                    continue
                while len(storing) >= _IN_FLIGHT:
                    await storing.pop(0)
                locked = asyncio.Event()
                storing.append(
                    asyncio.create_task(self._store_part(store, part, ahead, locked, outcomes))
                )
                ahead = locked
                await asyncio.sleep(0)  # let it begin before the next part is decoded
            while storing:
                await storing.pop(0)
        finally:
            if pending := [task for task in storing if not task.done()]:
                await asyncio.wait(pending)
            for task in storing:
                if not task.cancelled():
                    task.exception()
        return outcomes

    async def _prepare_part(
        self,
        store: AnyStore,
        records: Sequence[ConsumerRecord[Any, Any]],
        first: int,
        traced: bool,
    ) -> list[_Item]:
        """The part's records as the store takes them; one it never can is a dead letter."""
        items: list[_Item] = []
        for n, record in enumerate(records, 1):
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            try:
                if traced:
                    # The receive span continues the producer's trace (W3C traceparent header),
                    # so a request's trace reaches this consumer.
                    with self._span(record, "receive"):
                        event = decode(record.headers, record.value)
                else:
                    event = decode(record.headers, record.value)
            except MalformedEvent as exc:
                self._count(record, await self._malformed(record, exc))
                continue
            try:
                items.append((first + n - 1, record, event.id, store.prepare(event)))
            except Refused as exc:
                log.warning("%s: %s cannot be stored, a dead letter: %s", self.name, event.id, exc)
                await self._dead_letter(record, exc.error, exc.reason, attempts=0)
                self._count(record, Outcome.DEAD_LETTERED)
            except Exception as exc:
                # A valid event the store cannot represent would fail every attempt to store it.
                log.exception("%s: %s cannot be stored, a dead letter", self.name, event.id)
                await self._dead_letter(record, type(exc).__name__, str(exc), attempts=0)
                self._count(record, Outcome.DEAD_LETTERED)
        return items

    async def _store_part(
        self,
        store: AnyStore,
        items: Sequence[_Item],
        ahead: asyncio.Event | None,
        locked: asyncio.Event,
        outcomes: list[Outcome],
    ) -> None:
        try:
            stored = await self._store_in_one(store, items, ahead, locked)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception(
                "%s: a part of %d failed; retrying record by record", self.name, len(items)
            )
            for item in items:
                outcomes[item[0]] = outcome = await self._store_alone(store, item)
                self._count(item[1], outcome)
            return
        for item, outcome in zip(items, stored, strict=True):
            outcomes[item[0]] = outcome
        self._count_many([item[1] for item in items], stored)

    async def _store_alone(self, store: AnyStore, item: _Item) -> Outcome:
        async def apply() -> Outcome:
            (outcome,) = await self._store_in_one(store, [item], None, asyncio.Event())
            return outcome

        # Not tried yet on its own: the part's failure may have been another record's.
        return await self._retried(item[1], item[2], 0, apply)

    async def _store_in_one(
        self,
        store: AnyStore,
        items: Sequence[_Item],
        ahead: asyncio.Event | None,
        locked: asyncio.Event,
    ) -> list[Outcome]:
        """One transaction: claim ``items`` in the inbox and store the new ones, or hand them
        all to a :class:`DedupingStore`. With ``ahead``, the claim (or the store) waits until
        the part before holds the store's lock (or is done), so parts take that lock in order;
        ``locked`` is this part's own signal, set once it holds the lock or has failed."""
        try:
            async with self._deps.pool.acquire() as conn, conn.transaction():
                if ahead is not None:
                    await ahead.wait()
                if isinstance(store, DedupingStore):
                    values = [value for _, _, _, value in items]
                    new = set(await store.store(conn, values, locked=locked))
                    return [_first_of(new, event_id) for _, _, event_id, _ in items]
                new = await inbox_repository.claim(
                    conn, self.name, [(record, event_id) for _, record, event_id, _ in items]
                )
                outcomes = [_first_of(new, event_id) for _, _, event_id, _ in items]
                await store.store(
                    conn,
                    [
                        value
                        for (_, _, _, value), outcome in zip(items, outcomes, strict=True)
                        if outcome is Outcome.PROCESSED
                    ],
                    locked=locked,
                )
        finally:
            locked.set()
        return outcomes

    async def _malformed(self, record: ConsumerRecord[Any, Any], exc: MalformedEvent) -> Outcome:
        log.warning(
            "%s: malformed record %s[%s]@%s, a dead letter: %s",
            self.name,
            record.topic,
            record.partition,
            record.offset,
            exc.reason,
        )
        await self._dead_letter(record, "malformed", exc.reason, attempts=0)
        return Outcome.DEAD_LETTERED

    async def _dead_letter(
        self, record: ConsumerRecord[Any, Any], error: str, reason: str, attempts: int
    ) -> None:
        if await dead_letter(
            self._deps.pool,
            self._deps.producer,
            record,
            consumer=self.name,
            error=error,
            reason=reason,
            attempts=attempts,
            max_message_bytes=self._max_message_bytes,
        ):
            self.dead_lettered += 1
