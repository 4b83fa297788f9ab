"""The append-only Merkle tree of the ingestion hot path: a compact range ``[0, n)`` of O(log n)
hashes keeping the current root (RFC 6962 §2.1), persistable as JSON."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import TypedDict

from audit_log.merkle.hashing import (
    LEAF_PREFIX,
    NODE_PREFIX,
    check_hash,
    check_size,
    fold_subtree_roots,
)

_sha256 = hashlib.sha256


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
        check_hash(leaf_hash, "leaf hash")
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
        check_size(size, "state size")
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
            check_hash(value, f"state hash #{i}")
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
