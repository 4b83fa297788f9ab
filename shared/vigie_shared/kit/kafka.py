"""Thin helpers over aiokafka for what FastStream does not cover: topic creation, the relay's
producer with per-record delivery reports, and reading back a record to notice a broker that
lost its log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NodeNotReadyError,
    OffsetOutOfRangeError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    RequestTimedOutError,
    TopicAlreadyExistsError,
    for_code,
)
from aiokafka.protocol.transaction import InitProducerIdRequest
from aiokafka.structs import RecordMetadata
from faststream.security import SASLScram512

from vigie_shared import topics
from vigie_shared.kit.cloudevents import KafkaRecord
from vigie_shared.kit.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KafkaCredentials:
    """A SCRAM-SHA-512 user of the broker (kit/kafka_acls.py says what each may do)."""

    username: str
    password: str = field(repr=False)


def service_login(settings: ServiceSettings) -> KafkaCredentials | None:
    """The service's broker login; None (plaintext, no authentication) when not configured."""
    if not settings.kafka_username or not settings.kafka_password:
        return None
    return KafkaCredentials(settings.kafka_username, settings.kafka_password)


def client_security(login: KafkaCredentials | None) -> dict[str, Any]:
    """aiokafka's keyword arguments for ``login``: SASL/SCRAM-SHA-512 (RFC 5802, RFC 7677)
    over the broker's SASL_PLAINTEXT listener, or nothing for a plaintext broker."""
    if login is None:
        return {}
    return {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": login.username,
        "sasl_plain_password": login.password,
    }


def faststream_security(login: KafkaCredentials | None) -> SASLScram512 | None:
    """The same login for FastStream's ``KafkaBroker(security=...)``."""
    if login is None:
        return None
    return SASLScram512(login.username, login.password)


async def ensure_topics(
    bootstrap: str,
    names: Iterable[str] = topics.ALL,
    *,
    partitions: int = 3,
    replication: int = 1,
    min_insync: int | None = None,
    with_dlq: bool = True,
    login: KafkaCredentials | None = None,
) -> None:
    """Create missing topics (and their ``.dlq``); existing ones are left as they are.

    ``min_insync`` sets the topic's ``min.insync.replicas`` (the broker's default otherwise):
    with ``acks=all``, a write is refused rather than acknowledged by fewer replicas."""
    wanted = list(names)
    if with_dlq:
        wanted += [topics.dlq(name) for name in wanted]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_security(login))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        configs = {} if min_insync is None else {"min.insync.replicas": str(min_insync)}
        for name in missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(name, partitions, replication, topic_configs=configs)]
                )
        if missing:
            log.info("created topics %s", missing)
    finally:
        await admin.close()


async def grants_producer_ids(bootstrap: str, login: KafkaCredentials | None = None) -> bool:
    """Whether the broker hands out producer ids (InitProducerId, KIP-98), without which an
    idempotent producer cannot start. Apache Kafka does; Tansu advertises the request in
    ApiVersions yet answers it with an unknown error. A retriable error (a coordinator still
    loading) is an answer of a broker that has the feature."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, **client_security(login))
    await client.bootstrap()
    try:
        unreachable: KafkaError = NodeNotReadyError("no broker in the cluster's metadata")
        # Any live broker answers; the metadata may still list one that has just crashed.
        for broker in client.cluster.brokers():
            try:
                response = await client.send(broker.nodeId, InitProducerIdRequest(None, 60_000))
            except (NodeNotReadyError, KafkaConnectionError, RequestTimedOutError) as exc:
                unreachable = exc
                continue
            error = for_code(response.error_code)
            return response.error_code == 0 or bool(error.retriable)
        raise unreachable
    finally:
        await client.close()


async def _leader_ends(
    consumer: AIOKafkaConsumer, partitions: set[TopicPartition], timeout: float
) -> dict[TopicPartition, int]:
    """The log ends the partitions' leaders report. A partition that cannot say, its leader
    crashed and not yet replaced (or a new leader whose high watermark is not known yet,
    KIP-207), raises: taking its unread record for a lost log would relay the partition's
    every retained row again into a log that still holds them."""
    try:
        ends: dict[TopicPartition, int] = await asyncio.wait_for(
            consumer.end_offsets(list(partitions)), timeout
        )
    except (KafkaError, TimeoutError) as exc:
        names = sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)
        raise KafkaTimeoutError(f"no answer from the leaders of {names}") from exc
    return ends


async def _read_at(
    consumer: AIOKafkaConsumer,
    partitions: set[TopicPartition],
    positions: dict[tuple[str, int], int],
    found: dict[tuple[str, int], str | None],
    timeout: float,
) -> set[TopicPartition]:
    """Read the ``ce_id`` of the record at each partition's offset into ``found``; returns the
    partitions that gave no record in time. A partition whose offset is out of range has no
    record there, and is read."""
    remaining = set(partitions)
    for tp in remaining:
        consumer.seek(tp, positions[(tp.topic, tp.partition)])
    deadline = asyncio.get_running_loop().time() + timeout
    while remaining and asyncio.get_running_loop().time() < deadline:
        try:
            batches = await consumer.getmany(*remaining, timeout_ms=300)
        except OffsetOutOfRangeError as exc:
            remaining -= set(exc.args[0]) if exc.args else remaining
            continue
        for tp, records in batches.items():
            wanted = positions[(tp.topic, tp.partition)]
            match = next((r for r in records if r.offset == wanted), None)
            if match is not None:
                raw = dict(match.headers or ()).get("ce_id")
                found[(tp.topic, tp.partition)] = raw.decode() if raw else None
            remaining.discard(tp)
    return remaining


async def _stop(consumer: AIOKafkaConsumer) -> None:
    """Stop ``consumer``. aiokafka's fetcher, closed while it backs off from a broker that went
    away, lets its own task's cancellation out of ``stop()``; unless this task is the one being
    cancelled, that is not ours to pass on (it would end the caller, the outbox relay)."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        await close_after_cut_stop(consumer)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("aiokafka's consumer let a cancellation out of stop(); ignored")


async def close_after_cut_stop(consumer: AIOKafkaConsumer) -> None:
    """Close what ``consumer.stop()`` skipped when its fetcher let a cancellation out of it:
    the client (connections and the metadata task), closed last by ``stop()``. Without this
    the client retries a broker that is gone for as long as the process lives. aiokafka marks
    the consumer closed first, so a second ``stop()`` does nothing, and has no public way to
    close the client alone."""
    client = consumer._client
    with contextlib.suppress(Exception):
        await asyncio.shield(client.close())


DELIVERY_TIMEOUT = 30.0
"""Longest wait for the broker to acknowledge a record before the producer is replaced.

The Java client bounds delivery the same way (``delivery.timeout.ms``, KIP-91), idempotent or
not. aiokafka's idempotent producer never expires a batch: its sender retries it for ever, and
has been seen to keep failing on one partition after a leader change, or to stop on a fatal
sequence error, until its process restarted, while every other partition went on. A relay
waiting on such a record would hold back every row after it; a new producer (new connections,
metadata and producer id) delivers them."""

_ABANDON_TIMEOUT = 5.0
"""How long a replaced producer is given to stop before it is left to itself."""


class DeliveryStalled(KafkaTimeoutError):
    """Records the broker did not acknowledge within :data:`DELIVERY_TIMEOUT`; the producer
    has been replaced, and they may be sent again (a repeat at worst, which inboxes absorb)."""


class Producer:
    """One aiokafka producer per process. ``acks="all"``: a record counts as sent only when every
    in-sync replica has it. Idempotent where the broker grants producer ids (Apache Kafka): a
    batch retried after a lost acknowledgement is then written once, in order. Tansu grants
    none, so there the consumers' inboxes absorb the duplicates a retry may cause.

    ``idempotence`` forces the choice; None asks the broker when starting. ``login``: the
    service's SCRAM user, for a broker that authenticates its clients."""

    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str,
        idempotence: bool | None = None,
        login: KafkaCredentials | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._login = login
        self._client_id = client_id
        self._idempotence = idempotence
        self._started: AIOKafkaProducer | None = None
        self._replacing = asyncio.Lock()
        self.generation = 0
        """How many times the aiokafka producer was replaced (:meth:`replace`)."""

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self._started is None:
            raise RuntimeError("the producer is not started")
        return self._started

    @property
    def idempotent(self) -> bool:
        return self._started is not None and bool(self._idempotence)

    async def start(self) -> None:
        if self._idempotence is None:
            self._idempotence = await grants_producer_ids(self._bootstrap, self._login)
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=self._idempotence,
            # No wait for more records: the relay hands a whole batch to the producer before
            # the sender runs, so a batch's records go together all the same.
            linger_ms=0,
            request_timeout_ms=10_000,
            **client_security(self._login),
        )
        await producer.start()
        self._started = producer

    async def stop(self) -> None:
        if self._started is not None:
            await self._started.stop()

    async def replace(self, reason: str, *, generation: int) -> None:
        """Put a new aiokafka producer in place of the one of ``generation`` (a caller whose
        records stalled says which it used: two callers stalled on one producer replace it
        once). The old one is asked to stop; records it still holds may yet be written by it,
        as repeats of those its callers send again."""
        async with self._replacing:
            if generation != self.generation or self._started is None:
                return
            old = self._started
            await self.start()
            self.generation += 1
            log.warning("producer %s replaced: %s", self._client_id, reason)
        try:
            # stop() flushes first, and a stalled batch never flushes.
            await asyncio.wait_for(old.stop(), _ABANDON_TIMEOUT)
        except (KafkaError, TimeoutError) as exc:
            log.warning(
                "the replaced producer %s did not stop (%s); left to itself",
                self._client_id,
                type(exc).__name__,
            )

    async def send(self, record: KafkaRecord) -> asyncio.Future[RecordMetadata]:
        """Queue a record; the returned future resolves with its partition and offset."""
        generation = self.generation
        try:
            return await self._queue(record)
        except (OutOfOrderSequenceNumber, ProducerFenced) as exc:
            # Fatal to the producer's session (KIP-98): its sender has stopped, and every
            # record queued on it fails alike from then on.
            await self.replace(type(exc).__name__, generation=generation)
            return await self._queue(record)

    async def _queue(self, record: KafkaRecord) -> asyncio.Future[RecordMetadata]:
        fut: asyncio.Future[RecordMetadata] = await self._producer.send(
            record.topic, value=record.value, key=record.key, headers=record.headers
        )
        return fut

    async def send_and_wait(
        self, record: KafkaRecord, *, timeout: float = DELIVERY_TIMEOUT
    ) -> RecordMetadata:
        """Send a record and wait for its acknowledgement; after ``timeout``, the producer is
        replaced and :class:`DeliveryStalled` raised (transient: the caller sends it again)."""
        generation = self.generation
        future = await self.send(record)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            reason = f"a record to {record.topic} unacknowledged after {timeout:g}s"
            await self.replace(reason, generation=generation)
            raise DeliveryStalled(reason) from None

    async def event_ids_at(
        self, positions: dict[tuple[str, int], int], *, timeout: float = 3.0
    ) -> dict[tuple[str, int], str | None]:
        """The ``ce_id`` of the record at each (topic, partition) offset; None where the broker
        no longer has it. Reading the record itself, rather than trusting log-end offsets, is
        what tells a broker that lost its log: the embedded one reports the base offset of the
        last batch as its log end, which is below the true end whenever batches hold several
        records."""
        found: dict[tuple[str, int], str | None] = dict.fromkeys(positions)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="none",
            **client_security(self._login),
        )
        await consumer.start()
        try:
            known = await consumer.topics()
            remaining = {TopicPartition(t, p) for (t, p) in positions if t in known}
            if not remaining:
                return found
            consumer.assign(list(remaining))
            unread = await _read_at(consumer, remaining, positions, found, timeout)
            if unread:
                ends = await _leader_ends(consumer, unread, timeout)
                # A leader that says its log goes past the offset may well hold the record,
                # and the first read may have gone to a leader that crashed since (asking for
                # the log ends is how the consumer learnt of its successor): read once more.
                # What stays unread is taken for gone: the embedded broker, after losing its
                # log, can report an end past an offset it serves nothing at.
                past = {tp for tp in unread if ends[tp] > positions[(tp.topic, tp.partition)]}
                if past:
                    await _read_at(consumer, past, positions, found, timeout)
            return found
        finally:
            await _stop(consumer)

    async def ping(self, timeout: float = 2.0) -> bool:
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout)
        except Exception:  # any failure means "not reachable" for /readyz
            return False
        return True
