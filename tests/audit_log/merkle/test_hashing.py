"""The Merkle Tree Hash (RFC 6962 §2.1): domain-separated leaf and node hashes, the root of a
list of leaf hashes against the reference roots and the recursive definition, and the perfect
subtrees of a tree-aligned range."""

from __future__ import annotations

import hashlib

import pytest

from audit_log.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    MerkleLevels,
    leaf_hash,
    node_hash,
    range_nodes,
    root_from_leaf_hashes,
)
from tests.audit_log.merkle.support import (
    LEAVES,
    REFERENCE_LEAVES,
    REFERENCE_ROOTS,
    ref_mth,
)


def test_empty_root_is_sha256_of_the_empty_string() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert MerkleAccumulator().root() == EMPTY_ROOT
    assert MerkleLevels().root() == EMPTY_ROOT


def test_leaf_hash_prefixes_the_entry_with_a_zero_byte() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert leaf_hash(b"").hex() == REFERENCE_ROOTS[0].hex()


def test_node_hash_prefixes_the_children_with_a_one_byte() -> None:
    left, right = LEAVES[0], LEAVES[1]
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert node_hash(left, right) != node_hash(right, left)


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    left, right = LEAVES[0], LEAVES[1]
    assert leaf_hash(left + right) != node_hash(left, right)


def test_root_from_leaf_hashes_matches_reference_roots_for_sizes_1_to_8() -> None:
    for size in range(1, 9):
        assert root_from_leaf_hashes(REFERENCE_LEAVES[:size]) == REFERENCE_ROOTS[size - 1], size


def test_root_from_leaf_hashes_matches_the_recursive_rfc_definition() -> None:
    for size in range(131):
        assert root_from_leaf_hashes(LEAVES[:size]) == ref_mth(LEAVES[:size]), size


def test_range_nodes_decompose_an_aligned_range_into_perfect_subtrees() -> None:
    assert range_nodes(0, 0) == []
    assert range_nodes(0, 1) == [(0, 0)]
    assert range_nodes(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert range_nodes(8, 13) == [(2, 2), (0, 12)]
    assert range_nodes(16, 32) == [(4, 1)]


def test_range_nodes_reject_a_range_that_is_not_tree_aligned() -> None:
    with pytest.raises(ValueError, match="not tree-aligned"):
        range_nodes(1, 3)
    with pytest.raises(ValueError, match="not tree-aligned"):
        range_nodes(4, 9)


def test_root_from_leaf_hashes_rejects_a_hash_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="leaf hash #1 must be 32 bytes"):
        root_from_leaf_hashes([LEAVES[0], b"short"])
