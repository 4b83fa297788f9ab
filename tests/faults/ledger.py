"""What the system-level tests check once the stack is quiet, read straight from the services'
schemas: every event produced stored once by the audit log, every access decision taken once,
every DPO task finished, the tree verifying. Shared by the fault-injection suite and the
two-replica test, which print the counts they checked."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from audit_log.config import Settings as AuditSettings
from audit_log.context import AuditLog
from vigie_shared import topics
from vigie_shared.events import (
    EVENT_TYPES,
    DataSystemAnnounced,
    DebtExempted,
    DebtReminded,
    DebtSettled,
    DpoTaskCompleted,
    DpoTaskFailed,
    DpoTaskRequested,
)
from vigie_shared.kit import db

SCHEMAS = ("sso", "dpo", "audit")
FINAL_TASK_STATES = ("completed", "failed", "timed_out")


@dataclass
class AuditCounts:
    """``sent``: events produced (every service's outbox plus what the test itself published as
    an outside system); ``stored``: how many of them are leaves; ``duplicates``: leaves beyond
    one per event id; ``lost``: events produced but not stored."""

    sent: int = 0
    stored: int = 0
    duplicates: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"sent {self.sent}, stored {self.stored}, duplicates {self.duplicates},"
            f" lost {len(self.lost)}"
        )


async def produced_ids(conn: asyncpg.Connection, outside: Iterable[str] = ()) -> set[str]:
    """Ids of every event the services produced (outbox rows are kept after relaying, for the
    retention window) plus ``outside`` ones (the accounting system's)."""
    ids = set(outside)
    for schema in SCHEMAS:
        rows = await conn.fetch(f'SELECT event_id FROM "{schema}".outbox')
        ids.update(row["event_id"] for row in rows)
    return ids


async def audit_counts(conn: asyncpg.Connection, outside: Iterable[str] = ()) -> AuditCounts:
    ids = await produced_ids(conn, outside)
    rows = await conn.fetch(
        "SELECT event_id, count(*) AS n FROM audit.log_entries"
        " WHERE event_id = ANY($1::text[]) GROUP BY event_id",
        list(ids),
    )
    stored = {row["event_id"]: row["n"] for row in rows}
    return AuditCounts(
        sent=len(ids),
        stored=sum(stored.values()),
        duplicates=sum(n - 1 for n in stored.values()),
        lost=sorted(ids - stored.keys()),
        doubled=sorted(event_id for event_id, n in stored.items() if n > 1),
    )


async def events_by_key(
    conn: asyncpg.Connection, schema: str, event_type: str, field: str | None = None
) -> Counter[str]:
    """How many events of ``event_type`` a service produced, by Kafka key (the subject), or by
    the ``field`` of their data."""
    by = (
        "convert_from(key, 'UTF8')"
        if field is None
        else "convert_from(value, 'UTF8')::jsonb ->> $2"
    )
    rows = await conn.fetch(
        f"SELECT {by} AS subject, count(*) AS n"
        f' FROM "{schema}".outbox WHERE headers @> $1::jsonb GROUP BY 1',
        f'[["ce_type", "{event_type}"]]',
        *(() if field is None else (field,)),
    )
    return Counter({row["subject"]: row["n"] for row in rows})


async def task_answers(conn: asyncpg.Connection) -> Counter[str]:
    """Answers (completed or failed) sent by the data systems, by task id."""
    answers: Counter[str] = Counter()
    for schema in SCHEMAS:
        rows = await conn.fetch(
            "SELECT convert_from(value, 'UTF8')::jsonb ->> 'task_id' AS task_id"
            f' FROM "{schema}".outbox'
            ' WHERE headers @> \'[["ce_type", "vigie.dpo.task.completed"]]\''
            ' OR headers @> \'[["ce_type", "vigie.dpo.task.failed"]]\''
        )
        answers.update(row["task_id"] for row in rows)
    return answers


async def pending_outbox(conn: asyncpg.Connection) -> dict[str, int]:
    """Outbox rows not yet confirmed by the broker, by schema: 0 once every relay caught up."""
    pending = {}
    for schema in SCHEMAS:
        pending[schema] = await conn.fetchval(
            f'SELECT count(*) FROM "{schema}".outbox WHERE published_at IS NULL'
        )
    return pending


async def dead_letters(bootstrap: str) -> int:
    """Records on the dead-letter topics. An outage is not the message's fault: nothing may
    land there because a part was down (docs/backbone.md, dead letters)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        await consumer.topics()  # loads every topic's partitions
        partitions = [
            TopicPartition(topics.dlq(topic), partition)
            for topic in topics.ALL
            for partition in consumer.partitions_for_topic(topics.dlq(topic)) or ()
        ]
        ends = await consumer.end_offsets(partitions) if partitions else {}
    finally:
        await consumer.stop()
    return sum(ends.values())


async def trace_tasks(conn: asyncpg.Connection, request_ids: list[str]) -> str:
    """Where each task of unfinished requests got to: its request event in dpo_requests'
    outbox (relayed where), the data system's inbox, the answer in its outbox, the answer in
    dpo_requests' inbox. For the post-mortem of a task that never reached a final state."""
    lines = []
    tasks = await conn.fetch(
        "SELECT id, request_id, system, status, attempts FROM dpo.tasks"
        " WHERE request_id = ANY($1::text[]) ORDER BY request_id, system",
        request_ids,
    )
    for task in tasks:
        schema = {"sso_gateway": "sso", "audit_log": "audit"}.get(task["system"], task["system"])
        sent = await conn.fetch(
            "SELECT event_id, published_at, partition, kafka_offset FROM dpo.outbox"
            " WHERE convert_from(value, 'UTF8')::jsonb ->> 'task_id' = $1",
            task["id"],
        )
        received = await conn.fetch(
            f'SELECT consumer, partition, kafka_offset FROM "{schema}".inbox'
            " WHERE event_id = ANY($1::text[])",
            [row["event_id"] for row in sent],
        )
        answers = await conn.fetch(
            f"SELECT event_id, published_at, partition, kafka_offset"
            f' FROM "{schema}".outbox'
            " WHERE convert_from(value, 'UTF8')::jsonb ->> 'task_id' = $1",
            task["id"],
        )
        answered = await conn.fetch(
            "SELECT consumer, partition, kafka_offset FROM dpo.inbox"
            " WHERE event_id = ANY($1::text[])",
            [row["event_id"] for row in answers],
        )
        lines.append(
            f"{task['request_id']} {task['id']} {task['system']} {task['status']}"
            f" attempts={task['attempts']}: requested {[tuple(r) for r in sent]},"
            f" received {[tuple(r) for r in received]}, answered {[tuple(r) for r in answers]},"
            f" answer received {[tuple(r) for r in answered]}"
        )
    return "\n".join(lines)


async def verify_tree(dsn: str) -> tuple[bool, int, int, str]:
    """``vigie audit verify`` on the stored log: (ok, tree size, checkpoints checked, finding)."""
    conn = await db.connect(dsn, "audit")
    try:
        audit = AuditLog.build(AuditSettings(database_url=dsn))
        report = await audit.verifier.run(conn)
    finally:
        await conn.close()
    return report.ok, report.tree_size, report.checkpoints_checked, str(report.first_bad or "")


async def doubled_checkpoints(conn: asyncpg.Connection) -> int:
    """Checkpoints signed again for a tree size already signed (the periodic signers of two
    replicas racing)."""
    count: int = await conn.fetchval(
        "SELECT coalesce(sum(n - 1), 0) FROM"
        " (SELECT count(*) AS n FROM audit.checkpoints GROUP BY tree_size) AS sizes"
    )
    return count


@dataclass(frozen=True)
class Group:
    """A consumer group as the ledger sees it: the schema of its inbox, the topics it reads and
    the event types it has a handler for (the kit claims an inbox row for those only).
    ``applied`` is the query of the ids it applied where its store, not the inbox, keeps them
    (a ``kit.consumer.DedupingStore``)."""

    name: str
    schema: str
    topics: tuple[str, ...]
    types: frozenset[str]
    applied: str | None = None


GROUPS = (
    # The audit log's store dedupes by the log's unique event id: no inbox row, the entry is
    # the record of what it applied, written in the same transaction.
    Group(
        "audit_log.ingest",
        "audit",
        topics.ALL,
        frozenset(EVENT_TYPES),
        applied='SELECT event_id FROM "audit".log_entries',
    ),
    Group(
        "sso_gateway.access",
        "sso",
        (topics.BILLING,),
        frozenset(c.event_type for c in (DebtReminded, DebtSettled, DebtExempted)),
    ),
    Group(
        "dpo_requests.task-results",
        "dpo",
        (topics.DPO_TASK_RESULTS,),
        frozenset(c.event_type for c in (DataSystemAnnounced, DpoTaskCompleted, DpoTaskFailed)),
    ),
    *(
        Group(
            f"{system}.data-system.{system}",
            schema,
            (topics.DPO_TASKS,),
            frozenset({DpoTaskRequested.event_type}),
        )
        for system, schema in (("sso_gateway", "sso"), ("audit_log", "audit"))
    ),
)
"""Every consumer group of the three services (kit/consumer.py names them
``<service>.<purpose>``; a data system's is ``<service>.data-system.<system>``)."""


@dataclass
class GroupLedger:
    """What one consumer group was due (events of its types produced on its topics) and what
    its inbox claimed; an inbox row is written in the transaction of the effect, so a produced
    id missing from it is an event whose effect was never applied."""

    group: Group
    due: int
    applied: int
    lost: list[str]

    def line(self, show: int = 20) -> str:
        ids = ", ".join(self.lost[:show]) + (" …" if len(self.lost) > show else "")
        return (
            f"{self.group.name}: produced {self.due}, applied {self.applied},"
            f" lost {len(self.lost)}{f' [{ids}]' if self.lost else ''}"
        )


async def group_ledgers(
    conn: asyncpg.Connection, outside: Iterable[tuple[str, str, str]] = ()
) -> list[GroupLedger]:
    """Each consumer group's ledger; ``outside`` are ``(event id, topic, type)`` of events
    published by the test itself (the accounting system's)."""
    produced: dict[str, tuple[str, str]] = {
        event_id: (topic, event_type) for event_id, topic, event_type in outside
    }
    for schema in SCHEMAS:
        rows = await conn.fetch(
            "SELECT event_id, topic, (SELECT h ->> 1 FROM jsonb_array_elements(headers) AS h"
            f"  WHERE h ->> 0 = 'ce_type') AS type FROM \"{schema}\".outbox"
        )
        produced.update((r["event_id"], (r["topic"], r["type"])) for r in rows)
    ledgers = []
    for group in GROUPS:
        due = {
            event_id
            for event_id, (topic, event_type) in produced.items()
            if topic in group.topics and event_type in group.types
        }
        if group.applied is not None:
            rows = await conn.fetch(group.applied)
        else:
            rows = await conn.fetch(
                f'SELECT event_id FROM "{group.schema}".inbox WHERE consumer = $1', group.name
            )
        claimed = {r["event_id"] for r in rows}
        ledgers.append(GroupLedger(group, len(due), len(due & claimed), sorted(due - claimed)))
    return ledgers


async def activity(conn: asyncpg.Connection) -> tuple[int, ...]:
    """What moves only when events flow: inbox rows claimed, outbox rows produced and relayed,
    leaves appended. Periodic chores that change none of these (checkpoints, sweeps finding
    nothing) leave it unchanged, so an unchanged value means the pipeline is not advancing."""
    parts = [
        f'(SELECT count(*) FROM "{s}".inbox), (SELECT count(*) FROM "{s}".outbox),'
        f' (SELECT count(*) FROM "{s}".outbox WHERE published_at IS NOT NULL)'
        for s in SCHEMAS
    ]
    row = await conn.fetchrow(
        f"SELECT {', '.join(parts)}, (SELECT count(*) FROM audit.log_entries)"
    )
    assert row is not None
    return tuple(row)


async def placements(
    conn: asyncpg.Connection, event_ids: Iterable[str]
) -> dict[str, tuple[str, int, int]]:
    """Where the relays recorded each of ``event_ids`` as landing: (topic, partition, offset)."""
    found: dict[str, tuple[str, int, int]] = {}
    for schema in SCHEMAS:
        rows = await conn.fetch(
            f'SELECT event_id, topic, partition, kafka_offset FROM "{schema}".outbox'
            " WHERE event_id = ANY($1::text[]) AND published_at IS NOT NULL",
            list(event_ids),
        )
        found.update((r["event_id"], (r["topic"], r["partition"], r["kafka_offset"])) for r in rows)
    return found


async def read_in_order(
    bootstrap: str, partitions: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], dict[int, list[str]]]:
    """The ``ce_id`` at each offset of ``partitions``, read from their start as a consumer group
    reads them (a list: the embedded broker may hand out two records at one offset)."""
    wanted = [TopicPartition(topic, partition) for topic, partition in set(partitions)]
    seen: dict[tuple[str, int], dict[int, list[str]]] = {
        (tp.topic, tp.partition): {} for tp in wanted
    }
    if not wanted:
        return seen
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(wanted)
        await consumer.seek_to_beginning(*wanted)
        empty = 0
        while empty < 2:  # the stack is quiet: two empty polls in a row are the end
            batches = await consumer.getmany(*wanted, timeout_ms=500)
            empty = 0 if batches else empty + 1
            for tp, records in batches.items():
                at = seen[(tp.topic, tp.partition)]
                for record in records:
                    ce_id = dict(record.headers or ()).get("ce_id", b"").decode()
                    at.setdefault(record.offset, []).append(ce_id)
    finally:
        await consumer.stop()
    return seen


class WaitFailed(AssertionError):
    """A wait of the checks gave up: the system stopped advancing, or the test's budget ran
    out while it still was."""


@dataclass
class Budget:
    """One deadline for a sequence of waits, set below the test's pytest timeout so that the
    test fails with its own report instead of being killed mid-wait."""

    deadline: float  # time.monotonic()

    @classmethod
    def lasting(cls, seconds: float) -> Budget:
        return cls(time.monotonic() + seconds)

    def left(self) -> float:
        return self.deadline - time.monotonic()


async def settle(
    probe: Callable[[], Awaitable[Any]],
    done: Callable[[Any], bool],
    *,
    what: str,
    quiet: float,
    budget: Budget,
    progress: Callable[[], Awaitable[Hashable]] | None = None,
) -> Any:
    """Poll ``probe`` until ``done`` holds. Fail once neither the value seen nor ``progress``
    (e.g. :func:`activity`) has changed for ``quiet`` seconds: a slow machine passes as long
    as the system advances, a stuck one fails ``quiet`` seconds after it stopped. ``budget``
    is the backstop for a system that advances but never gets there."""
    last: Hashable = None
    changed = time.monotonic()
    while True:
        value = await probe()
        if done(value):
            return value
        seen = (repr(value), None if progress is None else await progress())
        now = time.monotonic()
        if seen != last:
            last, changed = seen, now
        if now - changed > quiet:
            raise WaitFailed(f"{what}: nothing advanced for {quiet:.0f}s; last seen {value}")
        if budget.left() <= 0:
            raise WaitFailed(
                f"{what}: the test's budget ran out while the system still advanced;"
                f" last seen {value}"
            )
        await asyncio.sleep(0.5)


async def until(
    probe: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], *, timeout: float, what: str
) -> Any:
    """Poll ``probe`` until ``done`` holds; fail naming ``what`` and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached after {timeout:.0f}s: last seen {value}")
        await asyncio.sleep(0.5)
