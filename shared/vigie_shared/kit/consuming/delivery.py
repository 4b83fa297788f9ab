"""The delivery rules both paths of a consumer apply to a record (docs/architecture.md, Delivery).

A malformed record is a dead letter at once. A permanent failure, the record's fault, is tried
``max_attempts`` times with backoff, then the record becomes a dead letter (one row and one copy
on ``<topic>.dlq`` per consumer group, whatever the redeliveries) and the partition moves on. A
transient one (``failures.is_transient``), an outage of the database or the broker, is raised
to the consumer, which gives the batch back for redelivery: never a dead letter. Every record's
outcome is counted here, whichever path applied it, and its span is opened here.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from enum import StrEnum
from typing import Any, Protocol

import asyncpg
from aiokafka.structs import ConsumerRecord
from opentelemetry import trace

from vigie_shared.kit.backoff import Backoff
from vigie_shared.kit.cloudevents import MalformedEvent
from vigie_shared.kit.dead_letters import dead_letter, is_dead_letter
from vigie_shared.kit.failures import is_transient
from vigie_shared.kit.kafka import Producer
from vigie_shared.kit.metrics import CONSUMER_LAG_SECONDS, EVENTS_CONSUMED
from vigie_shared.kit.telemetry import consuming

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    DEAD_LETTERED = "dead_lettered"


class Deps(Protocol):
    """What a consumer needs at run time (created in the service's lifespan)."""

    @property
    def pool(self) -> asyncpg.Pool: ...

    @property
    def producer(self) -> Producer: ...


class Delivery:
    """One consumer group's delivery rules and tallies, shared by its handler and store paths."""

    def __init__(
        self,
        name: str,
        deps: Deps,
        *,
        max_attempts: int,
        base_delay: float,
        max_message_bytes: int,
    ) -> None:
        self.name = name
        self.deps = deps
        self._max_attempts = max_attempts
        self._retry = Backoff(base=base_delay, cap=max(base_delay, 5.0))
        self._max_message_bytes = max_message_bytes
        self.counts: dict[Outcome, int] = dict.fromkeys(Outcome, 0)
        self.dead_lettered = 0
        """Records this process made dead letters (not counting redeliveries of one)."""

    def span(
        self, record: ConsumerRecord[Any, Any], operation: str = "consume"
    ) -> AbstractContextManager[trace.Span]:
        """The record's span, child of the producer's trace (``kit.telemetry``)."""
        return consuming(
            record.headers,
            f"{operation} {record.topic}",
            **{"messaging.consumer.group.name": self.name, "messaging.destination": record.topic},
        )

    def count(self, record: ConsumerRecord[Any, Any], outcome: Outcome) -> None:
        self.count_many([record], [outcome])

    def count_many(
        self, records: Sequence[ConsumerRecord[Any, Any]], outcomes: Sequence[Outcome]
    ) -> None:
        """Metrics once per batch and label set: a label lookup per record costs more than the
        increment."""
        tally: Counter[tuple[str, Outcome]] = Counter()
        newest: dict[str, int] = {}
        for record, outcome in zip(records, outcomes, strict=True):
            tally[(record.topic, outcome)] += 1
            if record.timestamp:
                newest[record.topic] = max(newest.get(record.topic, 0), record.timestamp)
        for (topic, outcome), count in tally.items():
            self.counts[outcome] += count
            EVENTS_CONSUMED.labels(self.name, topic, outcome.value).inc(count)
        now = time.time()
        for topic, timestamp in newest.items():
            CONSUMER_LAG_SECONDS.labels(self.name, topic).set(max(0.0, now - timestamp / 1000))

    async def retried(
        self,
        record: ConsumerRecord[Any, Any],
        event_id: str,
        tried: int,
        apply: Callable[[], Awaitable[Outcome]],
    ) -> Outcome:
        """``apply`` the record in its own transaction until it succeeds or has been tried
        ``max_attempts`` times in all, then make it a dead letter; transient failures raise."""
        if await is_dead_letter(self.deps.pool, self.name, record):
            # Given up on in an earlier delivery whose offset was never committed: its copy is
            # sent (if that delivery could not) but never a second one, and no retries again.
            await self.dead_letter(record, "redelivered", "already a dead letter", tried)
            return Outcome.DEAD_LETTERED
        attempt = tried
        while True:
            attempt += 1
            try:
                return await apply()
            except Exception as exc:
                if is_transient(exc):
                    raise
                if attempt >= self._max_attempts:
                    log.exception(
                        "%s: %s failed %d times, a dead letter", self.name, event_id, attempt
                    )
                    await self.dead_letter(record, type(exc).__name__, str(exc), attempt)
                    return Outcome.DEAD_LETTERED
                await self._retry.sleep(attempt)

    async def malformed(self, record: ConsumerRecord[Any, Any], exc: MalformedEvent) -> Outcome:
        log.warning(
            "%s: malformed record %s[%s]@%s, a dead letter: %s",
            self.name,
            record.topic,
            record.partition,
            record.offset,
            exc.reason,
        )
        await self.dead_letter(record, "malformed", exc.reason, attempts=0)
        return Outcome.DEAD_LETTERED

    async def dead_letter(
        self, record: ConsumerRecord[Any, Any], error: str, reason: str, attempts: int
    ) -> None:
        if await dead_letter(
            self.deps.pool,
            self.deps.producer,
            record,
            consumer=self.name,
            error=error,
            reason=reason,
            attempts=attempts,
            max_message_bytes=self._max_message_bytes,
        ):
            self.dead_lettered += 1
