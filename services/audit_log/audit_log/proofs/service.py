"""Inclusion and consistency proofs from the stored nodes (RFC 9162 §2.1.3, §2.1.4)."""

from __future__ import annotations

import base64

from audit_log.proofs.schemas import ConsistencyProof, InclusionProof
from audit_log.tree.repository import TreeRepository, tree_repository
from audit_log.tree.service import TreeService
from vigie_shared.kit.db import Conn
from vigie_shared.kit.http import Problem


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


class ProofService:
    def __init__(self, tree: TreeService, repository: TreeRepository = tree_repository) -> None:
        self._tree = tree
        self._repository = repository

    async def _check_size(self, conn: Conn, tree_size: int) -> None:
        size = await self._tree.size(conn)
        if tree_size > size:
            raise Problem(400, "Bad Request", f"tree_size {tree_size} exceeds the tree ({size}).")

    async def inclusion(self, conn: Conn, index: int, tree_size: int) -> InclusionProof:
        if not 0 <= index < tree_size:
            raise Problem(400, "Bad Request", "index must be >= 0 and < tree_size.")
        await self._check_size(conn, tree_size)
        stored = await self._repository.leaf(conn, index)
        if stored is None:
            raise Problem(404, "Not Found", f"No entry at index {index}.")
        path = await self._tree.inclusion_proof(conn, index, tree_size)
        return InclusionProof(
            leaf_index=index,
            tree_size=tree_size,
            leaf=b64(stored.leaf.canonical()),
            leaf_hash=b64(stored.leaf_hash),
            inclusion_path=[b64(h) for h in path],
            root_hash=b64(await self._tree.root_at(conn, tree_size)),
        )

    async def consistency(self, conn: Conn, first: int, second: int) -> ConsistencyProof:
        if not 0 <= first <= second:
            raise Problem(400, "Bad Request", "Need 0 <= first <= second.")
        await self._check_size(conn, second)
        path = await self._tree.consistency_proof(conn, first, second)
        return ConsistencyProof(
            first=first,
            second=second,
            first_root=b64(await self._tree.root_at(conn, first)),
            second_root=b64(await self._tree.root_at(conn, second)),
            consistency_path=[b64(h) for h in path],
        )
