"""Merkle audit (inclusion) paths, RFC 6962 §2.1.1 / RFC 9162 §2.1.3.1, and consistency
proofs, RFC 6962 §2.1.2 / RFC 9162 §2.1.4.1: which subtree hashes make up a proof, and the
proof built from any source of subtree hashes.

Construction is expressed over an abstract ``subtree_hash(start, end)`` callable
(:func:`build_inclusion_proof`, :func:`build_consistency_proof`). The ranges it is asked for
are always *tree-aligned* (see :func:`~audit_log.merkle.hashing.range_nodes`), so a storage
layer holding the perfect-subtree node hashes per level can answer them without loading
leaves. :func:`inclusion_proof_ranges` / :func:`consistency_proof_ranges` expose the ranges up
front so that an asynchronous store can fetch them in one batch; :func:`inclusion_proof` and
:func:`consistency_proof` build them from a list of every leaf hash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from audit_log.merkle.hashing import check_size, root_from_leaf_hashes, split_point

SubtreeHashFn = Callable[[int, int], bytes]
"""``subtree_hash(start, end)`` returns ``MTH(D[start:end])`` for a tree-aligned range."""


def inclusion_proof_ranges(index: int, tree_size: int) -> list[tuple[int, int]]:
    """Ranges ``(start, end)`` whose MTH make up the inclusion proof, in proof order.

    Iterative form of RFC 6962 §2.1.1 ``PATH(m, D[n])`` (RFC 9162 §2.1.3.1): for
    ``n > 1`` and ``k`` the largest power of two below ``n``, ``PATH(m, D[n]) =
    PATH(m, D[0:k]) : MTH(D[k:n])`` if ``m < k`` else ``PATH(m - k, D[k:n]) :
    MTH(D[0:k])``; ``PATH(0, {d0}) = {}``. The list goes from the leaf's sibling up to
    the root's child. All ranges are tree-aligned (see :func:`range_nodes`).
    """
    check_size(index, "index")
    check_size(tree_size, "tree_size")
    if index >= tree_size:
        raise ValueError(f"leaf index {index} is out of range for tree size {tree_size}")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, tree_size
    while hi - lo > 1:
        mid = lo + split_point(hi - lo)
        if index < mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
    ranges.reverse()
    return ranges


def consistency_proof_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Ranges ``(start, end)`` whose MTH make up the consistency proof, in proof order.

    Iterative form of RFC 6962 §2.1.2 ``PROOF(m, D[n]) = SUBPROOF(m, D[n], true)``
    (RFC 9162 §2.1.4.1) where ``SUBPROOF(m, D[m], true) = {}``, ``SUBPROOF(m, D[m],
    false) = {MTH(D[m])}``, and for ``m < n`` with ``k`` the largest power of two below
    ``n``: ``SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])`` if ``m <= k``
    else ``SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])``.

    The RFCs define ``PROOF`` for ``0 < m < n`` only; outside that domain
    ``old_size == new_size`` and ``old_size == 0`` give an empty proof (every tree is
    consistent with itself and with the empty tree), as in transparency-dev/merkle.
    """
    check_size(old_size, "old_size")
    check_size(new_size, "new_size")
    if old_size > new_size:
        raise ValueError(f"old_size {old_size} is larger than new_size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, new_size
    whole = True  # the ``b`` flag of SUBPROOF
    while True:
        m = old_size - lo
        if m == hi - lo:
            if not whole:
                ranges.append((lo, hi))
            break
        mid = lo + split_point(hi - lo)
        if old_size <= mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
            whole = False
    ranges.reverse()
    return ranges


def build_inclusion_proof(index: int, tree_size: int, subtree_hash: SubtreeHashFn) -> list[bytes]:
    """RFC 6962 §2.1.1 / RFC 9162 §2.1.3.1 inclusion proof from a subtree-hash source.

    ``subtree_hash(start, end)`` must return ``MTH(D[start:end])``; it is only called
    on the tree-aligned ranges of :func:`inclusion_proof_ranges`. Raises
    :class:`ValueError` unless ``0 <= index < tree_size``.
    """
    return [subtree_hash(s, e) for s, e in inclusion_proof_ranges(index, tree_size)]


def build_consistency_proof(
    old_size: int, new_size: int, subtree_hash: SubtreeHashFn
) -> list[bytes]:
    """RFC 6962 §2.1.2 / RFC 9162 §2.1.4.1 consistency proof from a subtree-hash source.

    ``subtree_hash(start, end)`` must return ``MTH(D[start:end])``; it is only called
    on the tree-aligned ranges of :func:`consistency_proof_ranges`. Raises
    :class:`ValueError` unless ``0 <= old_size <= new_size``.
    """
    return [subtree_hash(s, e) for s, e in consistency_proof_ranges(old_size, new_size)]


def _list_subtree_hash(leaf_hashes: Sequence[bytes]) -> SubtreeHashFn:
    def subtree_hash(start: int, end: int) -> bytes:
        return root_from_leaf_hashes(leaf_hashes[start:end])

    return subtree_hash


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return the audit path ``PATH(index, D[n])`` for ``n = len(leaf_hashes)``.

    RFC 6962 §2.1.1 / RFC 9162 §2.1.3.1. Costs O(n) hashes; use :class:`MerkleLevels`
    or :func:`build_inclusion_proof` to answer many proofs. Raises :class:`ValueError`
    unless ``0 <= index < len(leaf_hashes)``.
    """
    return build_inclusion_proof(index, len(leaf_hashes), _list_subtree_hash(leaf_hashes))


def consistency_proof(old_size: int, new_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return ``PROOF(old_size, D[new_size])`` over the first ``new_size`` leaf hashes.

    RFC 6962 §2.1.2 / RFC 9162 §2.1.4.1. Raises :class:`ValueError` unless
    ``0 <= old_size <= new_size <= len(leaf_hashes)``.
    """
    check_size(new_size, "new_size")
    if new_size > len(leaf_hashes):
        raise ValueError(
            f"new_size {new_size} exceeds the number of leaf hashes ({len(leaf_hashes)})"
        )
    return build_consistency_proof(old_size, new_size, _list_subtree_hash(leaf_hashes))
