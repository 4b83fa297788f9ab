"""Thin helpers over aiokafka for what FastStream does not cover: topic creation, the relay's
producer with per-record delivery reports, and reading back a record to notice a broker that
lost its log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import OffsetOutOfRangeError, TopicAlreadyExistsError
from aiokafka.structs import RecordMetadata

from vigie_shared import topics
from vigie_shared.kit.cloudevents import KafkaRecord

log = logging.getLogger(__name__)


async def ensure_topics(
    bootstrap: str,
    names: Iterable[str] = topics.ALL,
    *,
    partitions: int = 3,
    replication: int = 1,
    with_dlq: bool = True,
) -> None:
    """Create missing topics (and their ``.dlq``); existing ones are left as they are."""
    wanted = list(names)
    if with_dlq:
        wanted += [topics.dlq(name) for name in wanted]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        for name in missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(name, partitions, replication)])
        if missing:
            log.info("created topics %s", missing)
    finally:
        await admin.close()


class Producer:
    """One aiokafka producer per process. ``acks="all"``: a record counts as sent only when every
    in-sync replica has it. No idempotence: the embedded broker lacks it, and the consumers'
    inboxes absorb the duplicates a retry may cause."""

    def __init__(self, bootstrap: str, *, client_id: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            acks="all",
            enable_idempotence=False,
            linger_ms=2,
            request_timeout_ms=10_000,
        )
        self._bootstrap = bootstrap

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, record: KafkaRecord) -> asyncio.Future[RecordMetadata]:
        """Queue a record; the returned future resolves with its partition and offset."""
        fut: asyncio.Future[RecordMetadata] = await self._producer.send(
            record.topic, value=record.value, key=record.key, headers=record.headers
        )
        return fut

    async def send_and_wait(self, record: KafkaRecord) -> RecordMetadata:
        return await (await self.send(record))

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
            bootstrap_servers=self._bootstrap, enable_auto_commit=False, auto_offset_reset="none"
        )
        await consumer.start()
        try:
            known = await consumer.topics()
            remaining = {TopicPartition(t, p) for (t, p) in positions if t in known}
            if not remaining:
                return found
            consumer.assign(list(remaining))
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
                        headers = dict(match.headers or ())
                        raw = headers.get("ce_id")
                        found[(tp.topic, tp.partition)] = raw.decode() if raw else None
                    remaining.discard(tp)
            return found
        finally:
            await consumer.stop()

    async def ping(self, timeout: float = 2.0) -> bool:
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout)
        except Exception:  # any failure means "not reachable" for /readyz
            return False
        return True
