"""Every perfect-subtree node of a tree in memory, level by level: the layout the log keeps in
``tree_nodes``, answering roots and proofs for any past tree size in O(log n) hashes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from audit_log.merkle.hashing import (
    NODE_PREFIX,
    check_hash,
    check_size,
    fold_subtree_roots,
    range_nodes,
)
from audit_log.merkle.proofs import build_consistency_proof, build_inclusion_proof

_sha256 = hashlib.sha256


class MerkleLevels:
    """In-memory store of every perfect subtree node, level by level.

    ``levels[0]`` holds the leaf hashes; ``levels[j][i]`` is ``MTH`` of the perfect
    subtree ``D[i * 2**j : (i + 1) * 2**j]`` and exists once those leaves are present.
    This is the layout a persistent store would keep per level; it takes about
    ``2 n`` hashes of memory and answers :meth:`subtree_hash` for any tree-aligned range
    (so roots, inclusion and consistency proofs for *any* past tree size) in
    O(log n) hashes.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        leaves = [bytes(h) for h in leaf_hashes]
        for i, h in enumerate(leaves):
            check_hash(h, f"leaf hash #{i}")
        self._levels[0] = leaves
        level = leaves
        while len(level) > 1:
            level = [
                _sha256(NODE_PREFIX + level[i] + level[i + 1]).digest()
                for i in range(0, len(level) - 1, 2)
            ]
            self._levels.append(level)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def __len__(self) -> int:
        return len(self._levels[0])

    def level(self, height: int) -> Sequence[bytes]:
        """Copy of the node hashes at ``height`` (0 = leaves); empty above the top."""
        check_size(height, "height")
        if height >= len(self._levels):
            return ()
        return tuple(self._levels[height])

    def node(self, height: int, index: int) -> bytes:
        """Hash of the perfect subtree ``D[index * 2**height : (index + 1) * 2**height]``."""
        check_size(height, "height")
        check_size(index, "index")
        if height >= len(self._levels) or index >= len(self._levels[height]):
            raise ValueError(f"node ({height}, {index}) is not complete in a tree of {self.size}")
        return self._levels[height][index]

    def leaf_hash(self, index: int) -> bytes:
        """Leaf hash at ``index``."""
        return self.node(0, index)

    def append(self, leaf_hash: bytes) -> None:
        """Append a leaf hash, completing the perfect subtree nodes it closes."""
        check_hash(leaf_hash, "leaf hash")
        levels = self._levels
        h = bytes(leaf_hash)
        height = 0
        while True:
            if height == len(levels):
                levels.append([])
            row = levels[height]
            row.append(h)
            if len(row) & 1:
                break
            h = _sha256(NODE_PREFIX + row[-2] + h).digest()
            height += 1

    def subtree_hash(self, start: int, end: int) -> bytes:
        """Return ``MTH(D[start:end])`` for a tree-aligned range (see :func:`range_nodes`)."""
        if end > self.size:
            raise ValueError(f"range end {end} is beyond the tree size {self.size}")
        levels = self._levels
        return fold_subtree_roots([levels[h][i] for h, i in range_nodes(start, end)])

    def _tree_size(self, tree_size: int | None) -> int:
        if tree_size is None:
            return self.size
        check_size(tree_size, "tree_size")
        if tree_size > self.size:
            raise ValueError(f"tree_size {tree_size} exceeds the number of leaves ({self.size})")
        return tree_size

    def root(self, tree_size: int | None = None) -> bytes:
        """``MTH(D[tree_size])`` (RFC 6962 §2.1) for the current or an earlier size."""
        return self.subtree_hash(0, self._tree_size(tree_size))

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        """``PATH(index, D[tree_size])`` (RFC 6962 §2.1.1, RFC 9162 §2.1.3.1)."""
        return build_inclusion_proof(index, self._tree_size(tree_size), self.subtree_hash)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """``PROOF(old_size, D[new_size])`` (RFC 6962 §2.1.2, RFC 9162 §2.1.4.1)."""
        return build_consistency_proof(old_size, self._tree_size(new_size), self.subtree_hash)
