"""All SQL on data keys and the record of their destruction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from vigie_shared.kit import db
from vigie_shared.kit.db import Conn

KeyName = tuple[str, str, date]
"""(data subject, topic, first day of the month)"""


@dataclass(frozen=True)
class NamedKey:
    """A data key's id and name, without its key material."""

    id: int
    name: KeyName


@dataclass(frozen=True)
class WrappedKey:
    """A stored data key, wrapped under the key-encryption key with its name as ``aad``."""

    id: int
    name: KeyName
    wrapped: bytes


def _name(row: asyncpg.Record) -> KeyName:
    return (row["data_subject"], row["topic"], row["period"])


class KeyRepository:
    async def share_lock(self, conn: Conn, names: Sequence[KeyName]) -> list[WrappedKey]:
        """The wanted keys that exist, locked FOR SHARE: an erasure running concurrently waits
        for this transaction, so no entry is sealed with a key that is being destroyed."""
        # Each row names its key by its position in ``names`` (``n``, from 1).
        rows = await conn.fetch(
            "SELECT w.n, k.id, k.wrapped_key FROM subject_keys k"
            " JOIN unnest($1::text[], $2::text[], $3::date[]) WITH ORDINALITY"
            " AS w(data_subject, topic, period, n)"
            " USING (data_subject, topic, period) FOR SHARE OF k",
            *db.arrays(names, 3),
        )
        return [
            WrappedKey(row["id"], names[row["n"] - 1], bytes(row["wrapped_key"])) for row in rows
        ]

    async def insert(self, conn: Conn, keys: Sequence[tuple[KeyName, bytes]]) -> list[NamedKey]:
        """The keys inserted (a name another transaction created meanwhile is left out)."""
        rows = await conn.fetch(
            "INSERT INTO subject_keys (data_subject, topic, period, wrapped_key)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::bytea[])"
            " ON CONFLICT DO NOTHING RETURNING id, data_subject, topic, period",
            [name[0] for name, _ in keys],
            [name[1] for name, _ in keys],
            [name[2] for name, _ in keys],
            [wrapped for _, wrapped in keys],
        )
        return [NamedKey(row["id"], _name(row)) for row in rows]

    async def by_ids(self, conn: Conn, ids: Sequence[int]) -> list[WrappedKey]:
        rows = await conn.fetch(
            "SELECT id, data_subject, topic, period, wrapped_key FROM subject_keys"
            " WHERE id = ANY($1::bigint[])",
            list(ids),
        )
        return [WrappedKey(row["id"], _name(row), bytes(row["wrapped_key"])) for row in rows]

    async def destroy_subject(self, conn: Conn, data_subject: str, reason: str) -> int:
        return await self._destroy(conn, "data_subject = $1", reason, data_subject)

    async def destroy_before(
        self, conn: Conn, cutoff: date, reason: str, *, topics: Sequence[str], exclude: bool
    ) -> int:
        where = "period < $1 AND " + (
            "topic <> ALL($2::text[])" if exclude else "topic = ANY($2::text[])"
        )
        return await self._destroy(conn, where, reason, cutoff, list(topics))

    async def _destroy(self, conn: Conn, where: str, reason: str, *args: object) -> int:
        # ``where`` is one of the two literal predicates above, never caller input.
        n = len(args) + 1
        count: int = await conn.fetchval(
            f"WITH gone AS (DELETE FROM subject_keys WHERE {where}"  # noqa: S608
            " RETURNING id, data_subject, topic, period),"
            " logged AS (INSERT INTO shredded_keys (key_id, data_subject, topic, period, reason)"
            f" SELECT id, data_subject, topic, period, ${n} FROM gone ON CONFLICT DO NOTHING)"
            " SELECT count(*) FROM gone",
            *args,
            reason,
        )
        return count

    async def record_erasure(self, conn: Conn, data_subject: str, reason: str) -> None:
        """One row per erasure request; a replay keeps the first run's time. The clock is read
        now, not at the transaction's start: the caller holds the tree's writer lock by then, so
        every entry committed before this instant was sealed under a key this erasure deletes."""
        await conn.execute(
            "INSERT INTO erasures (data_subject, reason, erased_at)"
            " VALUES ($1, $2, clock_timestamp()) ON CONFLICT DO NOTHING",
            data_subject,
            reason,
        )

    async def erased_at(self, conn: Conn, data_subjects: Sequence[str]) -> dict[str, datetime]:
        """The latest erasure of each of ``data_subjects`` that was erased."""
        rows = await conn.fetch(
            "SELECT data_subject, max(erased_at) AS erased_at FROM erasures"
            " WHERE data_subject = ANY($1::text[]) GROUP BY data_subject",
            list(data_subjects),
        )
        return {row["data_subject"]: row["erased_at"] for row in rows}

    async def throwaway_ids(
        self, conn: Conn, names: Sequence[KeyName], reason: str
    ) -> list[NamedKey]:
        """Key ids for throwaway keys, recorded as shredded at once: the id comes from the data
        keys' own sequence, so every ``key_id`` of a leaf names a row of ``subject_keys`` or of
        ``shredded_keys``."""
        rows = await conn.fetch(
            "INSERT INTO shredded_keys (key_id, data_subject, topic, period, reason)"
            " SELECT nextval(pg_get_serial_sequence('subject_keys', 'id')), w.*, $4"
            " FROM unnest($1::text[], $2::text[], $3::date[]) AS w"
            " RETURNING key_id, data_subject, topic, period",
            *db.arrays(names, 3),
            reason,
        )
        return [NamedKey(row["key_id"], _name(row)) for row in rows]

    async def shredded(self, conn: Conn, ids: Sequence[int]) -> set[int]:
        rows = await conn.fetch(
            "SELECT key_id FROM shredded_keys WHERE key_id = ANY($1::bigint[])", list(ids)
        )
        return {row["key_id"] for row in rows}


key_repository = KeyRepository()
