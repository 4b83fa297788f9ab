"""Verifying inclusion proofs (RFC 9162 §2.1.3.2) and consistency proofs (RFC 9162 §2.1.4.2),
the checks a client of the log runs against a signed root.

A well-formed request whose proof does not check out returns ``False`` (or ``None`` from
:func:`root_from_inclusion_proof`); only arguments that describe no valid tree raise
:class:`ValueError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from audit_log.merkle.hashing import EMPTY_ROOT, HASH_SIZE, NODE_PREFIX, check_size

_sha256 = hashlib.sha256


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray | memoryview) and len(value) == HASH_SIZE


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes | None:
    """Recompute the root implied by an inclusion proof (RFC 9162 §2.1.3.2, steps 1-5).

    Returns ``None`` when the proof is malformed (wrong length, or elements that are
    not :data:`HASH_SIZE` bytes). Raises :class:`ValueError` unless
    ``0 <= index < tree_size``.
    """
    check_size(index, "index")
    check_size(tree_size, "tree_size")
    if index >= tree_size:
        raise ValueError(f"leaf index {index} is out of range for tree size {tree_size}")
    if not _is_hash(leaf_hash):
        return None
    fn = index
    sn = tree_size - 1
    r = bytes(leaf_hash)
    for p in proof:
        if sn == 0 or not _is_hash(p):
            return None
        if fn & 1 or fn == sn:
            r = _sha256(NODE_PREFIX + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(NODE_PREFIX + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Verify that ``leaf_hash`` is leaf ``index`` of the tree of ``tree_size`` with ``root``.

    Implements RFC 9162 §2.1.3.2 (the verifier for RFC 6962 §2.1.1 audit paths).
    Returns ``False`` for any proof that does not check out. Raises
    :class:`ValueError` unless ``0 <= index < tree_size``.
    """
    computed = root_from_inclusion_proof(leaf_hash, index, tree_size, proof)
    return computed is not None and _is_hash(root) and computed == root


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """Verify that the tree ``(new_size, new_root)`` extends ``(old_size, old_root)``.

    Implements RFC 9162 §2.1.4.2 (the verifier for RFC 6962 §2.1.2 proofs). For
    ``old_size == new_size`` the proof must be empty and the roots equal; for
    ``old_size == 0`` the proof must be empty and ``old_root`` must be
    :data:`EMPTY_ROOT` (stricter than some implementations, which ignore the old root).
    Returns ``False`` for any proof that does not check out. Raises
    :class:`ValueError` unless ``0 <= old_size <= new_size``.
    """
    check_size(old_size, "old_size")
    check_size(new_size, "new_size")
    if old_size > new_size:
        raise ValueError(f"old_size {old_size} is larger than new_size {new_size}")
    if not (_is_hash(old_root) and _is_hash(new_root)):
        return False
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root and (old_size > 0 or old_root == EMPTY_ROOT)
    if old_size == 0:
        return len(proof) == 0 and old_root == EMPTY_ROOT
    # Step 1: a non-trivial consistency proof is never empty.
    if len(proof) == 0 or not all(_is_hash(c) for c in proof):
        return False
    path: list[bytes] = [bytes(c) for c in proof]
    # Step 2: if old_size is an exact power of two, the old root is the first node.
    if old_size & (old_size - 1) == 0:
        path.insert(0, bytes(old_root))
    # Steps 3-4.
    fn = old_size - 1
    sn = new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _sha256(NODE_PREFIX + c + fr).digest()
            sr = _sha256(NODE_PREFIX + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(NODE_PREFIX + sr + c).digest()
        fn >>= 1
        sn >>= 1
    # Step 7.
    return sn == 0 and fr == old_root and sr == new_root
