"""The compact-range accumulator of the ingestion path: its root after each append is the tree's
(reference roots, every size to 300), and its JSON state resumes the same tree or is refused."""

from __future__ import annotations

import json

import pytest

from audit_log.merkle import (
    HASH_SIZE,
    AccumulatorState,
    MerkleAccumulator,
    leaf_hash,
    root_from_leaf_hashes,
)
from tests.audit_log.merkle.support import (
    LEAVES,
    REFERENCE_ENTRIES,
    REFERENCE_ROOTS,
)


def test_accumulator_matches_reference_roots_after_each_append() -> None:
    acc = MerkleAccumulator()
    for size, entry in enumerate(REFERENCE_ENTRIES, start=1):
        acc.append_entry(entry)
        assert acc.size == size
        assert acc.root() == REFERENCE_ROOTS[size - 1], size


def test_accumulator_root_equals_root_from_leaf_hashes_for_sizes_0_to_300() -> None:
    acc = MerkleAccumulator()
    assert acc.root() == root_from_leaf_hashes([])
    for size in range(1, 301):
        acc.append(LEAVES[(size - 1) % len(LEAVES)])
        expected = root_from_leaf_hashes([LEAVES[i % len(LEAVES)] for i in range(size)])
        assert acc.root() == expected, size


def test_accumulator_keeps_one_subtree_per_set_bit_of_the_size() -> None:
    acc = MerkleAccumulator()
    for size in range(1, 200):
        acc.append(LEAVES[size])
        assert len(acc.frontier) == size.bit_count()


def test_accumulator_append_entry_returns_the_leaf_hash() -> None:
    acc = MerkleAccumulator()
    assert acc.append_entry(b"hello") == leaf_hash(b"hello")
    other = MerkleAccumulator.from_leaf_hashes([leaf_hash(b"hello")])
    assert acc == other
    assert acc.root() == leaf_hash(b"hello")


def test_accumulator_copy_is_independent() -> None:
    acc = MerkleAccumulator.from_leaf_hashes(LEAVES[:5])
    snapshot = acc.copy()
    acc.append(LEAVES[5])
    assert snapshot.size == 5
    assert snapshot.root() == root_from_leaf_hashes(LEAVES[:5])
    assert acc.root() == root_from_leaf_hashes(LEAVES[:6])


def test_accumulator_state_round_trip_through_json_resumes_correctly() -> None:
    acc = MerkleAccumulator.from_leaf_hashes(LEAVES[:37])
    persisted = json.dumps(acc.to_state())
    resumed = MerkleAccumulator.from_state(json.loads(persisted))
    assert resumed == acc
    assert resumed.size == 37
    assert resumed.root() == root_from_leaf_hashes(LEAVES[:37])
    for size in range(38, 300):
        resumed.append(LEAVES[size - 1])
        assert resumed.root() == root_from_leaf_hashes(LEAVES[:size]), size


def test_accumulator_state_of_every_size_resumes_to_the_same_root() -> None:
    acc = MerkleAccumulator()
    for size in range(0, 130):
        resumed = MerkleAccumulator.from_state(acc.to_state())
        resumed.append(LEAVES[size])
        acc.append(LEAVES[size])
        assert resumed == acc
        assert resumed.root() == acc.root()


def test_accumulator_state_accepts_raw_bytes_hashes() -> None:
    acc = MerkleAccumulator.from_leaf_hashes(LEAVES[:11])
    raw_state = {"size": 11, "hashes": list(acc.frontier)}
    assert MerkleAccumulator.from_state(raw_state) == acc  # type: ignore[arg-type]


def test_accumulator_state_with_the_wrong_number_of_hashes_is_rejected() -> None:
    state: AccumulatorState = MerkleAccumulator.from_leaf_hashes(LEAVES[:11]).to_state()
    state["size"] = 12  # 0b1100 needs 2 subtree hashes, the state holds 3
    with pytest.raises(ValueError, match="must hold 2 subtree hashes"):
        MerkleAccumulator.from_state(state)


def test_accumulator_state_with_invalid_hex_is_rejected() -> None:
    with pytest.raises(ValueError, match="not valid hex"):
        MerkleAccumulator.from_state({"size": 1, "hashes": ["zz" * HASH_SIZE]})


def test_accumulator_state_with_a_short_hash_is_rejected() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        MerkleAccumulator.from_state({"size": 1, "hashes": ["ab" * 31]})


def test_accumulator_state_with_a_negative_size_is_rejected() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        MerkleAccumulator.from_state({"size": -1, "hashes": []})


def test_accumulator_rejects_a_leaf_hash_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        MerkleAccumulator().append(b"raw entry, not a hash")
