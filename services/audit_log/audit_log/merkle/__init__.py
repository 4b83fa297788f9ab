"""Merkle tree primitives for the audit log: the algorithms of RFC 6962 / RFC 9162 (SHA-256),
dependency-free, as used by Certificate Transparency.

* :mod:`~audit_log.merkle.hashing`: the Merkle Tree Hash ``MTH`` (RFC 6962 §2.1, RFC 9162
  §2.1.1) with domain-separated leaf (``0x00``) and node (``0x01``) hashes, and the perfect
  subtrees a tree-aligned range decomposes into;
* :mod:`~audit_log.merkle.proofs`: inclusion (RFC 9162 §2.1.3.1) and consistency (RFC 9162
  §2.1.4.1) proofs, from any source of subtree hashes;
* :mod:`~audit_log.merkle.verification`: their verifiers (RFC 9162 §2.1.3.2, §2.1.4.2);
* :mod:`~audit_log.merkle.accumulator`: :class:`MerkleAccumulator`, an O(log n) "compact range"
  keeping the current root on the ingestion hot path, persistable with ``to_state`` /
  ``from_state``;
* :mod:`~audit_log.merkle.levels`: :class:`MerkleLevels`, an in-memory per-level node store
  answering historical roots and proofs in O(log n) hashes each.

Error convention: arguments that cannot describe any valid tree, proof or range (negative
sizes, ``index >= tree_size``, ``old_size > new_size``, hashes that are not 32 bytes where a
hash is constructed or stored) raise :class:`ValueError`. A well-formed request whose proof
simply does not check out makes the ``verify_*`` functions return ``False``; they never raise
for bad *proof content*.
"""

from audit_log.merkle.accumulator import AccumulatorState, MerkleAccumulator
from audit_log.merkle.hashing import (
    EMPTY_ROOT,
    HASH_SIZE,
    LEAF_PREFIX,
    NODE_PREFIX,
    fold_subtree_roots,
    leaf_hash,
    node_hash,
    range_nodes,
    root_from_leaf_hashes,
)
from audit_log.merkle.levels import MerkleLevels
from audit_log.merkle.proofs import (
    SubtreeHashFn,
    build_consistency_proof,
    build_inclusion_proof,
    consistency_proof,
    consistency_proof_ranges,
    inclusion_proof,
    inclusion_proof_ranges,
)
from audit_log.merkle.verification import (
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

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
