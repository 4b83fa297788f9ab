"""Transactional outbox and its relay (docs/architecture.md, Delivery).

``enqueue`` writes the event in the caller's transaction, so the event exists if and only if
the state change committed. The relay publishes pending rows in id order (hence in order per
key) and records where each landed. One relay per schema acts at a time (advisory lock), so
replicas never reorder each other.

The embedded broker keeps its log in memory only. Relayed rows are therefore kept for a
retention window, and the relay notices a broker that came back empty: the last record it relayed
to a partition cannot be read back any more, the oldest one it still retains reads back as another
producer's record, or a publish lands at a lower offset than the last one. The rows the broker
lost are made pending again and republished; the consumers' inboxes absorb the repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import asyncpg

from vigie_shared.events import CloudEvent
from vigie_shared.kit import db
from vigie_shared.kit.backoff import Backoff
from vigie_shared.kit.cloudevents import KafkaRecord, encode
from vigie_shared.kit.db import Conn
from vigie_shared.kit.kafka import DELIVERY_TIMEOUT, DeliveryStalled, Producer
from vigie_shared.kit.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_REPUBLISHED
from vigie_shared.kit.telemetry import inject_headers

log = logging.getLogger(__name__)

_RESTART = Backoff(base=0.2, cap=5.0)
"""Wait before leading again after the relay failed (broker or database away)."""

TopicPartitionKey = tuple[str, int]


_INSERT = (
    "INSERT INTO outbox (event_id, topic, key, headers, value) VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (event_id) DO NOTHING"
)


async def enqueue(conn: Conn, *events: CloudEvent[Any]) -> None:
    """Write events to the outbox; call inside the transaction of the state change."""
    if not conn.is_in_transaction():
        raise RuntimeError("outbox.enqueue must run inside the state change's transaction")
    records = [(event.id, encode(event)) for event in events]
    # The writer's trace continues in every consumer of these events (W3C traceparent header).
    trace_headers = inject_headers()
    rows = [
        (
            event_id,
            rec.topic,
            rec.key,
            [[name, value.decode()] for name, value in [*rec.headers, *trace_headers]],
            rec.value,
        )
        for event_id, rec in records
    ]
    if len(rows) == 1:
        # The usual case, one event per state change: execute costs less than executemany.
        await conn.execute(_INSERT, *rows[0])
    elif rows:
        await conn.executemany(_INSERT, rows)


async def _without_flush(conn: Conn) -> None:
    """Let the commit of ``conn``'s transaction, a batch's marks, return before the write-ahead
    log reaches the disk (``synchronous_commit = off``, PostgreSQL docs 28.4, Asynchronous
    Commit): the relay reads its next batch only once this one is marked, and waiting for the
    flush lengthened every cycle.

    A crash of the database loses at most the last marks, never a row nor an effect: their
    rows are pending again and sent again, repeats which every consumer's inbox absorbs (the
    handlers are idempotent). The writer's transaction, which creates the row, and the
    consumer's, which records it in its inbox, stay durable, and so does a batch that queues
    rows again after a lost log. The relay takes each partition's expected offset from the
    marks when it leads again: a lost mark makes it expect a lower offset than the broker's,
    which is never taken for a lost log."""
    await conn.execute("SET LOCAL synchronous_commit = off")


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: Producer,
        *,
        schema: str,
        retention: timedelta = timedelta(days=7),
        batch_size: int = 500,
        idle_interval: float = 1.0,
        probe_interval: float = 5.0,
        linger: float = 0.005,
        delivery_timeout: float = DELIVERY_TIMEOUT,
        ensure_topics: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._schema = schema
        self._retention = retention
        self._batch_size = batch_size
        self._idle_interval = idle_interval
        self._probe_interval = probe_interval
        self._linger = linger
        self._delivery_timeout = delivery_timeout
        self._ensure_topics = ensure_topics
        self._wake = asyncio.Event()
        # Relaying and the read-back probe both move rows between pending and published.
        self._moving = asyncio.Lock()
        self._next_offset: dict[TopicPartitionKey, int] = {}
        self.published = 0
        self.republished = 0
        self.is_leader = False

    async def run(self) -> None:
        """Relay until cancelled; survives broker and database outages by retrying."""
        failures = 0
        while True:
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                delay = _RESTART.delay(failures)
                log.exception("outbox relay %s failed; retrying in %.1fs", self._schema, delay)
                self.is_leader = False
                await asyncio.sleep(delay)
            else:
                failures = 0

    async def _lead(self) -> None:
        async with self._pool.acquire() as lock_conn:
            while not await lock_conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtext($1))", f"outbox:{self._schema}"
            ):
                await asyncio.sleep(self._idle_interval)
            upkeep: asyncio.Task[None] | None = None
            try:
                self.is_leader = True
                await lock_conn.add_listener(f"vigie_outbox_{self._schema}", self._notified)
                await self._load_positions()
                if self._ensure_topics is not None:
                    await self._ensure_topics()
                await self._check_broker(lock_conn)
                # The read-back probe opens a consumer and waits on the broker: run inline, it
                # stalled relaying for tens of milliseconds every probe interval (a spike in
                # the tail latency). It runs beside the relay, on the lock's own connection.
                upkeep = asyncio.create_task(self._upkeep(lock_conn))
                while True:
                    # Cleared before reading, so a row committed during this cycle wakes the
                    # next one at once instead of waiting for the idle timeout.
                    self._wake.clear()
                    sent = await self.relay_once()
                    if upkeep.done():
                        upkeep.result()  # its failure restarts leadership, as an inline one did
                    if sent < self._batch_size:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), self._idle_interval)
                        # Linger a moment after a wake-up so that rows committed together go
                        # in one batch: a cycle per single row would fall behind under load.
                        await asyncio.sleep(self._linger)
            finally:
                self.is_leader = False
                if upkeep is not None:
                    upkeep.cancel()
                    with contextlib.suppress(BaseException):
                        await upkeep
                try:
                    await lock_conn.remove_listener(f"vigie_outbox_{self._schema}", self._notified)
                    await lock_conn.execute(
                        "SELECT pg_advisory_unlock(hashtext($1))", f"outbox:{self._schema}"
                    )
                except BaseException as exc:
                    # Back in the pool still holding the session lock, it would keep every
                    # relay of this schema (this one included) from leading again.
                    lock_conn.terminate()
                    if not isinstance(exc, Exception):
                        raise

    async def _upkeep(self, conn: Conn) -> None:
        while True:
            await asyncio.sleep(self._probe_interval)
            await self._check_broker(conn)
            await conn.execute(
                "DELETE FROM outbox WHERE published_at < now() - $1::interval", self._retention
            )
            OUTBOX_BACKLOG.labels(self._schema).set(await self.backlog(conn))

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _load_positions(self) -> None:
        rows = await self._pool.fetch(
            "SELECT topic, partition, max(kafka_offset) + 1 AS next FROM outbox"
            " WHERE published_at IS NOT NULL GROUP BY topic, partition"
        )
        self._next_offset = {(r["topic"], r["partition"]): r["next"] for r in rows}

    async def relay_once(self) -> int:
        """Publish one batch of pending rows; returns how many were confirmed by the broker."""
        async with self._moving:
            return await self._relay_batch()

    async def _relay_batch(self) -> int:
        rows = await self._pool.fetch(
            "SELECT id, topic, key, headers, value FROM outbox"
            " WHERE published_at IS NULL ORDER BY id LIMIT $1",
            self._batch_size,
        )
        if not rows:
            return 0
        generation = self._producer.generation
        futures = [
            await self._producer.send(
                KafkaRecord(
                    topic=row["topic"],
                    key=row["key"],
                    value=row["value"],
                    headers=[(name, value.encode()) for name, value in row["headers"]],
                )
            )
            for row in rows
        ]
        done, _ = await asyncio.wait(futures, timeout=self._delivery_timeout)
        placed: list[tuple[int, int, int]] = []
        error: BaseException | None = None
        for row, future in zip(rows, futures, strict=True):
            if future not in done:
                error = DeliveryStalled(
                    f"{row['topic']}: unacknowledged after {self._delivery_timeout:g}s"
                )
                await self._producer.replace(str(error), generation=generation)
                break
            if (failure := future.exception()) is not None:
                error = failure
                break
            result = future.result()
            placed.append((row["id"], result.partition, result.offset))
        # Stopped at the first failure: later rows are sent again with it, keeping key order.
        lost = self._note_placements(rows[: len(placed)], placed)
        if placed:
            await self._mark_published(placed, lost)
        self.published += len(placed)
        for topic, count in Counter(row["topic"] for row in rows[: len(placed)]).items():
            EVENTS_PUBLISHED.labels(self._schema, topic).inc(count)
        if error is not None:
            raise error
        return len(placed)

    async def _mark_published(
        self, placed: Sequence[tuple[int, int, int]], lost: dict[TopicPartitionKey, int]
    ) -> None:
        """Record where each row landed, after queuing again the rows of ``lost`` partitions."""
        async with self._pool.acquire() as conn, conn.transaction():
            if lost:
                # Queued again before this batch is marked, while its rows are still pending:
                # every other row relayed to a lost partition is, whatever its id. Rows queued
                # again for another partition go first by id, so the batch's first id does not
                # tell which rows of this partition were relayed before it.
                await self._requeue(conn, lost)
            else:
                await _without_flush(conn)
            await conn.execute(
                "UPDATE outbox o SET published_at = now(), partition = p.partition,"
                " kafka_offset = p.kafka_offset"
                " FROM unnest($1::bigint[], $2::int[], $3::bigint[])"
                "   AS p(id, partition, kafka_offset) WHERE o.id = p.id",
                *db.arrays(placed, 3),
            )

    def _note_placements(
        self, rows: Sequence[asyncpg.Record], placed: Sequence[tuple[int, int, int]]
    ) -> dict[TopicPartitionKey, int]:
        """Track each partition's log end; an offset below it means the broker lost its log."""
        lost: dict[TopicPartitionKey, int] = {}
        for row, (_, partition, offset) in zip(rows, placed, strict=True):
            tp = (row["topic"], partition)
            expected = self._next_offset.get(tp, 0)
            if offset < expected and tp not in lost:
                lost[tp] = 0
            self._next_offset[tp] = offset + 1
        return lost

    async def check_broker(self) -> None:
        """Read back now rather than at the next probe (after a known broker restart)."""
        async with self._pool.acquire() as conn:
            await self._check_broker(conn)

    async def _check_broker(self, conn: Conn) -> None:
        """Read back what was relayed (:func:`_lost_partitions`); every retained row of a
        partition the broker lost is queued again."""
        lost = await _lost_partitions(conn, self._producer)
        if not lost:
            return
        if self._ensure_topics is not None:
            await self._ensure_topics()
        # A row relayed meanwhile may be queued again too: a repeat, which inboxes absorb.
        async with self._moving, conn.transaction():
            await self._requeue(conn, lost)
        for tp in lost:
            self._next_offset.pop(tp, None)

    async def _requeue(self, conn: Conn, lost: dict[TopicPartitionKey, int]) -> None:
        count = 0
        for (topic, partition), from_offset in lost.items():
            status = await conn.execute(
                "UPDATE outbox SET published_at = NULL, partition = NULL, kafka_offset = NULL"
                " WHERE published_at IS NOT NULL AND topic = $1 AND partition = $2"
                " AND kafka_offset >= $3",
                topic,
                partition,
                from_offset,
            )
            count += int(status.split()[-1])
        self.republished += count
        OUTBOX_REPUBLISHED.labels(self._schema).inc(count)
        log.warning(
            "broker lost its log for %s: %d relayed event(s) queued again", sorted(lost), count
        )

    async def backlog(self, conn: Conn | None = None) -> int:
        count: int = await (conn or self._pool).fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL"
        )
        return count


async def _lost_partitions(conn: Conn, producer: Producer) -> dict[TopicPartitionKey, int]:
    """The partitions the broker lost, read back from records relayed to each: for each, the
    offset from which its rows are queued again (0, its last safe point: every row retained
    since the start of the retention window).

    Two rows per partition are read back, because either alone can be fooled:

    - the newest: a broker that came back empty and was not refilled has no record there;
    - the oldest: a partition this relay shares with another producer (sso_gateway's and
      audit_log's answers on ``dpo.task-results.v1``) may be refilled by that producer
      first, so this relay's next record lands above the offset it expected and becomes the
      newest row, found where it was written. Every row relayed before the loss sits below
      it (each placement below the expected offset is caught by ``_note_placements``), so
      the oldest retained row is one of them, and its offset now holds another record.

    Kafka never writes a different record at an offset, so another ``ce_id`` at the oldest
    row's offset is loss. No record there is not: a cluster's own retention may have
    deleted it, or the read timed out; and after a loss that the newest row did not
    reveal, the offsets below the newest are filled (the log is dense), so the oldest's
    holds a record. A log end never proves a loss (the embedded broker reports one below
    the true end); it only proves, when past the offset, that an unread record is there.
    """
    newest = await conn.fetch(
        "SELECT DISTINCT ON (topic, partition) topic, partition, kafka_offset, event_id"
        " FROM outbox WHERE published_at IS NOT NULL"
        " ORDER BY topic, partition, kafka_offset DESC"
    )
    if not newest:
        return {}
    seen = await producer.event_ids_at(
        {(r["topic"], r["partition"]): r["kafka_offset"] for r in newest}
    )
    lost = {
        (r["topic"], r["partition"]): 0
        for r in newest
        if seen[(r["topic"], r["partition"])] != r["event_id"]
    }
    # Only partitions whose newest row was found, and with more than one row, need the
    # second read. A partition first relayed after the first query is left to the next probe.
    newest_at = {(r["topic"], r["partition"]): r["kafka_offset"] for r in newest}
    oldest = [
        r
        for r in await conn.fetch(
            "SELECT DISTINCT ON (topic, partition) topic, partition, kafka_offset, event_id"
            " FROM outbox WHERE published_at IS NOT NULL"
            " ORDER BY topic, partition, kafka_offset ASC"
        )
        if (r["topic"], r["partition"]) not in lost
        and r["kafka_offset"] < newest_at.get((r["topic"], r["partition"]), -1)
    ]
    if oldest:
        seen = await producer.event_ids_at(
            {(r["topic"], r["partition"]): r["kafka_offset"] for r in oldest}
        )
        for r in oldest:
            found = seen[(r["topic"], r["partition"])]
            if found is not None and found != r["event_id"]:
                lost[(r["topic"], r["partition"])] = 0
    return lost
