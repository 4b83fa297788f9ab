"""Event backbone: outbox -> broker -> inbox, beside raw aiokafka produce/consume in the same run.

Figures: throughput (events/s) for a burst, and end-to-end latency p50/p99 at a steady rate
(1,000 events/s by default). Run: ``python bench/bench_backbone.py [--events N] [--rate R]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from _stack import BROKERS, Backends, Stack, median, percentile, print_table, run, stack
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream.kafka import KafkaBroker

from vigie_shared import topics
from vigie_shared.events import SERVICE_SOURCES, CloudEvent, UserCreated, new_event
from vigie_shared.kit import db, outbox
from vigie_shared.kit.consumer import EventConsumer
from vigie_shared.kit.db import Conn
from vigie_shared.kit.kafka import Producer, ensure_topics
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


async def ours(stack: Stack, events: int, rate: float | None) -> Run:
    """Outbox -> relay -> broker -> inbox consumer, one state change per transaction."""
    schema = f"b_{uuid.uuid4().hex[:8]}"
    await migrate(stack.database_url, schema, None)
    await ensure_topics(stack.bootstrap, [topics.IDENTITY])
    roles = {"writers": Backends(), "relay": Backends(), "consumer": Backends()}
    pool = await db.create_pool(
        stack.database_url, schema, max_size=10, connection_class=roles["writers"].connection_class
    )
    await pool.execute("CREATE TABLE effects (event_id text PRIMARY KEY)")
    producer = Producer(stack.bootstrap, client_id="bench")
    await producer.start()
    # Writers, relay and consumer live in different services in production: separate pools.
    relay_pool = await db.create_pool(
        stack.database_url, schema, max_size=2, connection_class=roles["relay"].connection_class
    )
    consumer_pool = await db.create_pool(
        stack.database_url, schema, max_size=2, connection_class=roles["consumer"].connection_class
    )
    relay = asyncio.create_task(OutboxRelay(relay_pool, producer, schema=schema).run())
    broker = KafkaBroker(stack.bootstrap, logger=None)
    consumer = EventConsumer(f"g-{schema}", Deps(consumer_pool, producer))
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
            await outbox.enqueue(
                conn,
                new_event(
                    UserCreated(user_id=subject, email=f"{i}@b.fr", display_name="x" * 150),
                    subject=subject,
                    source=source,
                ),
            )

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
    relay.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await relay
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
