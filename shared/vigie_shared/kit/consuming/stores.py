"""The store path: a :class:`BatchStore` takes every event of a consumer, in parts.

Each polled batch is stored in parts of ``part_size`` records: one transaction per part claims
the part's ids in the inbox (``kit.inbox``) and hands the new ones to the store. A
:class:`DedupingStore` (the audit log's, which takes every event and whose unique event id
refuses a repeat) is handed every record and claims nothing: it says which it stored. Two parts
are stored at once, on two connections, and take the store's ordering lock in the order polled,
while the next part is decoded. A part that fails (not transiently) is stored again one record
per transaction, so a poison record becomes a dead letter after ``max_attempts`` and the rest
of its part is kept: the retries, dead letters and counting are the delivery rules
(``consuming.delivery``) that the handler path follows too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from typing import Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

from aiokafka.structs import ConsumerRecord

from vigie_shared.events import CloudEvent
from vigie_shared.kit.cloudevents import MalformedEvent, decode
from vigie_shared.kit.consuming.delivery import Delivery, Outcome
from vigie_shared.kit.db import Conn
from vigie_shared.kit.failures import is_transient
from vigie_shared.kit.inbox import inbox_repository
from vigie_shared.kit.telemetry import spans_go_anywhere

log = logging.getLogger(__name__)

T = TypeVar("T")

PART_SIZE = 500
"""Records per transaction of a :class:`BatchStore` (the batch size before parts): smaller
parts would pay a transaction's dozen round trips and its commit more often."""

_IN_FLIGHT = 2
"""Parts being stored at once, each in its own transaction on its own connection: while one
holds the store's ordering lock, the next claims its records in the inbox (unless its store
dedupes by itself), then queues."""

_YIELD_EVERY = 10
"""Decoding lets the parts being stored send their next statements every this many records."""


class Refused(Exception):
    """A valid event that a :class:`BatchStore` can never take (too large for it, say): a dead
    letter at once, never claimed nor retried."""

    def __init__(self, error: str, reason: str) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason


class BatchStore(Protocol[T]):
    """A consumer's own storage of its records, part by part, in place of handlers; the
    consumer claims each part's event ids in the inbox and hands the store the new ones."""

    def prepare(self, event: CloudEvent[Any]) -> T:
        """What is stored of ``event``, judged before it is claimed; raises :class:`Refused`
        (or any error) for an event that can never be stored, which becomes a dead letter."""
        ...

    async def store(self, conn: Conn, items: Sequence[T], *, locked: asyncio.Event) -> None:
        """Apply the new ``items`` of a part in its transaction, in order; set ``locked`` once
        holding the lock that orders the parts (the consumer sets it when this returns)."""
        ...


@runtime_checkable
class DedupingStore(Protocol[T]):
    """A :class:`BatchStore` that keeps each event id once by itself, and so has nothing
    claimed in the inbox.

    Its storage holds the id of every event it applied under a unique key, for as long as the
    effect lasts, and it skips the ids it holds: an inbox row per event would record the same
    fact a second time, in the same transaction, at a cost per event. Delivery stays at least
    once and the effect once per id: a redelivered record reaches the store, which stores
    nothing for it and says so, and the consumer counts it a duplicate.
    """

    dedupes_by_event_id: ClassVar[Literal[True]]
    """The declaration that takes the store off the inbox; a store without it is claimed."""

    def prepare(self, event: CloudEvent[Any]) -> T:
        """As :meth:`BatchStore.prepare`; what it makes carries the event's id."""
        ...

    async def store(
        self, conn: Conn, items: Sequence[T], *, locked: asyncio.Event
    ) -> Collection[str]:
        """Apply, in the part's transaction and in order, those of ``items`` whose event id it
        does not hold yet (an id repeated in ``items`` once); the event ids it applied. Set
        ``locked`` as :meth:`BatchStore.store` does."""
        ...


AnyStore = BatchStore[Any] | DedupingStore[Any]


_Item = tuple[int, ConsumerRecord[Any, Any], str, Any]
"""A record of a part: its place in the batch, the record, its event id, what is stored."""


def _first_of(new: set[str], event_id: str) -> Outcome:
    """A part's record given the part's ids that are new (claimed, or stored by the store): the
    first record of a new id is processed, any later one a duplicate (``new`` loses the id)."""
    if event_id in new:
        new.discard(event_id)
        return Outcome.PROCESSED
    return Outcome.DUPLICATE


class StorePath:
    """How a consumer's batches reach its :class:`BatchStore`, part by part."""

    def __init__(self, delivery: Delivery, store: AnyStore, part_size: int) -> None:
        self._delivery = delivery
        self._store = store
        self._part_size = part_size

    async def store_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> list[Outcome]:
        """Store ``records`` part by part, two parts in flight; the outcomes in record order.
        Returns once every part has committed; on a failure, once the parts in flight have
        committed or rolled back, raising the first error."""
        # Asked once per batch: with nowhere for spans to go, a per-record context would only
        # be attached around decoding, which logs nothing and writes no event.
        traced = spans_go_anywhere()
        outcomes = [Outcome.DEAD_LETTERED] * len(records)  # each is set as its record is done
        storing: list[asyncio.Task[None]] = []
        ahead: asyncio.Event | None = None
        try:
            for start in range(0, len(records), self._part_size):
                part = await self._prepare_part(
                    records[start : start + self._part_size], start, traced
                )
                if not part:
                    continue
                while len(storing) >= _IN_FLIGHT:
                    await storing.pop(0)
                locked = asyncio.Event()
                storing.append(asyncio.create_task(self._store_part(part, ahead, locked, outcomes)))
                ahead = locked
                await asyncio.sleep(0)  # let it begin before the next part is decoded
            while storing:
                await storing.pop(0)
        finally:
            if pending := [task for task in storing if not task.done()]:
                await asyncio.wait(pending)
            for task in storing:
                if not task.cancelled():
                    task.exception()
        return outcomes

    async def _prepare_part(
        self, records: Sequence[ConsumerRecord[Any, Any]], first: int, traced: bool
    ) -> list[_Item]:
        """The part's records as the store takes them; one it never can is a dead letter."""
        delivery, store = self._delivery, self._store
        items: list[_Item] = []
        for n, record in enumerate(records, 1):
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            try:
                if traced:
                    # The receive span continues the producer's trace (W3C traceparent header),
                    # so a request's trace reaches this consumer.
                    with delivery.span(record, "receive"):
                        event = decode(record.headers, record.value)
                else:
                    event = decode(record.headers, record.value)
            except MalformedEvent as exc:
                delivery.count(record, await delivery.malformed(record, exc))
                continue
            try:
                items.append((first + n - 1, record, event.id, store.prepare(event)))
            except Refused as exc:
                log.warning(
                    "%s: %s cannot be stored, a dead letter: %s", delivery.name, event.id, exc
                )
                await delivery.dead_letter(record, exc.error, exc.reason, attempts=0)
                delivery.count(record, Outcome.DEAD_LETTERED)
            except Exception as exc:
                # A valid event the store cannot represent would fail every attempt to store it.
                log.exception("%s: %s cannot be stored, a dead letter", delivery.name, event.id)
                await delivery.dead_letter(record, type(exc).__name__, str(exc), attempts=0)
                delivery.count(record, Outcome.DEAD_LETTERED)
        return items

    async def _store_part(
        self,
        items: Sequence[_Item],
        ahead: asyncio.Event | None,
        locked: asyncio.Event,
        outcomes: list[Outcome],
    ) -> None:
        try:
            stored = await self._store_in_one(items, ahead, locked)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception(
                "%s: a part of %d failed; retrying record by record",
                self._delivery.name,
                len(items),
            )
            for item in items:
                outcomes[item[0]] = outcome = await self._store_alone(item)
                self._delivery.count(item[1], outcome)
            return
        for item, outcome in zip(items, stored, strict=True):
            outcomes[item[0]] = outcome
        self._delivery.count_many([item[1] for item in items], stored)

    async def _store_alone(self, item: _Item) -> Outcome:
        async def apply() -> Outcome:
            (outcome,) = await self._store_in_one([item], None, asyncio.Event())
            return outcome

        # Not tried yet on its own: the part's failure may have been another record's.
        return await self._delivery.retried(item[1], item[2], 0, apply)

    async def _store_in_one(
        self, items: Sequence[_Item], ahead: asyncio.Event | None, locked: asyncio.Event
    ) -> list[Outcome]:
        """One transaction: claim ``items`` in the inbox and store the new ones, or hand them
        all to a :class:`DedupingStore`. With ``ahead``, the claim (or the store) waits until
        the part before holds the store's lock (or is done), so parts take that lock in order;
        ``locked`` is this part's own signal, set once it holds the lock or has failed."""
        store = self._store
        try:
            async with self._delivery.deps.pool.acquire() as conn, conn.transaction():
                if ahead is not None:
                    await ahead.wait()
                if isinstance(store, DedupingStore):
                    values = [value for _, _, _, value in items]
                    new = set(await store.store(conn, values, locked=locked))
                    return [_first_of(new, event_id) for _, _, event_id, _ in items]
                new = await inbox_repository.claim(
                    conn,
                    self._delivery.name,
                    [(record, event_id) for _, record, event_id, _ in items],
                )
                outcomes = [_first_of(new, event_id) for _, _, event_id, _ in items]
                await store.store(
                    conn,
                    [
                        value
                        for (_, _, _, value), outcome in zip(items, outcomes, strict=True)
                        if outcome is Outcome.PROCESSED
                    ],
                    locked=locked,
                )
        finally:
            locked.set()
        return outcomes
