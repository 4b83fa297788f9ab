"""audit_log: sustained ingestion into the verified Merkle log beside the raw limits measured in
the same run (aiokafka consume alone, PostgreSQL COPY alone), proof throughput, verification,
and query latency on a large synthetic table.

Run: ``python bench/bench_audit.py [--events N] [--rows M] [--runs R]``. ``--events`` go
through the real pipeline (broker -> batch consumer -> sealing + leaf hashes + nodes + frontier,
one transaction per part, deduped by the log's unique event id), ``--runs`` times into a fresh
log each (medians printed); ``--rows`` synthetic entries are generated server-side for the query
figures (their leaf hashes are not a valid tree: only the query plans and latencies are measured
on them). The broker and the scratch database are removed however the run ends
(``_stack.stack``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from _stack import BROKERS, Backends, cpu_seconds, median, percentile, print_table, run, stack
from aiokafka import AIOKafkaConsumer
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from faststream.kafka import KafkaBroker

from audit_log.config import Settings
from audit_log.context import AuditLog
from audit_log.ingest.handlers import ingest_consumer
from audit_log.ingest.service import entry_of
from audit_log.merkle import leaf_hash, verify_inclusion
from audit_log.query.repository import query_repository
from audit_log.query.schemas import EntryFilter
from audit_log.service import SERVICE
from audit_log.shredding.service import Keys
from audit_log.tree.repository import StoredLeaf
from vigie_shared.events import (
    SERVICE_SOURCES,
    Actor,
    DebtReminded,
    LoginSucceeded,
    SuspensionScheduled,
    new_event,
)
from vigie_shared.kit import db
from vigie_shared.kit.cloudevents import KafkaRecord, decode, encode
from vigie_shared.kit.consumer import PART_SIZE, EventConsumer
from vigie_shared.kit.kafka import Producer, ensure_topics
from vigie_shared.kit.migrate import migrate
from vigie_shared.kit.serve import freeze_heap


class Deps:
    def __init__(self, pool: asyncpg.Pool, producer: Producer) -> None:
        self.pool = pool
        self.producer = producer


STEADY_RATE = 2000.0
"""Events per second of the steady run that times event to proof."""
STEADY_SECONDS = 5.0


def events(n: int, topic: str) -> list[KafkaRecord]:
    out = []
    for i in range(n):
        learner = f"u-{i % 5000}"
        kind = i % 10
        data: Any
        if kind < 7:
            data = LoginSucceeded(
                user_id=learner, client_id="moodle", session_id=f"s-{i}", ip="10.0.0.1"
            )
        elif kind < 9:
            data = DebtReminded(
                debt_id=f"d-{i}",
                learner_id=learner,
                channel="CPA" if i % 2 else "card",
                amount="120.50",
                reminded_at=datetime.now(UTC),
            )
        else:
            data = SuspensionScheduled(
                learner_id=learner,
                debt_id=f"d-{i}",
                suspend_at=datetime.now(UTC),
                reason="unpaid",
                actor=Actor(kind="system", id="grace-scheduler"),
            )
        source = (
            "/accounting/bench"
            if isinstance(data, DebtReminded)
            else SERVICE_SOURCES["sso_gateway"]
        )
        record = encode(new_event(data, subject=learner, source=source))
        out.append(
            KafkaRecord(topic=topic, key=record.key, value=record.value, headers=record.headers)
        )
    return out


async def raw_consume(bootstrap: str, topic: str, n: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=500,
    )
    await consumer.start()
    freeze_heap()  # as the pipeline below (and a served process) does once started
    seen = 0
    try:
        while seen == 0:
            for records in (await consumer.getmany(timeout_ms=500, max_records=500)).values():
                seen += len(records)
        first, start = seen, time.perf_counter()
        while seen < n:
            for records in (await consumer.getmany(timeout_ms=500, max_records=500)).values():
                seen += len(records)
        return (n - first) / (time.perf_counter() - start)
    finally:
        await consumer.stop()


async def raw_copy(dsn: str, records: list[KafkaRecord]) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TEMP TABLE copy_bench (event_id text, topic text, type text, source text,"
            " subject text, time timestamptz, data bytea)"
        )
        now = datetime.now(UTC)
        rows = [
            (str(uuid.uuid4()), r.topic, "t", "/s", (r.key or b"").decode(), now, r.value)
            for r in records
        ]
        start = time.perf_counter()
        for i in range(0, len(rows), 500):
            await conn.copy_records_to_table("copy_bench", records=rows[i : i + 500])
        return len(rows) / (time.perf_counter() - start)
    finally:
        await conn.close()


def cost_split(records: list[KafkaRecord]) -> dict[str, float]:
    """CPU per event of each step the pipeline takes in this process, timed alone on the same
    events (µs): decoding the CloudEvent, making the entry (payload JSON, leaf bytes but for
    the tree's part), sealing its payload (AES-GCM) and hashing its leaf. Timed as the pipeline
    runs them: part by part (``PART_SIZE``), the heap frozen first (the pipeline's records are
    in the broker, not in this list); otherwise the garbage collector's passes over every
    event of the run would be counted in each step."""
    freeze_heap()
    spent = dict.fromkeys(("decode", "entry", "seal", "leaf hash"), 0.0)
    key = AESGCM(AESGCM.generate_key(bit_length=256))
    for first in range(0, len(records), PART_SIZE):
        part = records[first : first + PART_SIZE]
        start = time.process_time()
        decoded = [decode(r.headers, r.value) for r in part]
        after_decode = time.process_time()
        entries = [entry_of(event) for event in decoded]
        after_entries = time.process_time()
        sealed = [Keys.seal_payload(key, e.event_id, e.plaintext) for e in entries]
        after_seal = time.process_time()
        for index, (entry, data_ct) in enumerate(zip(entries, sealed, strict=True)):
            leaf_hash(entry.text.render(first + index, 1, data_ct))
        after_hash = time.process_time()
        spent["decode"] += after_decode - start
        spent["entry"] += after_entries - after_decode
        spent["seal"] += after_seal - after_entries
        spent["leaf hash"] += after_hash - after_seal
    return {step: seconds * 1e6 / len(records) for step, seconds in spent.items()}


@dataclass
class IngestRun:
    rate: float
    cpu_us: float
    """CPU of this process per event ingested: decoding, sealing, hashing, asyncpg, FastStream."""
    db_cpu_us: float | None
    """CPU of the PostgreSQL backends per event, when they run on this machine."""
    broker_cpu_us: float | None
    """CPU of the broker's process per event (its fetches and the consumer's commits)."""


@contextlib.asynccontextmanager
async def ingesting(
    bootstrap: str, topic: str, audit: AuditLog, pool: asyncpg.Pool, group: str
) -> AsyncIterator[tuple[EventConsumer, Producer]]:
    """The audit log's own consumer on ``topic`` in consumer group ``group``, as the service
    runs it, and the producer beside it (its dead letters'; a caller may send with it too)."""
    producer = Producer(bootstrap, client_id=group)
    await producer.start()
    broker = KafkaBroker(bootstrap, logger=None)
    ingest = ingest_consumer(Deps(pool, producer), audit.ingest, group=group)
    ingest.subscribe(broker, topic, max_records=audit.settings.ingest_batch_size)
    await broker.start()
    try:
        yield ingest, producer
    finally:
        await broker.stop()
        await producer.stop()


async def pipeline(
    bootstrap: str,
    topic: str,
    n: int,
    audit: AuditLog,
    pool: asyncpg.Pool,
    backends: Backends,
    broker_pid: int | None,
) -> IngestRun:
    group = f"bench-{uuid.uuid4().hex}"
    async with ingesting(bootstrap, topic, audit, pool, group) as (ingest, _):
        # What ``python -m audit_log`` does once its lifespan has started (kit.serve).
        freeze_heap()
        # The clock starts at the first committed part: the consumer group's join is not
        # ingestion (and the raw consumer above is timed the same way).
        deadline = time.monotonic() + 600
        while ingest.stored == 0:
            _check_progress(ingest, n, deadline)
            await asyncio.sleep(0.001)
        db_start = backends.cpu()
        broker_start = None if broker_pid is None else cpu_seconds(broker_pid)
        first, start, cpu = ingest.stored, time.perf_counter(), time.process_time()
        while ingest.stored < n:
            _check_progress(ingest, n, deadline)
            await asyncio.sleep(0.01)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        db_cpu = backends.spent_since(db_start)
        broker_cpu = None
        if broker_pid is not None and broker_start is not None:
            broker_cpu = cpu_seconds(broker_pid) - broker_start
        count = n - first
        return IngestRun(
            rate=count / elapsed,
            cpu_us=cpu / count * 1e6,
            db_cpu_us=None if db_cpu is None else db_cpu / count * 1e6,
            broker_cpu_us=None if broker_cpu is None else broker_cpu / count * 1e6,
        )


TARGET_RATE = 50_000
"""Events per second the ingestion is to sustain end to end (docs/performance.md)."""


def cpu_budget(samples: dict[str, list[float]], runs: int) -> str:
    """The pipeline's CPU per event, process by process, and what the target rate would take of
    the machine at that cost: every process of the pipeline shares this machine's cores."""
    parts = {"this process": median(samples["ingest_cpu"])}
    if "ingest_db_cpu" in samples:
        parts["PostgreSQL backends"] = median(samples["ingest_db_cpu"])
    if "ingest_broker_cpu" in samples:
        parts["broker"] = median(samples["ingest_broker_cpu"])
    total = sum(parts.values())
    return (
        "pipeline CPU per event: "
        + ", ".join(f"{name} {us:.0f} µs" for name, us in parts.items())
        + f" (median of {runs} runs); {total:.0f} µs in all, so {TARGET_RATE:,} events/s would"
        f" take {total * TARGET_RATE / 1e6:.1f} of this machine's {os.cpu_count()} CPUs"
    )


async def event_to_proof(
    bootstrap: str, audit: AuditLog, pool: asyncpg.Pool, rate: float, seconds: float
) -> list[float]:
    """Milliseconds from each event's send to the moment its leaf is in the tree, when an
    inclusion proof of it can be served against the tree head: events sent at ``rate`` per
    second (evenly spaced) through the real consumer, the tree polled every 5 ms."""
    topic = f"bench.steady.{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap, [topic], partitions=3)
    records = events(int(rate * seconds), topic)
    sent: dict[str, float] = {}
    latencies: list[float] = []
    async with pool.acquire() as conn:
        last = (await audit.tree.size(conn)) - 1

    async def watch() -> None:
        nonlocal last
        deadline = time.monotonic() + seconds + 120
        async with pool.acquire() as conn:
            while len(latencies) < len(records) - 1 and time.monotonic() < deadline:
                leaves = await query_repository.page(conn, EntryFilter(), after=last, limit=5000)
                now = time.perf_counter()
                for stored in leaves:
                    at = sent.pop(stored.leaf.event_id, None)
                    if at is not None:
                        latencies.append((now - at) * 1000)
                if leaves:
                    last = leaves[-1].leaf.index
                await asyncio.sleep(0.005)

    group = f"steady-{uuid.uuid4().hex}"
    async with ingesting(bootstrap, topic, audit, pool, group) as (ingest, producer):
        # The group's first join is not ingestion: one event through before the clock starts.
        await producer.send_and_wait(records[0])
        while ingest.stored == 0:
            await asyncio.sleep(0.01)
        watcher = asyncio.create_task(watch())
        start = time.perf_counter()
        pending = []
        for i, record in enumerate(records[1:]):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[dict(record.headers or [])["ce_id"].decode()] = time.perf_counter()
            pending.append(await producer.send(record))
        await asyncio.gather(*pending)
        await watcher
    if sent:
        raise RuntimeError(f"{len(sent)} event(s) not in the tree after the steady run")
    return latencies


def _check_progress(ingest: EventConsumer, n: int, deadline: float) -> None:
    """A run that cannot finish fails instead of waiting for ever (and for someone to kill it)."""
    if ingest.dead_lettered:
        raise RuntimeError(f"{ingest.dead_lettered} event(s) dead-lettered during the benchmark")
    if time.monotonic() > deadline:
        raise TimeoutError(f"ingested {ingest.stored} of {n} events before the deadline")


async def timed(fn: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


SYNTHETIC = """
INSERT INTO log_entries (leaf_index, event_id, topic, type, source, subject, actor, time,
                         data_subject, key_id, facets, data_ct, leaf_hash)
SELECT g, 'syn-' || g,
       (ARRAY['identity.events.v1','access.events.v1','billing.events.v1'])[1 + g % 3],
       (ARRAY['vigie.sso.login.succeeded','vigie.sso.login.failed','vigie.access.suspended',
              'vigie.billing.debt.reminded','vigie.billing.debt.settled',
              'vigie.access.restored'])[1 + g % 6],
       (ARRAY['/vigie/sso_gateway','/vigie/accounting'])[1 + g % 2],
       'u-' || (g % $2), CASE WHEN g % 7 = 0 THEN 'user:staff-' || (g % 50) END,
       $3::timestamptz + g * interval '3 seconds', 'u-' || (g % $2), 1,
       CASE g % 6
            WHEN 3 THEN jsonb_build_object('debt_id', 'd-' || g,
                'channel', CASE WHEN g % 2 = 0 THEN 'CPA' ELSE 'card' END)
            -- a settlement of a reminder 1, 7 or 13 entries earlier; a suspension 5 earlier
            WHEN 4 THEN jsonb_build_object('debt_id', 'd-' || (g - 1 - 6 * (g % 3)))
            WHEN 2 THEN jsonb_build_object('debt_ids', jsonb_build_array('d-' || (g - 5)))
            -- the restoration of the suspension 3 entries earlier
            WHEN 5 THEN jsonb_build_object('debt_ids', jsonb_build_array('d-' || (g - 8)))
            ELSE '{}'::jsonb END,
       decode(md5(g::text), 'hex'), sha256(g::text::bytea)
FROM generate_series($1::bigint, $1::bigint + $4 - 1) AS g
"""


async def queries(dsn: str, rows: int) -> dict[str, float]:
    """Print each query's p50, p95 and plan on ``rows`` synthetic entries; return the p50s."""
    schema = f"bench_q_{uuid.uuid4().hex[:6]}"
    await migrate(dsn, schema, SERVICE.migrations)
    conn = await db.connect(dsn, schema)
    settings = Settings(database_url=dsn)
    audit = AuditLog.build(settings)
    subjects = max(1, rows // 20)
    origin = datetime(2025, 1, 1, tzinfo=UTC)
    try:
        await conn.execute("ALTER TABLE log_entries DISABLE TRIGGER log_entries_append_only")
        start = time.perf_counter()
        chunk = 500_000
        for first in range(0, rows, chunk):
            await conn.execute(SYNTHETIC, first, subjects, origin, min(chunk, rows - first))
        # What autovacuum would have done on a log that grew to this size.
        await conn.execute("ANALYZE log_entries, debt_entries")
        load = time.perf_counter() - start
        size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('log_entries'))")
        print(
            f"\nQuery latency on {rows:,} synthetic entries ({subjects:,} subjects; generated "
            f"with indexes in {load:.0f}s, {rows / load:,.0f} rows/s; table+indexes {size})"
        )
        print(f"{'query':<58} {'p50 ms':>8} {'p95 ms':>8}  plan")
        mid = origin + timedelta(seconds=3 * rows // 2)
        cases: list[tuple[str, EntryFilter, int]] = [
            ("by subject, first page", EntryFilter(subject=f"u-{subjects // 3}"), -1),
            ("by actor, first page", EntryFilter(actor="user:staff-7"), -1),
            ("by type, first page", EntryFilter(type="vigie.access.suspended"), -1),
            (
                "by type, page deep in the log (after = n/2)",
                EntryFilter(type="vigie.access.suspended"),
                rows // 2,
            ),
            (
                "by source + 1 hour window mid-log",
                EntryFilter(source="/vigie/accounting", since=mid, until=mid + timedelta(hours=1)),
                -1,
            ),
            (
                "by subject + 30 day window",
                EntryFilter(
                    subject=f"u-{subjects // 2}", since=origin, until=origin + timedelta(days=30)
                ),
                -1,
            ),
        ]
        p50s: dict[str, float] = {}
        for label, where, after in cases:
            rows_seen = await query_repository.page(conn, where, after=after, limit=100)
            p50, p95 = await timed(functools.partial(page, conn, where, after), 30)
            p50s[label] = p50
            plan = await plan_of(conn, where, after)
            print(f"{label:<58} {p50:8.2f} {p95:8.2f}  {plan} ({len(rows_seen)} rows)")
        p50, p95 = await timed(
            lambda: audit.reports.suspension_campaign(conn, mid, mid + timedelta(days=1)), 10
        )
        print(f"{'suspension-campaign report, 1 day of reminders':<58} {p50:8.2f} {p95:8.2f}")
        p50s["suspension-campaign report, 1 day of reminders"] = p50
        return p50s
    finally:
        await conn.close()
        admin = await asyncpg.connect(dsn)
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def page(conn: Any, where: EntryFilter, after: int) -> list[StoredLeaf]:
    return await query_repository.page(conn, where, after=after, limit=100)


async def plan_of(conn: Any, where: EntryFilter, after: int) -> str:
    """The indexes the planner picked (EXPLAIN of the same SQL the API runs)."""
    sql_calls: list[tuple[str, tuple[Any, ...]]] = []

    class Spy:
        async def fetch(self, sql: str, *args: Any) -> list[Any]:
            sql_calls.append((sql, args))
            return []

    await query_repository.page(Spy(), where, after=after, limit=100)  # type: ignore[arg-type]
    sql, args = sql_calls[0]
    plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
    names: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if "Index Name" in node:
            names.append(node["Index Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])
    return "+".join(dict.fromkeys(names)) or "seq scan"


async def main(n_events: int, n_rows: int, runs: int, broker: str) -> None:
    samples: dict[str, list[float]] = {}
    async with stack(broker) as s:
        dsn, bootstrap = s.database_url, s.bootstrap
        for run in range(runs):
            topic = f"bench.{uuid.uuid4().hex[:6]}"
            await ensure_topics(bootstrap, [topic], partitions=3)
            records = events(n_events, topic)
            producer = Producer(bootstrap, client_id="bench-load")
            await producer.start()
            start = time.perf_counter()
            for i in range(0, n_events, 1000):
                await asyncio.gather(*(producer.send_and_wait(r) for r in records[i : i + 1000]))
            samples.setdefault("produce", []).append(n_events / (time.perf_counter() - start))
            await producer.stop()

            samples.setdefault("consume", []).append(await raw_consume(bootstrap, topic, n_events))
            samples.setdefault("copy", []).append(await raw_copy(dsn, records))
            for step, us in cost_split(records).items():
                samples.setdefault(f"split.{step}", []).append(us)
            # A fresh log per run: each run ingests into an empty tree, as the first did.
            schema = f"audit_bench_{run}"
            await migrate(dsn, schema, SERVICE.migrations)
            backends = Backends()
            pool = await db.create_pool(dsn, schema, connection_class=backends.connection_class)
            settings = Settings(database_url=dsn, kafka_bootstrap=bootstrap)
            audit = AuditLog.build(settings)
            run_figures = await pipeline(
                bootstrap, topic, n_events, audit, pool, backends, s.broker.pid
            )
            samples.setdefault("ingest", []).append(run_figures.rate)
            samples.setdefault("ingest_cpu", []).append(run_figures.cpu_us)
            if run_figures.db_cpu_us is not None:
                samples.setdefault("ingest_db_cpu", []).append(run_figures.db_cpu_us)
            if run_figures.broker_cpu_us is not None:
                samples.setdefault("ingest_broker_cpu", []).append(run_figures.broker_cpu_us)
            steady = await event_to_proof(bootstrap, audit, pool, STEADY_RATE, STEADY_SECONDS)
            samples.setdefault("proof_p50", []).append(percentile(steady, 50))
            samples.setdefault("proof_p99", []).append(percentile(steady, 99))
            if run < runs - 1:
                await pool.close()

        async with pool.acquire() as conn:
            start = time.perf_counter()
            report = await audit.verifier.run(conn)
            verify = n_events / (time.perf_counter() - start)
            assert report.ok, report.first_bad
            size, root = await audit.tree.current(conn)
            indexes = [random.randrange(size) for _ in range(300)]
            start = time.perf_counter()
            proofs = [await audit.proofs.inclusion(conn, i, size) for i in indexes]
            gen = len(indexes) / (time.perf_counter() - start)
            start = time.perf_counter()
            for proof in proofs:
                assert verify_inclusion(
                    base64.b64decode(proof.leaf_hash),
                    proof.leaf_index,
                    size,
                    [base64.b64decode(h) for h in proof.inclusion_path],
                    root,
                )
            check = len(proofs) / (time.perf_counter() - start)
            start = time.perf_counter()
            for first in indexes[:100]:
                await audit.proofs.consistency(conn, first + 1, size)
            cons = 100 / (time.perf_counter() - start)
            full_tiles = max(size // 256, 1)
            start = time.perf_counter()
            for _ in range(300):
                assert await audit.tiles.hash_tile(conn, 0, random.randrange(full_tiles), 256)
            tiles = 300 / (time.perf_counter() - start)
        await pool.close()

        produce, consume, copy, ingest = (
            median(samples[k]) for k in ("produce", "consume", "copy", "ingest")
        )
        print(
            f"\nIngestion of {n_events:,} events (3 partitions, polls of "
            f"{settings.ingest_batch_size}, {PART_SIZE} per transaction; {s.broker_name},"
            f" local PostgreSQL, {os.cpu_count()} CPUs, uvloop; median of {runs} runs)"
        )
        print(f"{'figure':<62} {'per second':>12}")
        for label, value in [
            ("aiokafka produce (load phase, acks=all)", produce),
            ("raw limit: aiokafka consume alone", consume),
            ("raw limit: PostgreSQL COPY alone (7 columns, batches of 500)", copy),
            ("pipeline: broker -> seal + Merkle leaves/nodes, committed", ingest),
            ("vigie audit verify: recompute every leaf + root", verify),
            ("inclusion proofs generated from stored nodes", gen),
            ("inclusion proofs verified (RFC 9162 §2.1.3.2)", check),
            ("consistency proofs generated", cons),
            ("tlog-tiles: full level-0 hash tiles served from PostgreSQL", tiles),
        ]:
            print(f"{label:<62} {value:12,.0f}")
        print(f"pipeline runs: {', '.join(f'{v:,.0f}' for v in samples['ingest'])} events/s")
        print(cpu_budget(samples, runs))
        print(
            f"event to inclusion proof at {STEADY_RATE:,.0f} events/s: p50"
            f" {median(samples['proof_p50']):.0f} ms, p99 {median(samples['proof_p99']):.0f} ms"
            f" (a signed checkpoint covers it within checkpoint_interval_seconds, "
            f"{settings.checkpoint_interval_seconds:.0f} s, after that)"
        )
        split = {
            "consume": 1e6 / consume,
            **{k.removeprefix("split."): median(v) for k, v in samples.items() if "split." in k},
            "COPY": 1e6 / copy,
        }
        print(
            "cost split per event (each step alone, µs): "
            + ", ".join(f"{step} {us:.1f}" for step, us in split.items())
        )
        print(
            f"pipeline = {ingest / consume:.1%} of consume alone, {ingest / copy:.1%} of COPY alone"
        )
        print_table(
            f"Audit log on {s.broker_name} (median of {runs} runs of {n_events:,} events)",
            [
                (
                    "ingestion with Merkle hashing vs PostgreSQL COPY alone",
                    ingest,
                    copy,
                    "events/s",
                ),
                (
                    "ingestion with Merkle hashing vs aiokafka consume alone",
                    ingest,
                    consume,
                    "events/s",
                ),
                (
                    f"event to inclusion proof p99 at {STEADY_RATE:,.0f}/s",
                    median(samples["proof_p99"]),
                    None,
                    "ms",
                ),
                ("vigie audit verify (every leaf hash and root)", verify, None, "entries/s"),
                ("inclusion proofs generated", gen, None, "proofs/s"),
                ("inclusion proofs verified", check, None, "proofs/s"),
                ("consistency proofs generated", cons, None, "proofs/s"),
                ("full hash tiles served (256 leaf hashes)", tiles, None, "tiles/s"),
            ],
        )
        if n_rows:
            await queries(dsn, n_rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3, help="ingestion runs (median)")
    parser.add_argument("--broker", choices=BROKERS, default="tansu")
    args = parser.parse_args()
    run(main(args.events, args.rows, args.runs, args.broker))
