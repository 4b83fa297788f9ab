"""A service's moving parts and their lifecycle: database pool, producer and outbox relay
(:mod:`~vigie_shared.kit.service_producer`), FastStream broker and its consumers
(:mod:`~vigie_shared.kit.service_broker`), periodic jobs and workers
(:mod:`~vigie_shared.kit.background`), and what every service's app has
(:mod:`~vigie_shared.kit.service_app`). :class:`Runtime` composes them; the app's lifespan starts
and stops them in order (FastStream's advice: the broker lives in the app's lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg

from vigie_shared.kit import db
from vigie_shared.kit.background import BackgroundWorkers, Periodic
from vigie_shared.kit.consumer import EventConsumer
from vigie_shared.kit.db import Conn
from vigie_shared.kit.kafka import Producer, service_login
from vigie_shared.kit.metrics import ConsumerProgress
from vigie_shared.kit.migrate import migrate
from vigie_shared.kit.outbox import OutboxRelay
from vigie_shared.kit.service_app import (
    SECRET_LOGGERS,
    install_service_app,
    quiet_secret_loggers,
)
from vigie_shared.kit.service_broker import ConsumerGroupsNotFormed, ServiceBroker, wait_for_broker
from vigie_shared.kit.service_producer import ServiceProducer
from vigie_shared.kit.settings import ServiceSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = [
    "SECRET_LOGGERS",
    "SERVICE_ORDER",
    "ConsumerGroupsNotFormed",
    "Periodic",
    "Runtime",
    "ServiceSpec",
    "discover",
    "quiet_secret_loggers",
    "wait_for_broker",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceSpec:
    """How the ``vigie`` command finds, migrates, seeds and runs a service (entry point group
    ``vigie.services``), without importing one service from another."""

    name: str
    schema: str
    default_port: int
    migrations: Path | None
    module: str
    settings_factory: Callable[[], ServiceSettings]
    seed_demo: Callable[[ServiceSettings], Coroutine[Any, Any, list[str]]] | None = None
    pages: tuple[tuple[str, str], ...] = ()

    @property
    def source(self) -> str:
        """CloudEvents ``source`` of what this service emits."""
        return f"/vigie/{self.name}"


SERVICE_ORDER = ("audit_log", "sso_gateway", "dpo_requests")
"""The order ``vigie up`` starts them in: the audit log first, so it sees every event."""


def discover() -> list[ServiceSpec]:
    """Every installed service (entry point group ``vigie.services``), in ``SERVICE_ORDER``:
    no service is imported by another, and a new one plugs in by declaring its entry point."""
    specs = [ep.load() for ep in entry_points(group="vigie.services")]
    order = SERVICE_ORDER
    return sorted(specs, key=lambda s: order.index(s.name) if s.name in order else len(order))


class Runtime:
    """One service's moving parts, declared by its wiring (:meth:`consumer`, :meth:`on_start`,
    :meth:`every`, :meth:`alongside`) and started together, in order: the pool, the producer
    and relay (:class:`ServiceProducer`), the broker and its consumers (:class:`ServiceBroker`),
    then the jobs and workers (:class:`BackgroundWorkers`); stopped in the reverse order."""

    def __init__(self, spec: ServiceSpec, settings: ServiceSettings) -> None:
        self.spec = spec
        self.settings = settings
        self.login = service_login(settings)
        self._kafka = ServiceBroker(spec.name, settings, self.login)
        self.broker = self._kafka.broker
        self._background = BackgroundWorkers(spec.name)
        self.periodic = self._background.periodic
        self._outbox = ServiceProducer(spec.name, spec.schema, settings, self.login)
        self._pool: asyncpg.Pool | None = None
        self.consumers: list[EventConsumer] = []
        self._watched: list[ConsumerProgress] = []
        self._on_start: list[Callable[[Conn], Awaitable[None]]] = []

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError(f"{self.spec.name} is not started")
        return self._pool

    @property
    def producer(self) -> Producer:
        return self._outbox.producer

    @property
    def relay(self) -> OutboxRelay | None:
        return self._outbox.relay

    def consumer(self, purpose: str, *topic_names: str) -> EventConsumer:
        consumer = EventConsumer(
            f"{self.spec.name}.{purpose}", self, max_attempts=self.settings.consumer_max_attempts
        )
        consumer.subscribe(
            self.broker, *topic_names, session_timeout_ms=self.settings.kafka_session_timeout_ms
        )
        self.consumers.append(consumer)
        self.watch(consumer.progress)
        return consumer

    def watch(self, progress: ConsumerProgress) -> None:
        """Let ``/readyz`` say when this consumer is stalled (records waiting, none moved past
        for its stall window): a wedged partition is otherwise invisible from outside, the
        process answering every probe. Consumers made by :meth:`consumer` are watched."""
        self._watched.append(progress)

    def on_start(self, hook: Callable[[Conn], Awaitable[None]]) -> None:
        """Run ``hook`` with a connection once the schema is migrated, before consumers start."""
        self._on_start.append(hook)

    def every(self, interval: float, name: str, job: Callable[[], Awaitable[object]]) -> None:
        """Run ``job`` every ``interval`` seconds while the service is up, from the lifespan:
        started once the service has started (consumers included), cancelled before it stops.
        Several replicas each run it: the job takes its own locks."""
        self._background.every(interval, name, job)

    def alongside(self, name: str, worker: Callable[[], Awaitable[object]]) -> None:
        """Run ``worker`` (a loop of its own: a queue it drains, woken as it chooses) while the
        service is up, from the lifespan like :meth:`every`: started after the service,
        cancelled before it stops."""
        self._background.alongside(name, worker)

    async def start(self) -> None:
        """Migrate, connect and start consuming. A start that fails stops what it started (the
        relay's task, the producer, the pool) before the error goes on: the caller never gets a
        runtime to stop, and a lifespan that fails to start does not run its exit."""
        try:
            await self._start()
        except BaseException:
            with contextlib.suppress(Exception):
                await self.stop()
            raise

    async def _start(self) -> None:
        s = self.settings
        await migrate(s.database_url, self.spec.schema, self.spec.migrations)
        self._pool = await db.create_pool(s.database_url, self.spec.schema)
        await self._kafka.wait_for_topics()
        await self._outbox.connect(self._pool, self._kafka.ensure_topics)
        for hook in self._on_start:
            async with self._pool.acquire() as conn:
                await hook(conn)
        self._outbox.start_relay()
        await self._kafka.start()
        log.info("%s started", self.spec.name)

    async def stop(self) -> None:
        """Stop what is running, consumers first. A second stop is harmless: a failed start's
        own clean-up may be followed by its caller's."""
        # Consumers first: each finishes and commits the message in hand (graceful_timeout).
        await self._kafka.stop()
        await self._outbox.stop()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        log.info("%s stopped", self.spec.name)

    def install(self, app: FastAPI) -> None:
        """What every service's app has (:func:`install_service_app`), with ``/readyz`` answered
        by :meth:`readiness`; the app's handlers reach this runtime as ``app.state.runtime``."""
        app.state.runtime = self
        install_service_app(
            app, service=self.spec.name, settings=self.settings, readiness=self.readiness
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        await self.start()
        self._background.start()
        try:
            yield
        finally:
            await self._background.stop()
            await self.stop()

    async def readiness(self) -> dict[str, bool]:
        database = False
        try:
            async with asyncio.timeout(2):
                database = await self.pool.fetchval("SELECT true") is True
        except Exception:  # unreachable for any reason means not ready
            database = False
        broker = await self._outbox.ping()
        checks = {"database": database, "broker": broker}
        for progress in self._watched:
            checks[f"consumer {progress.consumer}"] = not progress.stalled()
        return checks
