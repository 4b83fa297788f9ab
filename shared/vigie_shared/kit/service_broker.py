"""A service's FastStream broker through its lifecycle: the topics it needs, a start in which
every consumer group must form in time, and a stop in which each subscriber stops on its own.
``KafkaBroker.start`` and ``stop`` are not used whole: the first may hang on a group that never
forms, the second lets one subscriber's cut stop cancel the others' (see
:meth:`ServiceBroker.start` and :meth:`ServiceBroker._stop_subscribers`)."""

from __future__ import annotations

import asyncio
import logging

from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import LogicSubscriber

from vigie_shared import topics
from vigie_shared.kit.kafka import (
    KafkaCredentials,
    close_after_cut_stop,
    ensure_topics,
    faststream_security,
    grants_producer_ids,
)
from vigie_shared.kit.settings import ServiceSettings

# The runtime's logger: these lines are part of a service's lifecycle, whose levels and filters
# an operator sets on that one name.
log = logging.getLogger("vigie_shared.kit.runtime")


class ConsumerGroupsNotFormed(RuntimeError):
    """A service's consumer groups got no partitions in time: it does not start."""


async def wait_for_broker(
    bootstrap: str,
    *,
    timeout: float = 60.0,
    partitions: int = 3,
    replication: int = 1,
    login: KafkaCredentials | None = None,
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await ensure_topics(
                bootstrap, topics.ALL, partitions=partitions, replication=replication, login=login
            )
            return
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


class ServiceBroker:
    """The broker a service's subscribers and publishers are declared on (:attr:`broker`), and
    the topics they use."""

    def __init__(
        self, name: str, settings: ServiceSettings, login: KafkaCredentials | None
    ) -> None:
        self.name = name
        self.settings = settings
        self.login = login
        self.broker = KafkaBroker(
            # A list: FastStream takes a comma-separated string for one host name.
            [server.strip() for server in settings.kafka_bootstrap.split(",")],
            client_id=name,
            acks="all",
            security=faststream_security(login),
            graceful_timeout=15.0,
            logger=logging.getLogger(f"vigie.{name}.faststream"),
            # "Received"/"Processed" for every message is tracing, not news: at INFO it buries
            # what an operator (or a newcomer's terminal under make run) needs to see.
            log_level=logging.DEBUG,
        )

    async def wait_for_topics(self) -> None:
        """Wait for the broker to answer, with every topic made (:func:`wait_for_broker`)."""
        s = self.settings
        await wait_for_broker(
            s.kafka_bootstrap,
            partitions=s.kafka_partitions,
            replication=s.kafka_replication,
            login=self.login,
        )

    async def ensure_topics(self) -> None:
        await ensure_topics(
            self.settings.kafka_bootstrap,
            topics.ALL,
            partitions=self.settings.kafka_partitions,
            replication=self.settings.kafka_replication,
            login=self.login,
        )

    async def start(self) -> None:
        """What ``KafkaBroker.start`` does, but with the subscribers joining their consumer
        groups together (FastStream starts them one after the other, and each join waits for
        the group's rebalance: on Tansu, half the session timeout), and within
        ``kafka_group_join_timeout_seconds``: aiokafka waits for an assignment with no limit,
        so a group that never forms would hang the start with nothing said."""
        # FastStream takes its producer's options only when the broker object is built, and
        # whether the broker grants producer ids (Apache Kafka does, Tansu does not) is known
        # only once it answers: set it on the options it keeps, before it connects.
        self.broker._connection_kwargs["enable_idempotence"] = await grants_producer_ids(
            self.settings.kafka_bootstrap, self.login
        )
        await self.broker.connect()
        subscribers = list(self.broker.subscribers)
        try:
            await asyncio.wait_for(
                asyncio.gather(*(subscriber.start() for subscriber in subscribers)),
                self.settings.kafka_group_join_timeout_seconds,
            )
        except TimeoutError:
            waiting = sorted(
                str(subscriber.group_id)
                for subscriber in subscribers
                if isinstance(subscriber, LogicSubscriber)
                and (subscriber.consumer is None or not subscriber.consumer.assignment())
            )
            # The runtime's failed start stops what did start (:meth:`stop`): the groups that
            # formed are left (LeaveGroup), the connections closed. A join still pending is not
            # left (aiokafka leaves only from a generation): the coordinator drops that member
            # once its session expires.
            raise ConsumerGroupsNotFormed(
                f"{self.name}: consumer group(s) {', '.join(waiting)} did not form within "
                f"{self.settings.kafka_group_join_timeout_seconds:g} s on "
                f"{self.settings.kafka_bootstrap}"
            ) from None
        for publisher in self.broker.publishers:
            await publisher.start()
        self.broker.running = True

    async def stop(self) -> None:
        """Stop every subscriber, each on its own (:meth:`_stop_subscribers`), then the
        broker's own connection."""
        await self._stop_subscribers()
        await self.broker.stop()

    async def _stop_subscribers(self) -> None:
        """Stop every subscriber, each whatever the others do. ``KafkaBroker.stop`` stops them
        in one anyio task group: when aiokafka lets a cancellation out of one consumer's
        ``stop()`` (its fetcher, closed while it backs off from a broker that went away), the
        group cancels the other stops midway, and their consumers' heartbeats, fetchers and
        connections run on, unowned, for as long as the process. A consumer whose stop was cut
        that way has its client closed here (``kit.kafka.close_after_cut_stop``). What is left
        for ``KafkaBroker.stop`` afterwards is only its own connection."""
        subscribers = list(self.broker.subscribers)
        results = await asyncio.gather(
            *(subscriber.stop() for subscriber in subscribers), return_exceptions=True
        )
        for subscriber, result in zip(subscribers, results, strict=True):
            consumer = getattr(subscriber, "consumer", None)
            if isinstance(result, asyncio.CancelledError) and consumer is not None:
                await close_after_cut_stop(consumer)
            if isinstance(result, BaseException):
                log.warning(
                    "%s: a subscriber of %s did not stop cleanly: %r",
                    self.name,
                    getattr(subscriber, "group_id", "?"),
                    result,
                )
