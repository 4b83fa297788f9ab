"""The handler path: each record's handler, registered per event type, applied in the batch's
transaction after its id is claimed in the inbox (``kit.inbox``), so that a redelivered id
changes nothing. A record whose handler fails ends the transaction before it and is then tried
alone under the delivery rules (``consuming.delivery``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from aiokafka.structs import ConsumerRecord

from vigie_shared.events import CloudEvent
from vigie_shared.kit.cloudevents import MalformedEvent, decode
from vigie_shared.kit.consuming.delivery import Delivery, Outcome
from vigie_shared.kit.db import Conn
from vigie_shared.kit.failures import is_transient
from vigie_shared.kit.inbox import inbox_repository

Handler = Callable[[Conn, CloudEvent[Any]], Awaitable[None]]

_Run = list[tuple[ConsumerRecord[Any, Any], CloudEvent[Any], Handler | None]]
"""Decoded records of a batch, each with its handler (``None``: no handler, ignored)."""


class _HandlerFailed(Exception):
    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


class _UnattributedFailure(Exception):
    """The run's transaction was aborted by an error some handler caught and did not re-raise."""


class HandlerPath:
    """A consumer's handlers, one per event type, and how a batch is applied through them."""

    def __init__(self, delivery: Delivery) -> None:
        self._delivery = delivery
        self.handlers: dict[str, Handler] = {}

    async def process(self, record: ConsumerRecord[Any, Any], tried: int) -> Outcome:
        """One record in its own transaction, retried, then a dead letter; ``tried`` counts
        attempts already made (in a batch)."""
        with self._delivery.span(record):
            outcome = await self._process(record, tried)
        self._delivery.count(record, outcome)
        return outcome

    async def process_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        position = 0
        while position < len(records):
            try:
                applied, tried = await self._apply_run(records[position:])
            except _UnattributedFailure:
                applied, tried = await self._apply_run_guarded(records[position:])
            outcomes.extend(applied)
            position += len(applied)
            if position < len(records):
                outcomes.append(await self.process(records[position], tried=tried))
                position += 1
        return outcomes

    def _decode_run(self, records: Sequence[ConsumerRecord[Any, Any]]) -> _Run:
        """The records up to the first malformed one (dead-lettered by :meth:`process`)."""
        run: _Run = []
        for record in records:
            try:
                event = decode(record.headers, record.value)
            except MalformedEvent:
                break
            run.append((record, event, self.handlers.get(event.type)))
        return run

    async def _apply_run(
        self, records: Sequence[ConsumerRecord[Any, Any]]
    ) -> tuple[list[Outcome], int]:
        """Apply records in one transaction until one fails; returns the outcomes applied and
        how many times the record that stopped the run was tried (0 if malformed).

        The inbox rows of the whole run are claimed in one statement and the handlers run
        without a savepoint each: a savepoint costs two round trips per record, which made the
        consumer fall behind at the backbone's target rate. Failures are rare, so when a
        handler raises the transaction is rolled back and the records before it are applied
        again (their handlers run twice then, as on any redelivery: at-least-once, the inbox
        dedupes)."""
        run = self._decode_run(records)
        tried = 0
        while run:
            try:
                outcomes = await self._apply_all(run)
            except _HandlerFailed as failed:
                run, tried = run[: failed.index], 1
                continue
            self._delivery.count_many([record for record, _, _ in run], outcomes)
            return outcomes, tried
        return [], tried

    async def _apply_all(self, run: _Run) -> list[Outcome]:
        delivery = self._delivery
        outcomes: list[Outcome] = []
        async with delivery.deps.pool.acquire() as conn, conn.transaction():
            fresh = await inbox_repository.claim(
                conn,
                delivery.name,
                [(record, event.id) for record, event, handler in run if handler is not None],
            )
            for index, (record, event, handler) in enumerate(run):
                if handler is None:
                    outcomes.append(Outcome.IGNORED)
                    continue
                if event.id not in fresh:
                    outcomes.append(Outcome.DUPLICATE)
                    continue
                fresh.discard(event.id)  # the same id again later in the run is a repeat
                try:
                    with delivery.span(record):
                        await handler(conn, event)
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    raise _HandlerFailed(index) from exc
                outcomes.append(Outcome.PROCESSED)
            try:
                # asyncpg turns COMMIT of an aborted transaction into a silent rollback: a
                # handler that swallowed a database error would lose the run while its offsets
                # are committed. Any statement fails in an aborted transaction.
                await conn.execute("SELECT 1")
            except asyncpg.InFailedSQLTransactionError as exc:
                raise _UnattributedFailure from exc
        return outcomes

    async def _apply_run_guarded(
        self, records: Sequence[ConsumerRecord[Any, Any]]
    ) -> tuple[list[Outcome], int]:
        """:meth:`_apply_run` with a savepoint per record, for a run whose failure could not be
        pinned on one record (a handler swallowed a database error): the check after each
        handler fails on that record's own turn."""
        outcomes: list[Outcome] = []
        tried = 0
        async with self._delivery.deps.pool.acquire() as conn, conn.transaction():
            for record, event, handler in self._decode_run(records):
                if handler is None:
                    outcomes.append(Outcome.IGNORED)
                    continue
                try:
                    with self._delivery.span(record):
                        async with conn.transaction():
                            outcome = await self._apply_in(conn, record, event, handler)
                            # Inside the savepoint, so that it is rolled back: a failed RELEASE
                            # would leave the whole transaction aborted.
                            await conn.execute("SELECT 1")
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    tried = 1
                    break
                outcomes.append(outcome)
        self._delivery.count_many(records[: len(outcomes)], outcomes)
        return outcomes, tried

    async def _process(self, record: ConsumerRecord[Any, Any], tried: int) -> Outcome:
        try:
            event = decode(record.headers, record.value)
        except MalformedEvent as exc:
            return await self._delivery.malformed(record, exc)
        handler = self.handlers.get(event.type)
        if handler is None:
            return Outcome.IGNORED

        async def apply() -> Outcome:
            async with self._delivery.deps.pool.acquire() as conn, conn.transaction():
                outcome = await self._apply_in(conn, record, event, handler)
                # Fails if the handler swallowed a database error (see _apply_all), so the
                # event is retried, then dead-lettered, rather than silently rolled back.
                await conn.execute("SELECT 1")
                return outcome

        return await self._delivery.retried(record, event.id, tried, apply)

    async def _apply_in(
        self,
        conn: Conn,
        record: ConsumerRecord[Any, Any],
        event: CloudEvent[Any],
        handler: Handler,
    ) -> Outcome:
        if not await inbox_repository.claim(conn, self._delivery.name, [(record, event.id)]):
            return Outcome.DUPLICATE
        await handler(conn, event)
        return Outcome.PROCESSED
