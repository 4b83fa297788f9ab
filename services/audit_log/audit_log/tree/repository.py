"""All SQL on the Merkle tree: leaves (log_entries), perfect-subtree nodes, the frontier."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

import asyncpg

from audit_log.merkle import AccumulatorState
from audit_log.tree.leaf import Leaf
from vigie_shared.kit import db
from vigie_shared.kit.db import Conn

LEAF_COLUMNS = (
    "leaf_index, event_id, topic, type, source, subject, actor, time, data_subject, key_id,"
    " facets, data_ct, leaf_hash"
)
_LEAF_COLUMN_NAMES = [name.strip() for name in LEAF_COLUMNS.split(",")]
_EVENT_ID_UNIQUE = "log_entries_event_id_key"
"""``log_entries.event_id UNIQUE`` (migration 0002), by PostgreSQL's naming of the constraint."""


class AlreadyInLog(Exception):
    """Leaves not inserted: an event id among them is already in the log."""


@dataclass(frozen=True)
class StoredLeaf:
    """A row of ``log_entries``: the leaf its columns make and the leaf hash stored beside it
    (which verification recomputes rather than trusts)."""

    leaf: Leaf
    leaf_hash: bytes


def leaf_from_row(row: asyncpg.Record) -> Leaf:
    """The leaf of a row selected with :data:`LEAF_COLUMNS` (for this module and the other
    repositories that read ``log_entries``)."""
    return Leaf(
        index=row["leaf_index"],
        event_id=row["event_id"],
        topic=row["topic"],
        type=row["type"],
        source=row["source"],
        subject=row["subject"],
        actor=row["actor"],
        time=row["time"],
        data_subject=row["data_subject"],
        key_id=row["key_id"],
        data_ct=bytes(row["data_ct"]),
        facets=row["facets"],
    )


def stored_leaf_from_row(row: asyncpg.Record) -> StoredLeaf:
    return StoredLeaf(leaf_from_row(row), bytes(row["leaf_hash"]))


class TreeRepository:
    async def lock_state(self, conn: Conn) -> AccumulatorState:
        """The frontier, row-locked until the transaction ends: whoever holds it is the single
        writer that may assign the next leaf indexes (replicas queue here)."""
        row = await conn.fetchrow("SELECT size, frontier FROM tree_state FOR UPDATE")
        assert row is not None
        state: AccumulatorState = row["frontier"]
        return state

    async def state(self, conn: Conn) -> AccumulatorState:
        state: AccumulatorState = await conn.fetchval("SELECT frontier FROM tree_state")
        return state

    async def save_tree(
        self, conn: Conn, nodes: Sequence[tuple[int, int, bytes]], state: AccumulatorState
    ) -> None:
        """The perfect-subtree nodes completed by an append and the new frontier, in one round
        trip."""
        await conn.execute(
            "WITH nodes AS (INSERT INTO tree_nodes (level, idx, hash)"
            " SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[]))"
            " UPDATE tree_state SET size = $4, frontier = $5, updated_at = now()",
            *db.arrays(nodes, 3),
            state["size"],
            state,
        )

    async def known_event_ids(self, conn: Conn, event_ids: Sequence[str]) -> set[str]:
        rows = await conn.fetch(
            "SELECT event_id FROM log_entries WHERE event_id = ANY($1::text[])", list(event_ids)
        )
        return {row["event_id"] for row in rows}

    async def insert_leaves(
        self, conn: Conn, leaves: Sequence[Leaf], hashes: Sequence[bytes]
    ) -> None:
        """Raises :class:`AlreadyInLog` (and the caller's transaction is then failed) when an
        event id is in the log already."""
        # Binary COPY rather than INSERT ... SELECT unnest(arrays): the server neither builds
        # nor unpacks thirteen arrays (jsonb ones from text), and the row-level work is the
        # same; the statement-level triggers (append-only, debt_entries) fire for COPY too.
        records = [
            (
                leaf.index,
                leaf.event_id,
                leaf.topic,
                leaf.type,
                leaf.source,
                leaf.subject,
                leaf.actor,
                leaf.time,
                leaf.data_subject,
                leaf.key_id,
                leaf.facets,
                leaf.data_ct,
                digest,
            )
            for leaf, digest in zip(leaves, hashes, strict=True)
        ]
        try:
            await conn.copy_records_to_table(
                "log_entries", columns=_LEAF_COLUMN_NAMES, records=records
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != _EVENT_ID_UNIQUE:
                raise
            raise AlreadyInLog(exc.detail or str(exc)) from exc

    async def nodes(
        self, conn: Conn, wanted: Iterable[tuple[int, int]]
    ) -> dict[tuple[int, int], bytes]:
        """Stored hashes of perfect subtrees ``(level, idx)``; level 0 is a leaf hash."""
        leaves = sorted({idx for level, idx in wanted if level == 0})
        inner = sorted({(level, idx) for level, idx in wanted if level > 0})
        found: dict[tuple[int, int], bytes] = {}
        if leaves:
            for row in await conn.fetch(
                "SELECT leaf_index, leaf_hash FROM log_entries"
                " WHERE leaf_index = ANY($1::bigint[])",
                leaves,
            ):
                found[(0, row["leaf_index"])] = bytes(row["leaf_hash"])
        if inner:
            for row in await conn.fetch(
                "SELECT n.level, n.idx, n.hash FROM tree_nodes n"
                " JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, idx)"
                " ON n.level = w.level AND n.idx = w.idx",
                [level for level, _ in inner],
                [idx for _, idx in inner],
            ):
                found[(row["level"], row["idx"])] = bytes(row["hash"])
        return found

    async def leaf(self, conn: Conn, index: int) -> StoredLeaf | None:
        row = await conn.fetchrow(
            f"SELECT {LEAF_COLUMNS} FROM log_entries WHERE leaf_index = $1",  # noqa: S608
            index,
        )
        return None if row is None else stored_leaf_from_row(row)

    async def stream_leaves(self, conn: Conn, *, batch: int = 5000) -> AsyncIterator[StoredLeaf]:
        """Every stored row in leaf order, as stored (verification trusts none of it)."""
        last = -1
        while True:
            rows = await conn.fetch(
                f"SELECT {LEAF_COLUMNS} FROM log_entries WHERE leaf_index > $1"  # noqa: S608
                " ORDER BY leaf_index LIMIT $2",
                last,
                batch,
            )
            if not rows:
                return
            for row in rows:
                yield stored_leaf_from_row(row)
            last = rows[-1]["leaf_index"]


tree_repository = TreeRepository()
