"""How the cost grows with the work: audit ingestion and token grants at 1 and 2 worker
processes, and the audit queries at 1 million and 10 million entries, in small tables.

- **Ingestion**: ``--events`` CloudEvents on a topic of 4 partitions, consumed by 1, then 2,
  processes of the audit log's real consumer (``audit_log.ingest``) in one consumer group, into
  one fresh log each time. Every worker appends under the tree's single writer lock (one tree,
  leaf indexes contiguous): a second worker adds decoding, sealing and hashing in parallel, not a
  second writer. The rate is taken from the first committed entry to the last.
- **Token grants**: 1, then 2, ``python -m sso_gateway`` processes on one database (as two
  replicas behind a load balancer are), each driven by ``bench/peers/load.mjs`` with half the
  200 connections; client_credentials grants per second, summed.
- **Queries**: the audit API's queries (``bench_audit.queries``) on synthetic logs of 1 M and
  10 M entries, p50 in ms.

Run: ``python bench/bench_scaling.py [--events N] [--seconds S] [--rows 1000000,10000000]``.
On a 2-core machine two workers share the cores with PostgreSQL, the broker and the load
generator: the curve shows where the work stops spreading, not what more cores would give.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import signal
import sys
import time
import uuid
from urllib.parse import urlencode

from _stack import print_table, run, stack
from bench_audit import events, ingesting, queries
from bench_sso import CLIENTS, FORM, install_peers, load, rate, running, setup

from audit_log.config import Settings as AuditSettings
from audit_log.context import AuditLog
from audit_log.service import SERVICE
from sso_gateway.config import Settings as GatewaySettings
from vigie_shared.kit import db
from vigie_shared.kit.embedded import free_port
from vigie_shared.kit.kafka import Producer, ensure_topics
from vigie_shared.kit.migrate import migrate

WORKERS = (1, 2)
PARTITIONS = 4
GROUP = "bench-scaling"


async def ingest_worker(dsn: str, bootstrap: str, topic: str, schema: str) -> None:
    """One audit-log consumer process (``--ingest-worker``), until SIGTERM."""
    pool = await db.create_pool(dsn, schema)
    audit = AuditLog.build(AuditSettings(database_url=dsn, kafka_bootstrap=bootstrap))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async with ingesting(bootstrap, topic, audit, pool, GROUP):
            print("ready", flush=True)
            await stop.wait()
    finally:
        await pool.close()


async def ingestion(dsn: str, bootstrap: str, n: int, workers: int) -> float:
    """Entries appended per second by ``workers`` consumer processes."""
    topic = f"bench.scaling.{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap, [topic], partitions=PARTITIONS)
    producer = Producer(bootstrap, client_id="bench-load")
    await producer.start()
    records = events(n, topic)
    for i in range(0, n, 1000):
        await asyncio.gather(*(producer.send_and_wait(r) for r in records[i : i + 1000]))
    await producer.stop()
    schema = f"audit_scaling_{workers}_{uuid.uuid4().hex[:6]}"
    await migrate(dsn, schema, SERVICE.migrations)
    conn = await db.connect(dsn, schema)
    tree = AuditLog.build(AuditSettings(database_url=dsn, kafka_bootstrap=bootstrap)).tree
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--ingest-worker",
            dsn,
            bootstrap,
            topic,
            schema,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(workers)
    ]
    try:
        size = 0
        deadline = time.monotonic() + 600
        while size == 0:
            size = await tree.size(conn)
            if time.monotonic() > deadline:
                raise TimeoutError("no entry appended")
            await asyncio.sleep(0.005)
        first, start = size, time.perf_counter()
        while size < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{size} of {n} entries appended before the deadline")
            await asyncio.sleep(0.01)
            size = await tree.size(conn)
        return (n - first) / (time.perf_counter() - start)
    finally:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
        for child in children:
            await child.wait()
        await conn.close()


async def grants(database_url: str, bootstrap: str, processes: int, seconds: float) -> float:
    """client_credentials grants per second served by ``processes`` gateway processes."""
    async with contextlib.AsyncExitStack() as started:
        bases: list[str] = []
        for _ in range(processes):
            port = free_port()
            issuer = f"http://127.0.0.1:{port}"
            env = {
                "VIGIE_DATABASE_URL": database_url,
                "VIGIE_KAFKA_BOOTSTRAP": bootstrap,
                "VIGIE_HTTP_PORT": str(port),
                # One issuer for both, as behind a load balancer; each listens on its own port.
                "VIGIE_ISSUER": bases[0] if bases else issuer,
                "VIGIE_LOG_LEVEL": "WARNING",
            }
            await started.enter_async_context(
                running([sys.executable, "-m", "sso_gateway"], env, f"{issuer}/healthz")
            )
            bases.append(issuer)
        settings = GatewaySettings(database_url=database_url, issuer=bases[0])
        client_id, secret, _ = await setup(settings, 0)
        auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        jobs = [
            {
                "url": base,
                "method": "POST",
                "path": "/token",
                "headers": {"authorization": f"Basic {auth}", "content-type": FORM},
                "body": urlencode({"grant_type": "client_credentials", "resource": client_id}),
                "connections": CLIENTS // processes,
            }
            for base in bases
        ]
        await asyncio.gather(*(load({**job, "duration": 3}, warm_up=True) for job in jobs))
        results = await asyncio.gather(*(load({**job, "duration": seconds}) for job in jobs))
        return sum(rate(result) for result in results)


async def main(n_events: int, seconds: float, sizes: list[int]) -> None:
    install_peers()
    ingest_rates: dict[int, float] = {}
    grant_rates: dict[int, float] = {}
    for workers in WORKERS:
        async with stack() as infra:
            ingest_rates[workers] = await ingestion(
                infra.database_url, infra.bootstrap, n_events, workers
            )
        async with stack() as infra:
            grant_rates[workers] = await grants(
                infra.database_url, infra.bootstrap, workers, seconds
            )
    latencies: dict[int, dict[str, float]] = {}
    async with stack() as infra:
        for rows in sizes:
            latencies[rows] = await queries(infra.database_url, rows)
    one, two = WORKERS
    print_table(
        f"Scaling: 1 and 2 worker processes ({os.cpu_count()} CPUs)",
        [
            (
                f"audit ingestion, {PARTITIONS} partitions: 2 workers vs 1",
                ingest_rates[two],
                ingest_rates[one],
                "events/s",
            ),
            (
                "client_credentials grants: 2 gateways vs 1",
                grant_rates[two],
                grant_rates[one],
                "grants/s",
            ),
        ],
        reference="1 worker",
    )
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        print_table(
            f"Audit queries, p50 at {large:,} entries beside {small:,}",
            [
                (label, latencies[large][label], p50, "ms")
                for label, p50 in latencies[small].items()
            ],
            reference=f"{small:,} entries",
        )


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--ingest-worker":
        run(ingest_worker(*sys.argv[2:]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rows", default="1000000,10000000", help="log sizes, comma-separated")
    args = parser.parse_args()
    run(main(args.events, args.seconds, [int(r) for r in args.rows.split(",")]))
