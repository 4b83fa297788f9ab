"""The Merkle Tree Hash of RFC 6962 §2.1 / RFC 9162 §2.1.1 (SHA-256): domain-separated leaf
(``0x00``) and interior node (``0x01``) hashes, the root of a list of leaf hashes, and the
decomposition of a tree-aligned range into the perfect subtrees a store keeps.

Everything here works on *leaf hashes* (``leaf_hash(entry)``), never on raw entries, except
:func:`leaf_hash` itself. ``check_hash``/``check_size`` are the argument checks the other
modules of this package share (see the package's error convention).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

_sha256 = hashlib.sha256

HASH_SIZE: Final = 32
"""Size in bytes of every hash in the tree (SHA-256 output)."""

LEAF_PREFIX: Final = b"\x00"
"""Domain-separation prefix of leaf hashes (RFC 6962 §2.1, RFC 9162 §2.1.1)."""

NODE_PREFIX: Final = b"\x01"
"""Domain-separation prefix of interior node hashes (RFC 6962 §2.1, RFC 9162 §2.1.1)."""

EMPTY_ROOT: Final = _sha256(b"").digest()
"""``MTH({}) = SHA-256()``: the root of the empty tree (RFC 6962 §2.1)."""


def leaf_hash(entry: bytes) -> bytes:
    """Return ``MTH({d0}) = SHA-256(0x00 || d0)`` (RFC 6962 §2.1, RFC 9162 §2.1.1)."""
    return _sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA-256(0x01 || left || right)`` (RFC 6962 §2.1, RFC 9162 §2.1.1).

    ``left`` and ``right`` are the hashes of the two subtrees ``MTH(D[0:k])`` and
    ``MTH(D[k:n])``.
    """
    return _sha256(NODE_PREFIX + left + right).digest()


def check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise ValueError(f"{what} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes long, got {len(value)}")


def check_size(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}")


def split_point(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``k`` of RFC 6962 §2.1), n >= 2."""
    return 1 << ((n - 1).bit_length() - 1)


def fold_subtree_roots(roots: Sequence[bytes]) -> bytes:
    """Combine the roots of a tree's perfect subtrees, left to right, into its MTH.

    ``roots`` lists the hashes of the maximal perfect subtrees covering a tree-aligned
    range, largest (leftmost) first, as returned for :func:`range_nodes`. By RFC 6962
    §2.1 the split point ``k`` of an ``n``-leaf tree is the largest power of two below
    ``n``, so ``MTH`` is obtained by hashing these roots together from the right:
    ``node_hash(r0, node_hash(r1, ... node_hash(r[-2], r[-1])))``. An empty sequence
    gives :data:`EMPTY_ROOT`.
    """
    if not roots:
        return EMPTY_ROOT
    acc = roots[-1]
    for i in range(len(roots) - 2, -1, -1):
        acc = _sha256(NODE_PREFIX + roots[i] + acc).digest()
    return acc


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle Tree Hash ``MTH(D[n])`` of the given leaf hashes.

    RFC 6962 §2.1 / RFC 9162 §2.1.1 define ``MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) ||
    MTH(D[k:n]))`` with ``k`` the largest power of two smaller than ``n``. Because ``k``
    is a power of two, this equals pairing nodes level by level and promoting an
    unpaired rightmost node unchanged to the next level, which is what is done here:
    O(n) hashes, O(n) temporary memory, no recursion.
    """
    n = len(hashes)
    if n == 0:
        return EMPTY_ROOT
    for i, h in enumerate(hashes):
        check_hash(h, f"leaf hash #{i}")
    level: list[bytes] = [bytes(h) for h in hashes]
    while len(level) > 1:
        prefix = NODE_PREFIX
        nxt = [
            _sha256(prefix + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def range_nodes(start: int, end: int) -> list[tuple[int, int]]:
    """Return the perfect subtree nodes whose fold is ``MTH(D[start:end])``.

    Each node is ``(level, index)``: the perfect subtree of ``2**level`` leaves
    ``D[index * 2**level : (index + 1) * 2**level]``, listed left to right; combine their
    hashes with :func:`fold_subtree_roots`.

    The range must be *tree-aligned*: ``start`` is a multiple of the smallest power of
    two ``>= end - start``. Every range that RFC 6962 §2.1.1 ``PATH`` and §2.1.2
    ``SUBPROOF`` hash is of this form (each is either a perfect aligned subtree or the
    right edge of a subtree rooted at an aligned offset), and for such a range the
    recursive split of RFC 6962 §2.1 follows the binary decomposition of
    ``end - start``. Other ranges raise :class:`ValueError`, as their MTH cannot be
    derived from stored tree nodes.
    """
    check_size(start, "start")
    check_size(end, "end")
    if end < start:
        raise ValueError(f"range end {end} is before its start {start}")
    width = end - start
    if width == 0:
        return []
    ceil_pow2 = 1 << (width - 1).bit_length()
    if start % ceil_pow2:
        raise ValueError(
            f"range [{start}, {end}) is not tree-aligned: start must be a multiple of {ceil_pow2}"
        )
    nodes: list[tuple[int, int]] = []
    pos = start
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            nodes.append((level, pos >> level))
            pos += 1 << level
    return nodes
