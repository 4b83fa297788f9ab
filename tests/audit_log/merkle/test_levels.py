"""The in-memory level store: roots and proofs for every historical size, the same as those built
from the list of leaf hashes."""

from __future__ import annotations

import pytest

from audit_log.merkle import (
    MerkleLevels,
    consistency_proof,
    inclusion_proof,
    root_from_leaf_hashes,
)
from tests.audit_log.merkle.support import (
    LEAVES,
    REFERENCE_LEAVES,
    REFERENCE_ROOTS,
)


def test_level_store_matches_reference_roots_for_every_historical_size() -> None:
    levels = MerkleLevels(REFERENCE_LEAVES)
    for size in range(1, 9):
        assert levels.root(size) == REFERENCE_ROOTS[size - 1], size


def test_level_store_append_matches_bulk_construction() -> None:
    grown = MerkleLevels()
    for size in range(1, 130):
        grown.append(LEAVES[size - 1])
        bulk = MerkleLevels(LEAVES[:size])
        assert grown.root() == bulk.root() == root_from_leaf_hashes(LEAVES[:size]), size
        assert grown.level(1) == bulk.level(1)


def test_level_store_subtree_hash_matches_root_of_the_leaf_slice() -> None:
    levels = MerkleLevels(LEAVES[:100])
    for start in range(100):
        for end in range(start, 101):
            width = end - start
            if width and start % (1 << (width - 1).bit_length()):
                continue
            assert levels.subtree_hash(start, end) == root_from_leaf_hashes(LEAVES[start:end])


def test_level_store_inclusion_proofs_match_list_proofs_at_every_historical_size() -> None:
    levels = MerkleLevels(LEAVES[:64])
    for size in range(1, 65):
        for index in range(size):
            assert levels.inclusion_proof(index, size) == inclusion_proof(index, LEAVES[:size])


def test_level_store_consistency_proofs_match_list_proofs() -> None:
    levels = MerkleLevels(LEAVES[:48])
    for new_size in range(1, 49):
        for old_size in range(new_size + 1):
            expected = consistency_proof(old_size, new_size, LEAVES[:48])
            assert levels.consistency_proof(old_size, new_size) == expected


def test_level_store_rejects_a_tree_size_beyond_its_leaves() -> None:
    levels = MerkleLevels(LEAVES[:4])
    with pytest.raises(ValueError, match="exceeds the number of leaves"):
        levels.root(5)
    with pytest.raises(ValueError, match="beyond the tree size"):
        levels.subtree_hash(4, 6)
    with pytest.raises(ValueError, match="not complete"):
        levels.node(1, 2)
