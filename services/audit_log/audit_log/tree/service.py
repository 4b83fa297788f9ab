"""Appending to the Merkle tree (RFC 6962 §2.1) and reading subtree hashes for proofs.

One writer at a time: :meth:`TreeService.append` row-locks ``tree_state`` for the transaction,
so leaf indexes are contiguous (0..n-1, unlike the bigserial of 0001) and the stored frontier,
leaves and nodes always describe the same tree. The caller owns the transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from audit_log.merkle import (
    EMPTY_ROOT,
    AccumulatorState,
    MerkleAccumulator,
    consistency_proof_ranges,
    fold_subtree_roots,
    inclusion_proof_ranges,
    leaf_hash,
    node_hash,
    range_nodes,
)
from audit_log.shredding.repository import KeyName
from audit_log.shredding.service import Keys, payload_plaintext, period_of
from audit_log.tree.leaf import MAX_LEAF_BYTES, EntryTooLarge, Leaf, LeafText
from audit_log.tree.repository import AlreadyInLog, TreeRepository, tree_repository
from vigie_shared.kit.db import Conn

Node = tuple[int, int, bytes]


@dataclass(frozen=True)
class NewEntry:
    """An event to record; ``data`` is the clear payload, sealed before it is stored.

    What does not depend on the tree (the payload's plaintext, the leaf's bytes but for its
    index, key id and ciphertext, the name of its data key) is derived here, when the entry is
    made: ingestion makes the entries of one part while the previous part is being stored, so
    that work is done outside the writer's lock.
    """

    event_id: str
    topic: str
    type: str
    source: str
    subject: str
    actor: str | None
    time: datetime
    data_subject: str
    data: Mapping[str, Any]
    facets: dict[str, Any] = field(default_factory=dict)
    plaintext: bytes = field(init=False, repr=False, compare=False)
    text: LeafText = field(init=False, repr=False, compare=False)
    key_name: KeyName = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The dataclass is frozen: derived fields are set as its generated __init__ sets fields.
        object.__setattr__(self, "plaintext", payload_plaintext(self.data))
        object.__setattr__(
            self,
            "text",
            LeafText.of(self),
        )
        object.__setattr__(self, "key_name", (self.data_subject, self.topic, period_of(self.time)))

    def leaf_size_at_most(self) -> int:
        """The longest this entry's leaf can be, whatever its index and key id: known before
        the writer's lock, so an entry too large for the log is refused before it is claimed."""
        return self.text.size_at_most(Keys.sealed_size(len(self.plaintext)))


def _first_of_each_id(entries: Sequence[NewEntry], known: set[str]) -> list[NewEntry]:
    """``entries`` without those whose id is in ``known`` or came earlier in ``entries``."""
    fresh: list[NewEntry] = []
    for entry in entries:
        if entry.event_id not in known:
            known.add(entry.event_id)
            fresh.append(entry)
    return fresh


def append_leaf_hash(frontier: list[bytes], size: int, leaf: bytes, nodes: list[Node]) -> None:
    """Append leaf ``size`` to a compact-range frontier (as MerkleAccumulator.append does) and
    collect each perfect subtree it completes: the node at ``level`` ending at leaf ``size`` has
    index ``size >> level`` (RFC 6962 §2.1 node hash)."""
    carry, n, level = leaf, size, 0
    while n & 1:
        carry = node_hash(frontier.pop(), carry)
        n >>= 1
        level += 1
        nodes.append((level, size >> level, carry))
    frontier.append(carry)


class TreeService:
    def __init__(self, keys: Keys, repository: TreeRepository = tree_repository) -> None:
        self._keys = keys
        self._repository = repository

    async def append(
        self, conn: Conn, entries: Sequence[NewEntry], *, locked: asyncio.Event | None = None
    ) -> list[Leaf]:
        """Seal, number and store ``entries``; the leaves stored. An entry whose id is in the
        log already, or came earlier in ``entries``, is skipped: the log's unique event id is
        ingestion's dedupe. ``locked`` is set as soon as the writer's lock is held: a caller
        with another transaction to append next may then let it queue for the lock, in order."""
        if not conn.is_in_transaction():
            raise RuntimeError("append must run inside the caller's transaction")
        state = await self._repository.lock_state(conn)
        if locked is not None:
            locked.set()
        fresh = _first_of_each_id(entries, set())
        if not fresh:
            return []
        # An id already in the log is rare: ingestion is handed an event again only when a
        # batch is redelivered (an offset commit lost to a crash or a rebalance, a batch given
        # back after an outage) or a dead letter is replayed; an adopted legacy row is another.
        # So the entries are written at once, and only if the log's unique event id refuses
        # them are they written again without the ids it holds: a redelivered part pays for
        # two attempts, where looking every part's ids up first would cost each part a query.
        # The savepoint undoes the whole attempt, the keys it created included, so the retry
        # writes what looking the ids up first would.
        try:
            async with conn.transaction():
                return await self._store(conn, state, fresh)
        except AlreadyInLog:
            pass
        known = await self._repository.known_event_ids(conn, [e.event_id for e in fresh])
        fresh = _first_of_each_id(fresh, known)
        return await self._store(conn, state, fresh) if fresh else []

    async def _store(
        self, conn: Conn, state: AccumulatorState, fresh: Sequence[NewEntry]
    ) -> list[Leaf]:
        keys = await self._keys.sealing_keys(conn, ((e.key_name, e.time) for e in fresh))
        accumulator = MerkleAccumulator.from_state(state)
        frontier = list(accumulator.frontier)
        size = accumulator.size
        leaves: list[Leaf] = []
        hashes: list[bytes] = []
        nodes: list[Node] = []
        for entry in fresh:
            key_id, data_key = keys.for_entry(entry.key_name, entry.time)
            data_ct = Keys.seal_payload(data_key, entry.event_id, entry.plaintext)
            canonical = entry.text.render(size, key_id, data_ct)
            if len(canonical) > MAX_LEAF_BYTES:
                # Before anything is written: the transaction fails whole, and the tree never
                # holds a leaf that no entry bundle can carry (tree.leaf.MAX_LEAF_BYTES).
                raise EntryTooLarge(
                    f"event {entry.event_id}: a leaf of {len(canonical)} bytes, beyond the"
                    f" {MAX_LEAF_BYTES} a tlog-tiles entry bundle carries"
                )
            digest = leaf_hash(canonical)
            leaves.append(
                Leaf(
                    index=size,
                    event_id=entry.event_id,
                    topic=entry.topic,
                    type=entry.type,
                    source=entry.source,
                    subject=entry.subject,
                    actor=entry.actor,
                    time=entry.time,
                    data_subject=entry.data_subject,
                    key_id=key_id,
                    data_ct=data_ct,
                    facets=entry.facets,
                )
            )
            hashes.append(digest)
            append_leaf_hash(frontier, size, digest, nodes)
            size += 1
        await self._repository.insert_leaves(conn, leaves, hashes)
        await self._repository.save_tree(
            conn, nodes, {"size": size, "hashes": [h.hex() for h in frontier]}
        )
        return leaves

    async def lock_writer(self, conn: Conn) -> None:
        """Take the single writer's lock for the caller's transaction, as :meth:`append` does:
        an erasure holds it so that no batch is sealing with the keys it destroys, nor creating
        a key it would not see (docs/audit-log.md, crypto-shredding)."""
        if not conn.is_in_transaction():
            raise RuntimeError("lock_writer must run inside the caller's transaction")
        await self._repository.lock_state(conn)

    async def size(self, conn: Conn) -> int:
        return (await self._repository.state(conn))["size"]

    async def current(self, conn: Conn) -> tuple[int, bytes]:
        accumulator = MerkleAccumulator.from_state(await self._repository.state(conn))
        return accumulator.size, accumulator.root()

    async def subtree_hashes(self, conn: Conn, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """``MTH(D[start:end])`` of tree-aligned ranges, from O(log n) stored nodes each."""
        plans = [range_nodes(start, end) for start, end in ranges]
        wanted: set[tuple[int, int]] = {node for plan in plans for node in plan}
        stored = await self._repository.nodes(conn, wanted)
        missing = wanted - stored.keys()
        if missing:
            raise LookupError(f"tree nodes missing from storage: {sorted(missing)[:5]}")
        return [fold_subtree_roots([stored[node] for node in plan]) for plan in plans]

    async def root_at(self, conn: Conn, tree_size: int) -> bytes:
        if tree_size == 0:
            return EMPTY_ROOT
        (root,) = await self.subtree_hashes(conn, [(0, tree_size)])
        return root

    async def inclusion_proof(self, conn: Conn, index: int, tree_size: int) -> list[bytes]:
        return await self.subtree_hashes(conn, inclusion_proof_ranges(index, tree_size))

    async def inclusion_proofs(
        self, conn: Conn, wanted: Sequence[tuple[int, int]]
    ) -> list[list[bytes]]:
        """The audit paths of many (index, tree size) pairs, their nodes read in one query."""
        plans = [inclusion_proof_ranges(index, tree_size) for index, tree_size in wanted]
        hashes = await self.subtree_hashes(conn, [r for plan in plans for r in plan])
        paths, start = [], 0
        for plan in plans:
            paths.append(hashes[start : start + len(plan)])
            start += len(plan)
        return paths

    async def consistency_proof(self, conn: Conn, first: int, second: int) -> list[bytes]:
        return await self.subtree_hashes(conn, consistency_proof_ranges(first, second))
