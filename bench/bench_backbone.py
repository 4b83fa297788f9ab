"""Event backbone: outbox -> broker -> inbox, beside raw aiokafka produce/consume in the same run.

Figures: throughput (events/s) for a burst, and end-to-end latency p50/p99 at a steady rate
(1,000 events/s by default). Run: ``python bench/bench_backbone.py [--events N] [--rate R]``.

``--stages`` also prints where the steady run's time goes, stage by stage (the writer's commit,
the relay's read, the broker's acknowledgement, the relay's mark, the consumer's receipt and its
inbox commit), for every event and for the slowest hundredth.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from _stack import BROKERS, Backends, Stack, median, percentile, print_table, run, stack
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, RecordMetadata
from faststream.kafka import KafkaBroker

from vigie_shared import topics
from vigie_shared.events import SERVICE_SOURCES, CloudEvent, UserCreated, new_event
from vigie_shared.kit import db, outbox
from vigie_shared.kit.cloudevents import KafkaRecord
from vigie_shared.kit.consumer import EventConsumer, Outcome
from vigie_shared.kit.db import Conn
from vigie_shared.kit.kafka import Producer, ensure_topics
from vigie_shared.kit.metrics import LogEnd
from vigie_shared.kit.migrate import migrate
from vigie_shared.kit.outbox import OutboxRelay
from vigie_shared.kit.serve import freeze_heap


class Deps:
    def __init__(self, pool: Any, producer: Producer) -> None:
        self.pool = pool
        self.producer = producer


@dataclass
class Run:
    latencies: list[float]
    elapsed: float
    """Seconds from the first write to the last effect."""
    cpu_us: float
    """CPU of this process per event: for ours, the writers, the relay and the consumer."""
    db_cpu_us: dict[str, float] = field(default_factory=dict)
    """CPU of the PostgreSQL backends per event, by role, when they run on this machine."""


INTERVALS = (
    ("writer's transaction (event time -> commit)", "created", "committed"),
    ("writer's commit -> relay read and send", "committed", "sent"),
    ("relay send -> broker ack", "sent", "acked"),
    ("broker ack -> its batch marked published", "acked", "marked"),
    ("broker ack -> consumer receipt", "acked", "received"),
    ("consumer receipt -> inbox commit", "received", "applied"),
    ("end to end (event time -> inbox commit)", "created", "applied"),
)
"""The stages ``--stages`` reports, each from one moment of an event to a later one."""


class Stages:
    """When each event passed each moment, by event id (wall clock, as the events' time).

    The relay's read is taken at its first send: sending a batch follows its read at once (the
    records only go into the producer's buffer). The relay's mark is not on an event's own path,
    but it comes before the relay reads its next batch."""

    def __init__(self) -> None:
        self.at: defaultdict[str, dict[str, float]] = defaultdict(dict)
        self._placed: dict[tuple[int, int], str] = {}

    def note(self, moment: str, event_ids: Sequence[str]) -> None:
        now = time.time()
        for event_id in event_ids:
            self.at[event_id].setdefault(moment, now)

    def acked(self, event_id: str, placed: RecordMetadata) -> None:
        self.note("acked", [event_id])
        self._placed[(placed.partition, placed.offset)] = event_id

    def marked(self, placed: Sequence[tuple[int, int, int]]) -> None:
        self.note("marked", [self._placed[(p, o)] for _, p, o in placed if (p, o) in self._placed])

    def report(self) -> None:
        events = [at for at in self.at.values() if {"created", "applied"} <= at.keys()]
        if not events:
            print("\nstages: no event was applied")
            return
        total = [at["applied"] - at["created"] for at in events]
        slowest = [at for at, t in zip(events, total, strict=True) if t >= percentile(total, 99)]
        print(
            f"\nWhere the steady run's time goes ({len(events)} events; the slowest hundredth:"
            f" {len(slowest)}), ms"
        )
        print(f"{'stage':<52} {'p50':>7} {'p99':>7} {'slowest, p50':>13} {'slowest, max':>13}")
        for name, start, end in INTERVALS:
            every = [at[end] - at[start] for at in events if {start, end} <= at.keys()]
            slow = [at[end] - at[start] for at in slowest if {start, end} <= at.keys()]
            if not every or not slow:
                continue  # a moment this version of the kit does not show
            p50, p99 = (percentile(every, pct) * 1000 for pct in (50, 99))
            print(
                f"{name:<52} {p50:7.1f} {p99:7.1f}"
                f" {percentile(slow, 50) * 1000:13.1f} {max(slow) * 1000:13.1f}"
            )


def _event_id(record: KafkaRecord | ConsumerRecord[Any, Any]) -> str:
    ce_id: bytes = dict(record.headers or ())["ce_id"]
    return ce_id.decode()


class TracedProducer(Producer):
    def __init__(self, bootstrap: str, *, client_id: str, stages: Stages) -> None:
        super().__init__(bootstrap, client_id=client_id)
        self._stages = stages

    async def send(self, record: KafkaRecord) -> asyncio.Future[RecordMetadata]:
        event_id = _event_id(record)
        self._stages.note("sent", [event_id])
        future = await super().send(record)

        def acked(future: asyncio.Future[RecordMetadata]) -> None:
            if not future.cancelled() and future.exception() is None:
                self._stages.acked(event_id, future.result())

        future.add_done_callback(acked)
        return future


class TracedRelay(OutboxRelay):
    def __init__(self, pool: asyncpg.Pool, producer: Producer, *, schema: str, stages: Stages):
        super().__init__(pool, producer, schema=schema)
        self._stages = stages

    async def _mark_published(
        self, placed: Sequence[tuple[int, int, int]], lost: dict[tuple[str, int], int]
    ) -> None:
        await super()._mark_published(placed, lost)
        self._stages.marked(placed)


class TracedConsumer(EventConsumer):
    def __init__(self, name: str, deps: Deps, *, stages: Stages) -> None:
        super().__init__(name, deps)
        self._stages = stages

    async def process_batch(
        self, records: Sequence[ConsumerRecord[Any, Any]], *, log_end: LogEnd | None = None
    ) -> list[Outcome]:
        ids = [_event_id(record) for record in records]
        self._stages.note("received", ids)
        outcomes = await super().process_batch(records, log_end=log_end)
        self._stages.note("applied", ids)
        return outcomes


async def raw(stack: Stack, events: int, rate: float | None) -> Run:
    """aiokafka alone: per-event latencies and the seconds from first send to last receipt."""
    topic = f"raw.{uuid.uuid4().hex[:6]}"
    await ensure_topics(stack.bootstrap, [topic], with_dlq=False)
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all", linger_ms=2)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=stack.bootstrap,
        group_id=f"g-{topic}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
    )
    await producer.start()
    await consumer.start()
    latencies: list[float] = []

    async def consume() -> None:
        while len(latencies) < events:
            batches = await consumer.getmany(timeout_ms=200)
            now = time.time()
            for records in batches.values():
                latencies.extend(now - json.loads(r.value)["t"] for r in records)
            if batches:
                await consumer.commit()

    task = asyncio.create_task(consume())
    await asyncio.sleep(3)  # group join, as our consumer gets too
    freeze_heap()  # as ours below
    started, cpu = time.perf_counter(), time.process_time()
    await _pace(events, rate, lambda i: _raw_send(producer, topic, i))
    await producer.flush()
    await asyncio.wait_for(task, 120)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await producer.stop()
    await consumer.stop()
    return Run(latencies, elapsed, cpu / events * 1e6)


async def _raw_send(producer: AIOKafkaProducer, topic: str, i: int) -> None:
    body = json.dumps({"t": time.time(), "i": i, "pad": "x" * 200}).encode()
    await producer.send(topic, body, key=f"u-{i % 64}".encode())


async def _pace(events: int, rate: float | None, send: Any, writers: int = 16) -> None:
    """Send events from concurrent writers (as concurrent requests would), at ``rate``/s when
    given, else as fast as they go."""
    start = time.perf_counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(events):
        queue.put_nowait(i)

    async def writer() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            if rate:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            await send(i)

    await asyncio.gather(*(writer() for _ in range(writers)))


async def ours(stack: Stack, events: int, rate: float | None, stages: Stages | None = None) -> Run:
    """Outbox -> relay -> broker -> inbox consumer, one state change per transaction; with
    ``stages``, the moments each event passes are noted there."""
    schema = f"b_{uuid.uuid4().hex[:8]}"
    await migrate(stack.database_url, schema, None)
    await ensure_topics(stack.bootstrap, [topics.IDENTITY])
    roles = {"writers": Backends(), "relay": Backends(), "consumer": Backends()}
    pool = await db.create_pool(
        stack.database_url, schema, max_size=10, connection_class=roles["writers"].connection_class
    )
    await pool.execute("CREATE TABLE effects (event_id text PRIMARY KEY)")
    producer = (
        Producer(stack.bootstrap, client_id="bench")
        if stages is None
        else TracedProducer(stack.bootstrap, client_id="bench", stages=stages)
    )
    await producer.start()
    # Writers, relay and consumer live in different services in production: separate pools.
    relay_pool = await db.create_pool(
        stack.database_url, schema, max_size=2, connection_class=roles["relay"].connection_class
    )
    consumer_pool = await db.create_pool(
        stack.database_url, schema, max_size=2, connection_class=roles["consumer"].connection_class
    )
    deps = Deps(consumer_pool, producer)
    if stages is None:
        relay = OutboxRelay(relay_pool, producer, schema=schema)
        consumer = EventConsumer(f"g-{schema}", deps)
    else:
        relay = TracedRelay(relay_pool, producer, schema=schema, stages=stages)
        consumer = TracedConsumer(f"g-{schema}", deps, stages=stages)
    relaying = asyncio.create_task(relay.run())
    broker = KafkaBroker(stack.bootstrap, logger=None)
    latencies: list[float] = []
    done = asyncio.Event()
    # Catalog events come from their producing service (others are dead-lettered); this run's
    # own are told apart by subject.
    source = SERVICE_SOURCES["sso_gateway"]

    @consumer.handles(UserCreated)
    async def effect(conn: Conn, event: CloudEvent[Any]) -> None:
        if not (event.subject or "").startswith(f"{schema}-"):
            return  # an earlier run's events, still on the shared topic
        await conn.execute("INSERT INTO effects VALUES ($1)", event.id)
        latencies.append(time.time() - event.time.timestamp())
        if len(latencies) >= events:
            done.set()

    consumer.subscribe(broker, topics.IDENTITY)
    await broker.start()
    await asyncio.sleep(3)
    # What each service does once its lifespan has started (kit.serve).
    freeze_heap()

    async def write(i: int) -> None:
        # One state change and its event per transaction, as an endpoint would do it.
        async with pool.acquire() as conn, conn.transaction():
            subject = f"{schema}-u-{i % 64}"
            event = new_event(
                UserCreated(user_id=subject, email=f"{i}@b.fr", display_name="x" * 150),
                subject=subject,
                source=source,
            )
            await outbox.enqueue(conn, event)
        if stages is not None:
            stages.at[event.id]["created"] = event.time.timestamp()
            stages.note("committed", [event.id])

    db_start = {role: backends.cpu() for role, backends in roles.items()}
    started, cpu = time.perf_counter(), time.process_time()
    await _pace(events, rate, write)
    await asyncio.wait_for(done.wait(), 180)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    db_cpu: dict[str, float] = {}
    for role, backends in roles.items():
        spent = backends.spent_since(db_start[role])
        if spent is not None:
            db_cpu[role] = spent / events * 1e6
    await broker.stop()
    relaying.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await relaying
    await producer.stop()
    for p in (pool, relay_pool, consumer_pool):
        await p.close()
    return Run(latencies, elapsed, cpu / events * 1e6, db_cpu)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5_000, help="events in the burst")
    parser.add_argument("--rate", type=float, default=1_000.0, help="events/s, steady test")
    parser.add_argument("--seconds", type=float, default=10.0, help="steady test length")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--broker", choices=BROKERS, default="tansu")
    parser.add_argument(
        "--stages", action="store_true", help="where the steady run's time goes, stage by stage"
    )
    args = parser.parse_args()
    steady = int(args.rate * args.seconds)
    figures: dict[str, list[float]] = {}
    async with stack(args.broker) as s:
        broker = s.broker_name
        for _ in range(args.runs):
            for name, fn in (("raw", raw), ("ours", ours)):
                burst = await fn(s, args.events, None)
                figures.setdefault(f"{name}.burst", []).append(args.events / burst.elapsed)
                figures.setdefault(f"{name}.cpu", []).append(burst.cpu_us)
                for role, us in burst.db_cpu_us.items():
                    figures.setdefault(f"{name}.db.{role}", []).append(us)
                if fn is ours and args.stages:
                    stages = Stages()
                    lat = (await ours(s, steady, args.rate, stages)).latencies
                    stages.report()
                else:
                    lat = (await fn(s, steady, args.rate)).latencies
                figures.setdefault(f"{name}.p50", []).append(percentile(lat, 50) * 1000)
                figures.setdefault(f"{name}.p99", []).append(percentile(lat, 99) * 1000)
    print_table(
        f"Event backbone on {broker} (median of {args.runs} runs; burst {args.events}, steady"
        f" {args.rate:.0f}/s for {args.seconds:.0f} s)",
        [
            (
                "burst throughput, outbox->inbox vs raw aiokafka",
                median(figures["ours.burst"]),
                median(figures["raw.burst"]),
                "events/s",
            ),
            (
                f"end-to-end latency p50 at {args.rate:.0f}/s",
                median(figures["ours.p50"]),
                median(figures["raw.p50"]),
                "ms",
            ),
            (
                f"end-to-end latency p99 at {args.rate:.0f}/s",
                median(figures["ours.p99"]),
                median(figures["raw.p99"]),
                "ms",
            ),
            # Where the burst's CPU goes. The writers stand for the services' endpoints (one
            # transaction per state change): they share the machine with the backbone here,
            # not in production. The backbone itself is the relay and the consumer.
            (
                "burst CPU per event, this process vs raw aiokafka",
                median(figures["ours.cpu"]),
                median(figures["raw.cpu"]),
                "µs",
            ),
            *(
                (
                    f"burst PostgreSQL CPU per event: {role}",
                    median(figures[f"ours.db.{role}"]),
                    None,
                    "µs",
                )
                for role in ("writers", "relay", "consumer")
                if f"ours.db.{role}" in figures
            ),
        ],
    )


if __name__ == "__main__":
    run(main())
