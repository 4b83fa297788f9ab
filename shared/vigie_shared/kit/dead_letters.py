"""Dead letters: how a record given up on is kept.

A failure the record is at fault for (``failures.is_transient`` says which are not) would fail
the same way every time, and retrying it for ever would wedge its partition: after bounded
retries it becomes a dead letter.

A dead letter is first a row of ``dead_letters`` (kit migration 0002), claimed on the record's
consumer group, place in the log and value hash, then one copy on ``<topic>.dlq``: the record
itself, unchanged, with the error in ``dlq_*`` headers, or, when the record would not fit in a
Kafka message (``max_message_bytes``; a broker refuses more than its ``message.max.bytes``), a
*record of it*: its headers, size, SHA-256 and first bytes. The row is marked once the copy is
sent, so a redelivery of the same record (a batch given back, a restart before the offset commit)
sends no second copy. A copy the broker refuses for good (too large for it, not authorised) is
not retried either: the row keeps the record and says why no copy exists. ``vigie dlq list`` and
``vigie dlq replay`` read and replay these rows.

Why one module, past the size a file usually keeps: it is one path, each step reading the
state the one before left. Whether a failure makes a dead letter at all decides what reaches
the row; the row, claimed before the copy is sent, is what keeps a redelivery from sending a
second one (``copied_as``); replay reads that same row back. The steps share ``Letter``,
``Failure`` and the row's states.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

import asyncpg
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.structs import ConsumerRecord

from vigie_shared import topics
from vigie_shared.kit.cloudevents import Headers, KafkaRecord
from vigie_shared.kit.db import Conn
from vigie_shared.kit.failures import is_transient
from vigie_shared.kit.kafka import Producer
from vigie_shared.kit.metrics import DEAD_LETTER_COPIES, EVENTS_DEAD_LETTERED

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 1024 * 1024
"""The largest dead-letter copy sent whole: the producer's ``max_request_size`` and, within a few
bytes, the broker's ``message.max.bytes`` (both 1 MiB by default on Apache Kafka). Checked before
sending, so the outcome is the same on a broker that would accept more (the embedded one)."""

KEEP_MAX_BYTES = 16 * 1024 * 1024
"""The largest record whose bytes the ``dead_letters`` row keeps whole (and can replay); beyond
it the row, like the record of it, keeps headers cut short, size, hash and first bytes."""

HEAD_BYTES = 1024
"""First bytes of the value kept in a record of it, enough to recognise what was sent."""

_HEADER_BYTES = 256
_MAX_HEADERS = 64
_KEY_BYTES = 1024
_REASON_CHARS = 2000

Copy = Literal["whole", "record", "none"]


def _text(raw: str, limit: int) -> str:
    # PostgreSQL text cannot hold NUL; a hostile record's content often ends up in a reason.
    return raw.replace("\x00", "\\x00")[:limit]


@dataclass(frozen=True)
class Letter:
    """What a dead letter keeps of a consumed record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    size: int
    sha256: bytes

    @classmethod
    def of(cls, record: ConsumerRecord[Any, Any]) -> Letter:
        value: bytes | None = record.value
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=value,
            headers=list(record.headers or ()),
            size=len(value or b""),
            sha256=hashlib.sha256(value or b"").digest(),
        )

    @property
    def event_id(self) -> str | None:
        raw = dict(self.headers).get("ce_id")
        return None if raw is None else _text(raw.decode(errors="replace"), 200)

    @property
    def complete(self) -> bool:
        return _record_size(self.key, self.value, self.headers) <= KEEP_MAX_BYTES

    def headers_in_short(self) -> list[tuple[str, bytes | None]]:
        return [
            (name, None if raw is None else raw[:_HEADER_BYTES])
            for name, raw in self.headers[:_MAX_HEADERS]
        ]


@dataclass(frozen=True)
class Failure:
    """Why a record was given up on, as the first consumer to give up recorded it."""

    error: str
    reason: str
    attempts: int
    copied_as: Copy | None


@dataclass(frozen=True)
class DeadLetter:
    """A ``dead_letters`` row (kit migration 0002)."""

    id: int
    consumer: str
    topic: str
    partition: int
    offset: int
    event_id: str | None
    key: bytes | None
    headers: list[tuple[str, bytes | None]]
    value: bytes | None
    complete: bool
    size: int
    sha256: bytes
    head: bytes
    error: str
    reason: str
    attempts: int
    created_at: datetime
    copied_as: Copy | None
    dlq_offset: int | None
    copy_error: str | None
    replays: int
    replayed_at: datetime | None


_SELECT = (
    "SELECT id, consumer, topic, partition, kafka_offset, event_id, key, header_names,"
    " header_values, value, complete, size, sha256, head, error, reason, attempts,"
    " created_at, copied_as, dlq_offset, copy_error, replays, replayed_at FROM dead_letters"
)


def _dead_letter(row: asyncpg.Record) -> DeadLetter:
    names: list[bytes] = row["header_names"]
    values: list[bytes | None] = row["header_values"]
    return DeadLetter(
        id=row["id"],
        consumer=row["consumer"],
        topic=row["topic"],
        partition=row["partition"],
        offset=row["kafka_offset"],
        event_id=row["event_id"],
        key=row["key"],
        headers=[(name.decode(), value) for name, value in zip(names, values, strict=True)],
        value=row["value"],
        complete=row["complete"],
        size=row["size"],
        sha256=row["sha256"],
        head=row["head"],
        error=row["error"],
        reason=row["reason"],
        attempts=row["attempts"],
        created_at=row["created_at"],
        copied_as=row["copied_as"],
        dlq_offset=row["dlq_offset"],
        copy_error=row["copy_error"],
        replays=row["replays"],
        replayed_at=row["replayed_at"],
    )


class DeadLetterRepository:
    """All SQL on ``dead_letters``."""

    async def claim(
        self, conn: Conn, consumer: str, letter: Letter, failure: Failure
    ) -> tuple[int, bool]:
        """The row of ``letter`` for ``consumer``, inserted if new; and whether it was new."""
        complete = letter.complete
        headers = letter.headers if complete else letter.headers_in_short()
        row_id: int | None = await conn.fetchval(
            "INSERT INTO dead_letters (consumer, topic, partition, kafka_offset, sha256, size,"
            " event_id, key, header_names, header_values, value, complete, head, error, reason,"
            " attempts)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
            " ON CONFLICT (consumer, topic, partition, kafka_offset, sha256) DO NOTHING"
            " RETURNING id",
            consumer,
            letter.topic,
            letter.partition,
            letter.offset,
            letter.sha256,
            letter.size,
            letter.event_id,
            letter.key if complete else (letter.key or b"")[:_KEY_BYTES],
            [name.encode() for name, _ in headers],
            [value for _, value in headers],
            letter.value if complete else None,
            complete,
            (letter.value or b"")[:HEAD_BYTES],
            _text(failure.error, 200),
            _text(failure.reason, _REASON_CHARS),
            failure.attempts,
        )
        if row_id is not None:
            return row_id, True
        existing = await self.find(conn, consumer, letter)
        if existing is None:
            raise RuntimeError("a dead letter that conflicted on insert cannot be found")
        return existing, False

    async def find(self, conn: Conn, consumer: str, letter: Letter) -> int | None:
        found: int | None = await conn.fetchval(
            "SELECT id FROM dead_letters WHERE consumer = $1 AND topic = $2 AND partition = $3"
            " AND kafka_offset = $4 AND sha256 = $5",
            consumer,
            letter.topic,
            letter.partition,
            letter.offset,
            letter.sha256,
        )
        return found

    async def lock(self, conn: Conn, row_id: int) -> Failure:
        """The row's failure and copy state, locked until the end of the transaction: two
        members of a group handed the same record during a rebalance send one copy."""
        row = await conn.fetchrow(
            "SELECT error, reason, attempts, copied_as FROM dead_letters WHERE id = $1 FOR UPDATE",
            row_id,
        )
        if row is None:
            raise LookupError(f"dead letter {row_id} vanished")
        return Failure(row["error"], row["reason"], row["attempts"], row["copied_as"])

    async def mark_copied(
        self,
        conn: Conn,
        row_id: int,
        copied_as: Copy,
        placed: tuple[int, int] | None,
        copy_error: str | None,
    ) -> None:
        await conn.execute(
            "UPDATE dead_letters SET copied_as = $2, copied_at = now(), dlq_partition = $3,"
            " dlq_offset = $4, copy_error = $5 WHERE id = $1",
            row_id,
            copied_as,
            None if placed is None else placed[0],
            None if placed is None else placed[1],
            None if copy_error is None else _text(copy_error, _REASON_CHARS),
        )

    async def get(self, conn: Conn, row_id: int, *, for_update: bool = False) -> DeadLetter | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await conn.fetchrow(_SELECT + " WHERE id = $1" + lock, row_id)
        return None if row is None else _dead_letter(row)

    async def recent(self, conn: Conn, limit: int) -> list[DeadLetter]:
        rows = await conn.fetch(_SELECT + " ORDER BY id DESC LIMIT $1", limit)
        return [_dead_letter(row) for row in rows]

    async def mark_replayed(self, conn: Conn, row_id: int) -> None:
        await conn.execute(
            "UPDATE dead_letters SET replays = replays + 1, replayed_at = now() WHERE id = $1",
            row_id,
        )


dead_letter_repository = DeadLetterRepository()


def _record_size(key: bytes | None, value: bytes | None, headers: Any) -> int:
    # aiokafka's own bound on a record's size in a batch, the figure its producer compares with
    # max_request_size before refusing a send.
    size: int = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)
    return size


def _dlq_headers(letter: Letter, consumer: str, failure: Failure, form: Copy) -> Headers:
    return [
        ("dlq_error", failure.error.encode()),
        ("dlq_reason", failure.reason.encode()),
        ("dlq_consumer", consumer.encode()),
        ("dlq_topic", letter.topic.encode()),
        ("dlq_partition", str(letter.partition).encode()),
        ("dlq_offset", str(letter.offset).encode()),
        ("dlq_attempts", str(failure.attempts).encode()),
        ("dlq_id", f"{consumer}/{letter.topic}/{letter.partition}/{letter.offset}".encode()),
        ("dlq_size", str(letter.size).encode()),
        ("dlq_sha256", letter.sha256.hex().encode()),
        ("dlq_form", form.encode()),
    ]


def whole_copy(letter: Letter, consumer: str, failure: Failure) -> KafkaRecord:
    """The record itself, unchanged, with the error in headers (docs/architecture.md, Events)."""
    original = cast("Headers", letter.headers)
    return KafkaRecord(
        topic=topics.dlq(letter.topic),
        key=letter.key,
        value=letter.value,
        headers=[*original, *_dlq_headers(letter, consumer, failure, "whole")],
    )


def record_copy(letter: Letter, consumer: str, failure: Failure) -> KafkaRecord:
    """A record of ``letter`` small enough for any broker: its headers cut short, its size,
    SHA-256 and first bytes (base64 in a JSON value)."""

    def b64(raw: bytes | None) -> str | None:
        return None if raw is None else base64.b64encode(raw).decode()

    summary = {
        "topic": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "size": letter.size,
        "sha256": letter.sha256.hex(),
        "key": b64((letter.key or b"")[:_KEY_BYTES] if letter.key is not None else None),
        "head": b64((letter.value or b"")[:HEAD_BYTES]),
        "headers": [[name, b64(raw)] for name, raw in letter.headers_in_short()],
    }
    # The original headers that are short stay headers, so tools reading ce_id or ce_type of a
    # dead letter find them where they always are.
    short = [
        (name, raw)
        for name, raw in letter.headers[:_MAX_HEADERS]
        if raw is not None and len(raw) <= _HEADER_BYTES and not name.startswith("dlq_")
    ]
    return KafkaRecord(
        topic=topics.dlq(letter.topic),
        key=letter.key if letter.key is not None and len(letter.key) <= _KEY_BYTES else None,
        value=json.dumps(summary).encode(),
        headers=[*short, *_dlq_headers(letter, consumer, failure, "record")],
    )


def fits(record: KafkaRecord, max_message_bytes: int) -> bool:
    return _record_size(record.key, record.value, record.headers) <= max_message_bytes


async def _send_copy(
    producer: Producer,
    letter: Letter,
    consumer: str,
    failure: Failure,
    max_message_bytes: int,
) -> tuple[Copy, tuple[int, int] | None, str | None]:
    """Send the whole record if it fits, else (or if the broker refuses it for good) a record
    of it; a transient failure propagates, so the caller's batch is redelivered."""
    whole = whole_copy(letter, consumer, failure)
    attempts: list[tuple[Copy, KafkaRecord]] = []
    refused: list[str] = []
    if fits(whole, max_message_bytes):
        attempts.append(("whole", whole))
    else:
        refused.append(f"whole record over {max_message_bytes} bytes")
    summary = record_copy(letter, consumer, failure)
    if fits(summary, max_message_bytes):
        attempts.append(("record", summary))
    else:
        refused.append(f"record of it over {max_message_bytes} bytes")
    for form, copy in attempts:
        try:
            placed = await producer.send_and_wait(copy)
        except Exception as exc:
            if is_transient(exc):
                raise
            refused.append(f"{form}: {type(exc).__name__}: {exc}")
            continue
        return form, (placed.partition, placed.offset), "; ".join(refused) or None
    return "none", None, "; ".join(refused)


async def dead_letter(
    pool: asyncpg.Pool,
    producer: Producer,
    record: ConsumerRecord[Any, Any],
    *,
    consumer: str,
    error: str,
    reason: str,
    attempts: int,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    repository: DeadLetterRepository = dead_letter_repository,
) -> bool:
    """Make ``record`` a dead letter of ``consumer`` once: claim its row, then send its one copy
    to ``<topic>.dlq`` unless a previous delivery did. Returns whether this call recorded it
    (False for a redelivery of a record already dead-lettered). Raises only transient errors."""
    letter = Letter.of(record)
    async with pool.acquire() as conn:
        # Committed on its own before the copy is sent: the record is kept even while the broker
        # cannot take the copy.
        row_id, fresh = await repository.claim(
            conn, consumer, letter, Failure(error, reason, attempts, None)
        )
        if fresh:
            EVENTS_DEAD_LETTERED.labels(consumer, letter.topic).inc()
        async with conn.transaction():
            failure = await repository.lock(conn, row_id)
            if failure.copied_as is not None:
                return fresh
            form, placed, copy_error = await _send_copy(
                producer, letter, consumer, failure, max_message_bytes
            )
            await repository.mark_copied(conn, row_id, form, placed, copy_error)
    DEAD_LETTER_COPIES.labels(consumer, letter.topic, form).inc()
    if form == "none":
        log.error(
            "%s: no copy of %s[%s]@%s on the DLQ (kept in dead_letters %d): %s",
            consumer,
            letter.topic,
            letter.partition,
            letter.offset,
            row_id,
            copy_error,
        )
    return fresh


async def is_dead_letter(
    pool: asyncpg.Pool,
    consumer: str,
    record: ConsumerRecord[Any, Any],
    repository: DeadLetterRepository = dead_letter_repository,
) -> bool:
    """Whether ``consumer`` already gave up on this very record (a redelivery)."""
    async with pool.acquire() as conn:
        return await repository.find(conn, consumer, Letter.of(record)) is not None


class NotReplayable(Exception):
    pass


async def replay(
    pool: asyncpg.Pool,
    producer: Producer,
    row_id: int,
    repository: DeadLetterRepository = dead_letter_repository,
) -> DeadLetter:
    """Publish dead letter ``row_id`` again, unchanged, to its original topic (the consumers'
    inboxes make a replay of an event already applied change nothing)."""
    async with pool.acquire() as conn, conn.transaction():
        letter = await repository.get(conn, row_id, for_update=True)
        if letter is None:
            raise LookupError(f"no dead letter {row_id}")
        if not letter.complete:
            raise NotReplayable(
                f"dead letter {row_id} is a record of a {letter.size}-byte message: its bytes"
                " were not kept"
            )
        await producer.send_and_wait(
            KafkaRecord(letter.topic, letter.key, letter.value, cast("Headers", letter.headers))
        )
        await repository.mark_replayed(conn, row_id)
    return letter
