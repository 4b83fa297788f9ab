"""RFC 6962 / RFC 9162 Merkle tree algorithms (SHA-256), dependency-free.

This module encodes the Merkle Tree definitions used by Certificate Transparency:

* RFC 6962 §2.1 / RFC 9162 §2.1.1 -- the Merkle Tree Hash ``MTH`` of an ordered list
  of entries, with domain-separated leaf (``0x00``) and interior node (``0x01``) hashes;
* RFC 6962 §2.1.1 / RFC 9162 §2.1.3 -- Merkle audit (inclusion) paths and their
  verification (RFC 9162 §2.1.3.2);
* RFC 6962 §2.1.2 / RFC 9162 §2.1.4 -- Merkle consistency proofs and their
  verification (RFC 9162 §2.1.4.2).

Everything here works on *leaf hashes* (``leaf_hash(entry)``), never on raw entries,
except :func:`leaf_hash` itself and :meth:`MerkleAccumulator.append_entry`.

Three ways of obtaining tree hashes are offered:

* list-based functions (:func:`root_from_leaf_hashes`, :func:`inclusion_proof`,
  :func:`consistency_proof`) for when all leaf hashes are at hand;
* :class:`MerkleAccumulator`, an O(log n) memory "compact range" used on the ingestion
  hot path to keep the current root, persistable with ``to_state`` / ``from_state``;
* :class:`MerkleLevels`, an in-memory per-level node store answering historical roots
  and proofs in O(log n) hashes each.

Proof *construction* is expressed over an abstract ``subtree_hash(start, end)``
callable (:func:`build_inclusion_proof`, :func:`build_consistency_proof`). The ranges
it is asked for are always *tree-aligned* (see :func:`range_nodes`), so a storage layer
holding the perfect-subtree node hashes per level can answer them without loading
leaves. :func:`inclusion_proof_ranges` / :func:`consistency_proof_ranges` expose the
ranges up front so that an asynchronous store can fetch them in one batch.

Error convention: arguments that cannot describe any valid tree, proof or range
(negative sizes, ``index >= tree_size``, ``old_size > new_size``, hashes that are not
32 bytes where a hash is constructed or stored) raise :class:`ValueError`. A
well-formed request whose proof simply does not check out makes the ``verify_*``
functions return ``False``; they never raise for bad *proof content*.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Final, TypedDict

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "AccumulatorState",
    "MerkleAccumulator",
    "MerkleLevels",
    "SubtreeHashFn",
    "build_consistency_proof",
    "build_inclusion_proof",
    "consistency_proof",
    "consistency_proof_ranges",
    "fold_subtree_roots",
    "inclusion_proof",
    "inclusion_proof_ranges",
    "leaf_hash",
    "node_hash",
    "range_nodes",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

_sha256 = hashlib.sha256

HASH_SIZE: Final = 32
"""Size in bytes of every hash in the tree (SHA-256 output)."""

LEAF_PREFIX: Final = b"\x00"
"""Domain-separation prefix of leaf hashes (RFC 6962 §2.1, RFC 9162 §2.1.1)."""

NODE_PREFIX: Final = b"\x01"
"""Domain-separation prefix of interior node hashes (RFC 6962 §2.1, RFC 9162 §2.1.1)."""

EMPTY_ROOT: Final = _sha256(b"").digest()
"""``MTH({}) = SHA-256()``: the root of the empty tree (RFC 6962 §2.1)."""

SubtreeHashFn = Callable[[int, int], bytes]
"""``subtree_hash(start, end)`` returns ``MTH(D[start:end])`` for a tree-aligned range."""


# --------------------------------------------------------------------------- hashing


def leaf_hash(entry: bytes) -> bytes:
    """Return ``MTH({d0}) = SHA-256(0x00 || d0)`` (RFC 6962 §2.1, RFC 9162 §2.1.1)."""
    return _sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA-256(0x01 || left || right)`` (RFC 6962 §2.1, RFC 9162 §2.1.1).

    ``left`` and ``right`` are the hashes of the two subtrees ``MTH(D[0:k])`` and
    ``MTH(D[k:n])``.
    """
    return _sha256(NODE_PREFIX + left + right).digest()


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise ValueError(f"{what} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes long, got {len(value)}")


def _check_size(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}")


def _split_point(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``k`` of RFC 6962 §2.1), n >= 2."""
    return 1 << ((n - 1).bit_length() - 1)


# --------------------------------------------------------------------------- tree hash


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
        _check_hash(h, f"leaf hash #{i}")
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
    _check_size(start, "start")
    _check_size(end, "end")
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


# --------------------------------------------------------------------------- proofs


def inclusion_proof_ranges(index: int, tree_size: int) -> list[tuple[int, int]]:
    """Ranges ``(start, end)`` whose MTH make up the inclusion proof, in proof order.

    Iterative form of RFC 6962 §2.1.1 ``PATH(m, D[n])`` (RFC 9162 §2.1.3.1): for
    ``n > 1`` and ``k`` the largest power of two below ``n``, ``PATH(m, D[n]) =
    PATH(m, D[0:k]) : MTH(D[k:n])`` if ``m < k`` else ``PATH(m - k, D[k:n]) :
    MTH(D[0:k])``; ``PATH(0, {d0}) = {}``. The list goes from the leaf's sibling up to
    the root's child. All ranges are tree-aligned (see :func:`range_nodes`).
    """
    _check_size(index, "index")
    _check_size(tree_size, "tree_size")
    if index >= tree_size:
        raise ValueError(f"leaf index {index} is out of range for tree size {tree_size}")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, tree_size
    while hi - lo > 1:
        mid = lo + _split_point(hi - lo)
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
    _check_size(old_size, "old_size")
    _check_size(new_size, "new_size")
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
        mid = lo + _split_point(hi - lo)
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
    _check_size(new_size, "new_size")
    if new_size > len(leaf_hashes):
        raise ValueError(
            f"new_size {new_size} exceeds the number of leaf hashes ({len(leaf_hashes)})"
        )
    return build_consistency_proof(old_size, new_size, _list_subtree_hash(leaf_hashes))


# --------------------------------------------------------------------------- verification


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
    _check_size(index, "index")
    _check_size(tree_size, "tree_size")
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
    _check_size(old_size, "old_size")
    _check_size(new_size, "new_size")
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


# --------------------------------------------------------------------------- accumulator


class AccumulatorState(TypedDict):
    """JSON-serialisable state of a :class:`MerkleAccumulator`.

    ``hashes`` are the lowercase hex roots of the perfect subtrees covering
    ``[0, size)``, largest (leftmost) first: one per set bit of ``size``.
    """

    size: int
    hashes: list[str]


class MerkleAccumulator:
    """Append-only Merkle tree keeping only its right frontier (a compact range ``[0, n)``).

    For a tree of ``n`` leaves it stores the roots of the maximal perfect subtrees
    covering ``[0, n)`` -- one per set bit of ``n``, largest first -- so memory is
    O(log n) and :meth:`append` costs amortised O(1) (worst case O(log n)) hashes.
    :meth:`root` folds them right to left, which by the split rule of RFC 6962 §2.1
    (``k`` = largest power of two below ``n``) equals ``MTH(D[n])``.

    The state can be persisted with :meth:`to_state` and resumed with
    :meth:`from_state`.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_leaf_hashes(cls, hashes: Iterable[bytes]) -> MerkleAccumulator:
        """Build an accumulator by appending every given leaf hash."""
        acc = cls()
        acc.extend(hashes)
        return acc

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def __len__(self) -> int:
        return self._size

    @property
    def frontier(self) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees covering ``[0, size)``, largest first."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash (``leaf_hash(entry)``, RFC 6962 §2.1) as leaf ``size``."""
        _check_hash(leaf_hash, "leaf hash")
        hashes = self._hashes
        h = bytes(leaf_hash)
        n = self._size
        # Each trailing 1-bit of the old size is a perfect subtree of the same height as
        # the one being carried: merge them (RFC 6962 §2.1 node hash) like a binary add.
        while n & 1:
            h = _sha256(NODE_PREFIX + hashes.pop() + h).digest()
            n >>= 1
        hashes.append(h)
        self._size += 1

    def append_entry(self, entry: bytes) -> bytes:
        """Hash ``entry`` as a leaf (RFC 6962 §2.1), append it and return its leaf hash."""
        h = _sha256(LEAF_PREFIX + entry).digest()
        hashes = self._hashes
        carry = h
        n = self._size
        while n & 1:
            carry = _sha256(NODE_PREFIX + hashes.pop() + carry).digest()
            n >>= 1
        hashes.append(carry)
        self._size += 1
        return h

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append several leaf hashes in order."""
        for h in leaf_hashes:
            self.append(h)

    def root(self) -> bytes:
        """Return ``MTH(D[size])`` (RFC 6962 §2.1); :data:`EMPTY_ROOT` when empty."""
        return fold_subtree_roots(self._hashes)

    def copy(self) -> MerkleAccumulator:
        """Return an independent copy."""
        other = MerkleAccumulator()
        other._size = self._size
        other._hashes = list(self._hashes)
        return other

    def to_state(self) -> AccumulatorState:
        """Return a JSON-serialisable snapshot; resume it with :meth:`from_state`."""
        return {"size": self._size, "hashes": [h.hex() for h in self._hashes]}

    @classmethod
    def from_state(cls, state: AccumulatorState) -> MerkleAccumulator:
        """Rebuild an accumulator from :meth:`to_state` output.

        ``hashes`` may be hex strings or raw bytes. Raises :class:`ValueError` when the
        number of hashes does not match the number of set bits of ``size`` or a hash
        is not :data:`HASH_SIZE` bytes.
        """
        size = state["size"]
        _check_size(size, "state size")
        raw: Sequence[str | bytes] = state["hashes"]
        expected = size.bit_count()
        if len(raw) != expected:
            raise ValueError(
                f"state for size {size} must hold {expected} subtree hashes, got {len(raw)}"
            )
        hashes: list[bytes] = []
        for i, item in enumerate(raw):
            if isinstance(item, str):
                try:
                    value = bytes.fromhex(item)
                except ValueError as exc:
                    raise ValueError(f"state hash #{i} is not valid hex") from exc
            else:
                value = bytes(item)
            _check_hash(value, f"state hash #{i}")
            hashes.append(value)
        acc = cls()
        acc._size = size
        acc._hashes = hashes
        return acc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MerkleAccumulator):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MerkleAccumulator(size={self._size}, root={self.root().hex()})"


# --------------------------------------------------------------------------- level store


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
            _check_hash(h, f"leaf hash #{i}")
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
        _check_size(height, "height")
        if height >= len(self._levels):
            return ()
        return tuple(self._levels[height])

    def node(self, height: int, index: int) -> bytes:
        """Hash of the perfect subtree ``D[index * 2**height : (index + 1) * 2**height]``."""
        _check_size(height, "height")
        _check_size(index, "index")
        if height >= len(self._levels) or index >= len(self._levels[height]):
            raise ValueError(f"node ({height}, {index}) is not complete in a tree of {self.size}")
        return self._levels[height][index]

    def leaf_hash(self, index: int) -> bytes:
        """Leaf hash at ``index``."""
        return self.node(0, index)

    def append(self, leaf_hash: bytes) -> None:
        """Append a leaf hash, completing the perfect subtree nodes it closes."""
        _check_hash(leaf_hash, "leaf hash")
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
        _check_size(tree_size, "tree_size")
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
