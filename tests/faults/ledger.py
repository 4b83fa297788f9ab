"""What the system-level tests check once the stack is quiet, read straight from the services'
schemas: every event produced stored once by the audit log, every access decision taken once,
every DPO task finished, the tree verifying. Shared by the fault-injection suite and the
two-replica test, which print the counts they checked."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from audit_log.config import Settings as AuditSettings
from audit_log.context import AuditLog
from vigie_shared import topics
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
