"""A service's own producer and the outbox relay that publishes through it: events leave the
outbox after the commit that wrote them (docs/architecture.md, Delivery). The consumers send
their dead-letter copies through the same producer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

import asyncpg

from vigie_shared.kit.kafka import KafkaCredentials, Producer
from vigie_shared.kit.outbox import OutboxRelay
from vigie_shared.kit.settings import ServiceSettings


class ServiceProducer:
    """Started in two steps, with the service's ``on_start`` hooks in between (they may write
    to the outbox: a data system announces itself): :meth:`connect` makes the producer and the
    relay, :meth:`start_relay` runs the relay's loop."""

    def __init__(
        self, name: str, schema: str, settings: ServiceSettings, login: KafkaCredentials | None
    ) -> None:
        self.name = name
        self.schema = schema
        self.settings = settings
        self.login = login
        self._producer: Producer | None = None
        self.relay: OutboxRelay | None = None
        self._relay_task: asyncio.Task[None] | None = None

    @property
    def producer(self) -> Producer:
        if self._producer is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._producer

    async def connect(
        self, pool: asyncpg.Pool, ensure_topics: Callable[[], Awaitable[None]]
    ) -> None:
        self._producer = Producer(
            self.settings.kafka_bootstrap, client_id=f"{self.name}-relay", login=self.login
        )
        await self._producer.start()
        self.relay = OutboxRelay(
            pool,
            self._producer,
            schema=self.schema,
            retention=timedelta(hours=self.settings.outbox_retention_hours),
            ensure_topics=ensure_topics,
        )

    def start_relay(self) -> None:
        if self.relay is None:
            raise RuntimeError(f"{self.name}: the relay runs once connected")
        self._relay_task = asyncio.create_task(self.relay.run(), name=f"{self.name}-relay")

    async def ping(self) -> bool:
        """Whether the broker answers the producer; False before it is connected."""
        return self._producer is not None and await self._producer.ping()

    async def stop(self) -> None:
        """The relay's loop first, then the producer it sends through; each only once."""
        if self._relay_task is not None:
            self._relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay_task
            self._relay_task = None
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
