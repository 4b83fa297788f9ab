"""What the benchmarks start and stop: a private broker and a scratch database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import mkdtemp
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import uvloop

from vigie_shared.kit.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from vigie_shared.kit.kafka_jars import kafka_unavailable_reason, kafka_version
from vigie_shared.kit.kafka_server import ApacheKafka

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


BROKERS = ("tansu", "kafka")
"""What a benchmark can run on: the embedded Tansu (memory only), or Apache Kafka (the jars of
``make kafka-jars``), the engine deployments run."""


@dataclass
class Stack:
    database_url: str
    bootstrap: str
    broker: EmbeddedBroker | ApacheKafka
    broker_name: str
    """How the figures name the broker: "Tansu" or "Apache Kafka <version>"."""


def _start_broker(name: str) -> tuple[EmbeddedBroker | ApacheKafka, str]:
    if name == "tansu":
        return EmbeddedBroker(port=free_port()).start(), "Tansu"
    unavailable = kafka_unavailable_reason()
    if unavailable is not None:
        raise SystemExit(f"--broker kafka: {unavailable}")
    kafka = ApacheKafka(data_dir=Path(mkdtemp(prefix="vigie-bench-kafka-")), port=free_port())
    return kafka.start(timeout=120), f"Apache Kafka {kafka_version() or ''}".strip()


async def _admin_dsn() -> tuple[str, EmbeddedPostgres | None]:
    dsn = os.environ.get("VIGIE_BENCH_DATABASE_URL", DEFAULT_ADMIN_DSN)
    try:
        conn = await asyncpg.connect(dsn, timeout=3)
    except (OSError, asyncpg.PostgresError):
        server = EmbeddedPostgres(Path(mkdtemp(prefix="vigie-bench-")) / "pgdata")
        return server.start(), server
    await conn.close()
    return dsn, None


@contextmanager
def _cancel_on_signals() -> Iterator[None]:
    """SIGTERM or SIGHUP (``timeout``, a closed terminal, a CI runner) would end Python without
    running any ``finally``, leaving the broker running: it is in a session of its own, so the
    signal does not reach it. Cancel the running task instead, so the teardown runs."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            if task is not None:
                loop.add_signal_handler(sig, task.cancel)
                installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


@asynccontextmanager
async def stack(broker_name: str = "tansu") -> AsyncIterator[Stack]:
    """A scratch database and a private broker (``broker_name``, one of :data:`BROKERS`), both
    gone when the block ends, however it ends (an exception, Ctrl-C, SIGTERM or SIGHUP)."""
    with _cancel_on_signals():
        admin, embedded = await _admin_dsn()
        try:
            name = f"vigie_bench_{uuid.uuid4().hex[:8]}"
            conn = await asyncpg.connect(admin)
            await conn.execute(f'CREATE DATABASE "{name}"')
            await conn.close()
            try:
                broker, named = _start_broker(broker_name)
                try:
                    yield Stack(
                        urlunsplit(urlsplit(admin)._replace(path=f"/{name}")),
                        broker.bootstrap,
                        broker,
                        named,
                    )
                finally:
                    broker.stop()
                    if isinstance(broker, ApacheKafka):
                        shutil.rmtree(broker.data_dir, ignore_errors=True)
            finally:
                conn = await asyncpg.connect(admin)
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await conn.close()
        finally:
            if embedded is not None:
                embedded.stop()


def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


class Backends:
    """The PostgreSQL backends of the pools created with :attr:`connection_class`, and the CPU
    they spend (Linux /proc; a figure is None when the server is not readable from here, on
    another machine or in a container)."""

    def __init__(self) -> None:
        self.pids: set[int] = set()
        pids = self.pids

        class Tracked(asyncpg.Connection):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                pids.add(self.get_server_pid())

        self.connection_class: type[asyncpg.Connection] = Tracked

    def cpu(self) -> dict[int, float] | None:
        """CPU seconds of each backend so far."""
        out: dict[int, float] = {}
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/schedstat") as f:
                    out[pid] = int(f.read().split()[0]) / 1e9
            except (OSError, ValueError):
                return None
        return out

    def spent_since(self, start: dict[int, float] | None) -> float | None:
        """CPU seconds spent since :meth:`cpu` gave ``start``; a backend opened meanwhile (a
        pool opens one more whenever all are busy) counts from its start."""
        end = self.cpu()
        if start is None or end is None:
            return None
        return sum(t - start.get(pid, 0.0) for pid, t in end.items())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, all its threads (Linux ``/proc``): work per
    CPU-second compares efficiency even when other work on the machine takes its share of the
    cores, which throughput alone does not."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


Row = tuple[str, float, float | None, str]


def print_table(title: str, rows: Sequence[Row], reference: str = "") -> None:
    """figure | ours | reference | ratio (ours / reference) | unit; rows are also appended to
    ``$VIGIE_BENCH_RESULTS`` (JSON lines) for ``bench/run.py``'s combined table."""
    results = os.environ.get("VIGIE_BENCH_RESULTS")
    if results:
        with open(results, "a", encoding="utf-8") as out:
            for figure, ours, ref, unit in rows:
                out.write(
                    json.dumps(
                        {
                            "bench": title,
                            "figure": figure,
                            "ours": ours,
                            "reference": ref,
                            "reference_name": reference,
                            "unit": unit,
                        }
                    )
                    + "\n"
                )
    print(f"\n{title}" + (f" (reference: {reference})" if reference else ""))
    print(f"{'figure':<52} {'ours':>12} {'reference':>12} {'ratio':>7}  unit")
    for figure, ours, measured, unit in rows:
        shown = f"{measured:12.1f}" if measured is not None else f"{'-':>12}"
        ratio = f"{ours / measured:7.2f}" if measured else f"{'-':>7}"
        print(f"{figure:<52} {ours:12.1f} {shown} {ratio}  {unit}")


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run a benchmark on uvloop, the event loop the services run on (``kit.serve``), so that
    in-process pipelines are measured as they run in production."""
    uvloop.run(main)


ComparisonRow = tuple[str, float | None, Sequence[float | None], str]


def print_comparison(title: str, rows: Sequence[ComparisonRow], references: Sequence[str]) -> None:
    """figure | ours | each reference and ours / it | unit: several peers in one table. Each
    (figure, reference) pair is also appended to ``$VIGIE_BENCH_RESULTS`` in
    :func:`print_table`'s format, so ``bench/run.py`` lists it beside the others."""
    results = os.environ.get("VIGIE_BENCH_RESULTS")
    if results:
        with open(results, "a", encoding="utf-8") as out:
            for figure, ours, refs, unit in rows:
                if ours is None:
                    continue
                for name, ref in zip(references, refs, strict=True):
                    record = {
                        "bench": title,
                        "figure": figure,
                        "ours": ours,
                        "reference": ref,
                        "reference_name": name,
                        "unit": unit,
                    }
                    out.write(json.dumps(record) + "\n")
    print(f"\n{title}")
    for number, name in enumerate(references, 1):
        print(f"  [{number}] {name}")
    header = "".join(f" {f'[{n}]':>10} {'ratio':>6}" for n in range(1, len(references) + 1))
    print(f"{'figure':<52} {'ours':>10}{header}  unit")
    for figure, ours, refs, unit in rows:
        cells = ""
        for ref in refs:
            shown = f"{ref:10.1f}" if ref is not None else f"{'-':>10}"
            ratio = f"{ours / ref:6.2f}" if ours is not None and ref else f"{'-':>6}"
            cells += f" {shown} {ratio}"
        ours_text = f"{ours:10.1f}" if ours is not None else f"{'-':>10}"
        print(f"{figure:<52} {ours_text}{cells}  {unit}")
