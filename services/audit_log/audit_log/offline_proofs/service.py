"""Offline proofs of entries (c2sp.org/tlog-proof): each entry's leaf bytes, its audit path and
the checkpoint it was proved against, with the witnesses' cosignatures, in one text that
verifies with no access to the log.

The checkpoint is the strongest one that holds the entry: the latest that the witness policy's
quorum cosigned if the entry is in its tree, else the latest the log signed (with whatever
cosignatures it has), else one signed now. A proof against an uncosigned checkpoint still shows
the entry is in a tree the log signed; only witnesses show that tree is the one everyone sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from audit_log.checkpoints.service import CheckpointService
from audit_log.offline_proofs.format import TlogProof
from audit_log.tree.repository import TreeRepository, tree_repository
from audit_log.tree.service import TreeService
from audit_log.witnessing.service import WitnessService, cosigned_note
from vigie_shared.kit.db import Conn


@dataclass(frozen=True)
class _Head:
    tree_size: int
    note: str


class UnknownEntry(LookupError):
    pass


class OfflineProofService:
    def __init__(
        self,
        tree: TreeService,
        checkpoints: CheckpointService,
        witnesses: WitnessService,
        repository: TreeRepository = tree_repository,
    ) -> None:
        self._tree = tree
        self._checkpoints = checkpoints
        self._witnesses = witnesses
        self._repository = repository

    async def _heads(self, conn: Conn, highest: int) -> list[_Head]:
        """Checkpoints to prove against, smallest first; the last one holds ``highest``."""
        heads = []
        cosigned = await self._witnesses.latest_cosigned(conn)
        if cosigned is not None:
            heads.append(_Head(cosigned.tree_size, cosigned_note(cosigned)))
        latest = await self._checkpoints.latest(conn)
        if latest is None or latest.tree_size <= highest:
            latest = await self._checkpoints.issue(conn)
        assert latest is not None
        heads.append(_Head(latest.tree_size, await self._witnesses.with_cosignatures(conn, latest)))
        return heads

    async def prove(self, conn: Conn, entries: Sequence[tuple[int, bytes]]) -> list[TlogProof]:
        """One proof per (index, leaf bytes) given, in that order; the leaf bytes go in
        ``extra``. May sign a checkpoint (in the caller's transaction, if any)."""
        if not entries:
            return []
        heads = await self._heads(conn, max(index for index, _ in entries))
        chosen = [next(h for h in heads if index < h.tree_size) for index, _ in entries]
        sizes = [head.tree_size for head in chosen]
        paths = await self._tree.inclusion_proofs(
            conn, [(index, size) for (index, _), size in zip(entries, sizes, strict=True)]
        )
        return [
            TlogProof(index, tuple(path), head.note, extra=leaf)
            for (index, leaf), head, path in zip(entries, chosen, paths, strict=True)
        ]

    async def prove_entry(self, conn: Conn, index: int) -> TlogProof:
        stored = await self._repository.leaf(conn, index)
        if stored is None:
            raise UnknownEntry(f"no entry at index {index}")
        (proof,) = await self.prove(conn, [(index, stored.leaf.canonical())])
        return proof
