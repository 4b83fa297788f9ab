"""Tests for the RFC 6962 / RFC 9162 Merkle tree algorithms.

Known-answer vectors are the Certificate Transparency reference vectors, as published
in transparency-dev/merkle ``proof/verify_test.go`` (originally from
google/certificate-transparency ``cpp/merkletree/merkle_tree_test.cc``). In those
sources inclusion-proof leaf numbers are 1-based; they are converted to 0-based
indices below.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import pytest

from audit_log.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    AccumulatorState,
    MerkleAccumulator,
    MerkleLevels,
    build_consistency_proof,
    build_inclusion_proof,
    consistency_proof,
    consistency_proof_ranges,
    inclusion_proof,
    inclusion_proof_ranges,
    leaf_hash,
    node_hash,
    range_nodes,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# --------------------------------------------------------------------------- vectors

REFERENCE_ENTRIES: list[bytes] = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
REFERENCE_LEAVES: list[bytes] = [leaf_hash(e) for e in REFERENCE_ENTRIES]

# Root of the tree made of the first ``i + 1`` reference entries.
REFERENCE_ROOTS: list[bytes] = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]


def _h(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(x) for x in hexes]


# (0-based leaf index, tree size, audit path)
REFERENCE_INCLUSION_PROOFS: list[tuple[int, int, list[bytes]]] = [
    (0, 1, []),
    (
        0,
        8,
        _h(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        _h(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        3,
        _h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    ),
    (
        1,
        5,
        _h(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]

# (old size, new size, consistency proof)
REFERENCE_CONSISTENCY_PROOFS: list[tuple[int, int, list[bytes]]] = [
    (1, 1, []),
    (
        1,
        8,
        _h(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _h(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _h(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        _h(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")

# Distinct synthetic leaves for the exhaustive checks.
LEAVES: list[bytes] = [leaf_hash(f"audit-entry-{i}".encode()) for i in range(300)]


# --------------------------------------------------------------------------- reference
# A literal, recursive transcription of RFC 6962 §2.1, §2.1.1 and §2.1.2, used as an
# oracle for the iterative implementation.


def _ref_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _ref_mth(d: Sequence[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return d[0]
    k = _ref_split(n)
    return hashlib.sha256(b"\x01" + _ref_mth(d[:k]) + _ref_mth(d[k:])).digest()


def _ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _ref_split(n)
    if m < k:
        return [*_ref_path(m, d[:k]), _ref_mth(d[k:])]
    return [*_ref_path(m - k, d[k:]), _ref_mth(d[:k])]


def _ref_subproof(m: int, d: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if whole else [_ref_mth(d)]
    k = _ref_split(n)
    if m <= k:
        return [*_ref_subproof(m, d[:k], whole), _ref_mth(d[k:])]
    return [*_ref_subproof(m - k, d[k:], False), _ref_mth(d[:k])]


def _flip(value: bytes, bit: int = 3) -> bytes:
    return bytes([value[0] ^ (1 << bit)]) + value[1:]


def _accepts_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Verification outcome, counting a ValueError (impossible arguments) as a rejection."""
    try:
        return verify_inclusion(leaf, index, size, proof, root)
    except ValueError:
        return False


def _accepts_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    try:
        return verify_consistency(old_size, new_size, old_root, new_root, proof)
    except ValueError:
        return False


# --------------------------------------------------------------------------- hashing


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


# --------------------------------------------------------------------------- known answers


def test_root_from_leaf_hashes_matches_reference_roots_for_sizes_1_to_8() -> None:
    for size in range(1, 9):
        assert root_from_leaf_hashes(REFERENCE_LEAVES[:size]) == REFERENCE_ROOTS[size - 1], size


def test_accumulator_matches_reference_roots_after_each_append() -> None:
    acc = MerkleAccumulator()
    for size, entry in enumerate(REFERENCE_ENTRIES, start=1):
        acc.append_entry(entry)
        assert acc.size == size
        assert acc.root() == REFERENCE_ROOTS[size - 1], size


def test_level_store_matches_reference_roots_for_every_historical_size() -> None:
    levels = MerkleLevels(REFERENCE_LEAVES)
    for size in range(1, 9):
        assert levels.root(size) == REFERENCE_ROOTS[size - 1], size


def test_inclusion_proofs_match_published_vectors() -> None:
    for index, size, expected in REFERENCE_INCLUSION_PROOFS:
        assert inclusion_proof(index, REFERENCE_LEAVES[:size]) == expected, (index, size)
        assert MerkleLevels(REFERENCE_LEAVES).inclusion_proof(index, size) == expected


def test_published_inclusion_proofs_verify_against_reference_roots() -> None:
    for index, size, proof in REFERENCE_INCLUSION_PROOFS:
        root = REFERENCE_ROOTS[size - 1]
        leaf = REFERENCE_LEAVES[index]
        assert root_from_inclusion_proof(leaf, index, size, proof) == root
        assert verify_inclusion(leaf, index, size, proof, root), (index, size)


def test_published_inclusion_proofs_reject_the_reference_corruptions() -> None:
    # The probes of transparency-dev/merkle ``corruptInclusionProof``.
    for index, size, proof in REFERENCE_INCLUSION_PROOFS:
        root = REFERENCE_ROOTS[size - 1]
        leaf = REFERENCE_LEAVES[index]
        probes: list[tuple[str, bytes, int, int, list[bytes], bytes]] = [
            ("index - 1", leaf, index - 1, size, proof, root),
            ("index + 1", leaf, index + 1, size, proof, root),
            ("index ^ 2", leaf, index ^ 2, size, proof, root),
            ("size * 2", leaf, index, size * 2, proof, root),
            ("size // 2", leaf, index, size // 2, proof, root),
            ("wrong leaf", b"WrongLeaf", index, size, proof, root),
            ("empty root", leaf, index, size, proof, EMPTY_ROOT),
            ("random root", leaf, index, size, proof, SOME_HASH),
            ("trailing garbage", leaf, index, size, [*proof, b""], root),
            ("trailing root", leaf, index, size, [*proof, root], root),
            ("preceding garbage", leaf, index, size, [b"", *proof], root),
            ("preceding root", leaf, index, size, [root, *proof], root),
        ]
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = _flip(bad[i])
            probes.append((f"modified proof[{i}]", leaf, index, size, bad, root))
        if proof:
            probes.append(("removed component", leaf, index, size, proof[:-1], root))
        if len(proof) > 1:
            inserted = [proof[0], SOME_HASH, *proof[1:]]
            probes.append(("inserted component", leaf, index, size, inserted, root))
        for desc, p_leaf, p_index, p_size, p_proof, p_root in probes:
            assert not _accepts_inclusion(p_leaf, p_index, p_size, p_proof, p_root), (
                index,
                size,
                desc,
            )


def test_consistency_proofs_match_published_vectors() -> None:
    for old_size, new_size, expected in REFERENCE_CONSISTENCY_PROOFS:
        got = consistency_proof(old_size, new_size, REFERENCE_LEAVES)
        assert got == expected, (old_size, new_size)
        assert MerkleLevels(REFERENCE_LEAVES).consistency_proof(old_size, new_size) == expected


def test_published_consistency_proofs_verify_against_reference_roots() -> None:
    for old_size, new_size, proof in REFERENCE_CONSISTENCY_PROOFS:
        old_root = REFERENCE_ROOTS[old_size - 1]
        new_root = REFERENCE_ROOTS[new_size - 1]
        assert verify_consistency(old_size, new_size, old_root, new_root, proof), (
            old_size,
            new_size,
        )


def test_published_consistency_proofs_reject_the_reference_corruptions() -> None:
    # The probes of transparency-dev/merkle ``corruptConsistencyProof``.
    for m, n, proof in REFERENCE_CONSISTENCY_PROOFS:
        if not proof:
            continue
        r1 = REFERENCE_ROOTS[m - 1]
        r2 = REFERENCE_ROOTS[n - 1]
        probes: list[tuple[str, int, int, bytes, bytes, list[bytes]]] = [
            ("size1 - 1", m - 1, n, r1, r2, proof),
            ("size1 + 1", m + 1, n, r1, r2, proof),
            ("size1 ^ 2", m ^ 2, n, r1, r2, proof),
            ("size2 * 2", m, n * 2, r1, r2, proof),
            ("size2 // 2", m, n // 2, r1, r2, proof),
            ("wrong root1", m, n, b"WrongRoot", r2, proof),
            ("wrong root2", m, n, r1, b"WrongRoot", proof),
            ("swapped roots", m, n, r2, r1, proof),
            ("empty proof", m, n, r1, r2, []),
            ("trailing garbage", m, n, r1, r2, [*proof, b""]),
            ("trailing root1", m, n, r1, r2, [*proof, r1]),
            ("trailing root2", m, n, r1, r2, [*proof, r2]),
            ("preceding garbage", m, n, r1, r2, [b"", *proof]),
            ("preceding root1", m, n, r1, r2, [r1, *proof]),
            ("preceding root2", m, n, r1, r2, [r2, *proof]),
            ("preceding proof[0]", m, n, r1, r2, [proof[0], *proof]),
            ("truncated proof", m, n, r1, r2, proof[:-1]),
        ]
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = _flip(bad[i], bit=4)
            probes.append((f"modified proof[{i}]", m, n, r1, r2, bad))
        for desc, p_m, p_n, p_r1, p_r2, p_proof in probes:
            assert not _accepts_consistency(p_m, p_n, p_r1, p_r2, p_proof), (m, n, desc)


def test_single_leaf_tree_has_the_leaf_hash_as_root_and_an_empty_path() -> None:
    leaf = leaf_hash(b"data")
    assert root_from_leaf_hashes([leaf]) == leaf
    assert inclusion_proof(0, [leaf]) == []
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], leaf)
    assert not verify_inclusion(b"", 0, 1, [], b"")


# --------------------------------------------------------------------------- tree hash


def test_root_from_leaf_hashes_matches_the_recursive_rfc_definition() -> None:
    for size in range(131):
        assert root_from_leaf_hashes(LEAVES[:size]) == _ref_mth(LEAVES[:size]), size


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


# --------------------------------------------------------------------------- inclusion


def test_inclusion_proofs_match_the_recursive_rfc_path_for_sizes_1_to_64() -> None:
    for size in range(1, 65):
        tree = LEAVES[:size]
        for index in range(size):
            assert inclusion_proof(index, tree) == _ref_path(index, tree), (index, size)


def test_level_store_inclusion_proofs_match_list_proofs_at_every_historical_size() -> None:
    levels = MerkleLevels(LEAVES[:64])
    for size in range(1, 65):
        for index in range(size):
            assert levels.inclusion_proof(index, size) == inclusion_proof(index, LEAVES[:size])


def test_every_inclusion_proof_verifies_for_sizes_1_to_64() -> None:
    levels = MerkleLevels(LEAVES[:64])
    for size in range(1, 65):
        root = levels.root(size)
        for index in range(size):
            proof = levels.inclusion_proof(index, size)
            assert verify_inclusion(LEAVES[index], index, size, proof, root), (index, size)


def test_inclusion_proofs_fail_when_the_leaf_is_altered() -> None:
    levels = MerkleLevels(LEAVES[:64])
    for size in range(1, 65):
        root = levels.root(size)
        for index in range(size):
            proof = levels.inclusion_proof(index, size)
            assert not verify_inclusion(_flip(LEAVES[index]), index, size, proof, root)
            other = LEAVES[(index + 1) % 64]
            assert not verify_inclusion(other, index, size, proof, root), (index, size)


def test_inclusion_proofs_fail_when_the_index_is_altered() -> None:
    levels = MerkleLevels(LEAVES[:64])
    for size in range(1, 65):
        root = levels.root(size)
        for index in range(size):
            proof = levels.inclusion_proof(index, size)
            for wrong in range(size):
                if wrong != index:
                    assert not verify_inclusion(LEAVES[index], wrong, size, proof, root), (
                        index,
                        wrong,
                        size,
                    )


def test_inclusion_proofs_fail_when_the_root_is_altered() -> None:
    levels = MerkleLevels(LEAVES[:64])
    for size in range(1, 65):
        root = levels.root(size)
        for index in range(size):
            proof = levels.inclusion_proof(index, size)
            assert not verify_inclusion(LEAVES[index], index, size, proof, _flip(root))
            if size > 1:
                other_root = levels.root(size - 1)
                assert not verify_inclusion(LEAVES[index], index, size, proof, other_root)


def test_inclusion_proofs_fail_when_the_tree_height_is_altered() -> None:
    # RFC 9162 binds the tree size only through the shape of the path (e.g. leaf 0 has
    # the same path shape in trees of 3 and 4 leaves); the signed tree head binds the
    # size to the root. Changing the height, as the reference probes do, must fail.
    levels = MerkleLevels(LEAVES[:64])
    for size in range(1, 65):
        root = levels.root(size)
        for index in range(size):
            proof = levels.inclusion_proof(index, size)
            for wrong_size in (size * 2, size // 2):
                assert not _accepts_inclusion(LEAVES[index], index, wrong_size, proof, root), (
                    index,
                    size,
                    wrong_size,
                )


def test_inclusion_proofs_fail_when_a_proof_element_is_altered() -> None:
    levels = MerkleLevels(LEAVES[:64])
    for size in range(2, 65):
        root = levels.root(size)
        for index in range(size):
            proof = levels.inclusion_proof(index, size)
            for i in range(len(proof)):
                bad = list(proof)
                bad[i] = _flip(bad[i])
                assert not verify_inclusion(LEAVES[index], index, size, bad, root)
            assert not verify_inclusion(LEAVES[index], index, size, proof[:-1], root)
            assert not verify_inclusion(LEAVES[index], index, size, [*proof, root], root)


def test_inclusion_proof_from_a_subtree_callable_only_asks_for_aligned_ranges() -> None:
    calls: list[tuple[int, int]] = []

    def subtree_hash(start: int, end: int) -> bytes:
        range_nodes(start, end)  # raises if the range could not come from stored nodes
        calls.append((start, end))
        return root_from_leaf_hashes(LEAVES[start:end])

    for size in range(1, 80):
        for index in range(size):
            calls.clear()
            proof = build_inclusion_proof(index, size, subtree_hash)
            assert proof == inclusion_proof(index, LEAVES[:size])
            assert calls == inclusion_proof_ranges(index, size)


# --------------------------------------------------------------------------- consistency


def test_consistency_proofs_match_the_recursive_rfc_proof_for_sizes_up_to_48() -> None:
    for new_size in range(1, 49):
        tree = LEAVES[:new_size]
        for old_size in range(1, new_size + 1):
            expected = _ref_subproof(old_size, tree, True)
            assert consistency_proof(old_size, new_size, tree) == expected, (old_size, new_size)


def test_level_store_consistency_proofs_match_list_proofs() -> None:
    levels = MerkleLevels(LEAVES[:48])
    for new_size in range(1, 49):
        for old_size in range(new_size + 1):
            expected = consistency_proof(old_size, new_size, LEAVES[:48])
            assert levels.consistency_proof(old_size, new_size) == expected


def test_every_consistency_proof_verifies_for_sizes_up_to_48() -> None:
    levels = MerkleLevels(LEAVES[:48])
    for new_size in range(1, 49):
        new_root = levels.root(new_size)
        for old_size in range(1, new_size + 1):
            proof = levels.consistency_proof(old_size, new_size)
            old_root = levels.root(old_size)
            assert verify_consistency(old_size, new_size, old_root, new_root, proof), (
                old_size,
                new_size,
            )


def test_consistency_proofs_fail_when_the_old_root_is_altered() -> None:
    levels = MerkleLevels(LEAVES[:48])
    for new_size in range(1, 49):
        new_root = levels.root(new_size)
        for old_size in range(1, new_size + 1):
            proof = levels.consistency_proof(old_size, new_size)
            bad_old = _flip(levels.root(old_size))
            assert not verify_consistency(old_size, new_size, bad_old, new_root, proof)


def test_consistency_proofs_fail_when_the_new_root_is_altered() -> None:
    levels = MerkleLevels(LEAVES[:48])
    for new_size in range(1, 49):
        bad_new = _flip(levels.root(new_size))
        for old_size in range(1, new_size + 1):
            proof = levels.consistency_proof(old_size, new_size)
            old_root = levels.root(old_size)
            assert not verify_consistency(old_size, new_size, old_root, bad_new, proof)


def test_consistency_proofs_fail_against_a_forked_tree() -> None:
    forked = [*LEAVES[:48]]
    forked[10] = leaf_hash(b"rewritten history")
    honest = MerkleLevels(LEAVES[:48])
    fork = MerkleLevels(forked)
    for new_size in range(12, 49):
        for old_size in range(11, new_size):
            proof = fork.consistency_proof(old_size, new_size)
            assert not verify_consistency(
                old_size, new_size, honest.root(old_size), fork.root(new_size), proof
            )


def test_consistency_proofs_fail_when_a_proof_element_is_altered() -> None:
    levels = MerkleLevels(LEAVES[:48])
    for new_size in range(2, 49):
        new_root = levels.root(new_size)
        for old_size in range(1, new_size):
            old_root = levels.root(old_size)
            proof = levels.consistency_proof(old_size, new_size)
            for i in range(len(proof)):
                bad = list(proof)
                bad[i] = _flip(bad[i], bit=4)
                assert not verify_consistency(old_size, new_size, old_root, new_root, bad)
            assert not verify_consistency(old_size, new_size, old_root, new_root, proof[:-1])


def test_consistency_proof_from_a_subtree_callable_only_asks_for_aligned_ranges() -> None:
    calls: list[tuple[int, int]] = []

    def subtree_hash(start: int, end: int) -> bytes:
        range_nodes(start, end)
        calls.append((start, end))
        return root_from_leaf_hashes(LEAVES[start:end])

    for new_size in range(1, 70):
        for old_size in range(new_size + 1):
            calls.clear()
            proof = build_consistency_proof(old_size, new_size, subtree_hash)
            assert proof == consistency_proof(old_size, new_size, LEAVES)
            assert calls == consistency_proof_ranges(old_size, new_size)


def test_equal_sizes_are_consistent_only_with_equal_roots_and_an_empty_proof() -> None:
    root = root_from_leaf_hashes(LEAVES[:5])
    assert consistency_proof(5, 5, LEAVES[:5]) == []
    assert verify_consistency(5, 5, root, root, [])
    assert not verify_consistency(5, 5, root, SOME_HASH, [])
    assert not verify_consistency(5, 5, root, root, [EMPTY_ROOT])


def test_every_tree_is_consistent_with_the_empty_tree() -> None:
    root = root_from_leaf_hashes(LEAVES[:5])
    assert consistency_proof(0, 5, LEAVES[:5]) == []
    assert verify_consistency(0, 5, EMPTY_ROOT, root, [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 5, SOME_HASH, root, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, root, [EMPTY_ROOT])
    assert not verify_consistency(0, 0, SOME_HASH, SOME_HASH, [])


# --------------------------------------------------------------------------- state


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


# --------------------------------------------------------------------------- bad arguments


def test_inclusion_proof_for_an_index_beyond_the_tree_raises() -> None:
    with pytest.raises(ValueError, match="out of range"):
        inclusion_proof(5, LEAVES[:5])


def test_inclusion_proof_for_a_negative_index_raises() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        inclusion_proof(-1, LEAVES[:5])


def test_inclusion_proof_in_an_empty_tree_raises() -> None:
    with pytest.raises(ValueError, match="out of range"):
        inclusion_proof(0, [])


def test_consistency_proof_with_old_size_above_new_size_raises() -> None:
    with pytest.raises(ValueError, match="larger than new_size"):
        consistency_proof(6, 5, LEAVES[:8])


def test_consistency_proof_beyond_the_available_leaves_raises() -> None:
    with pytest.raises(ValueError, match="exceeds the number of leaf hashes"):
        consistency_proof(2, 9, LEAVES[:8])


def test_consistency_proof_with_a_negative_old_size_raises() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        consistency_proof(-1, 5, LEAVES[:8])


def test_verify_inclusion_with_an_index_beyond_the_tree_raises() -> None:
    with pytest.raises(ValueError, match="out of range"):
        verify_inclusion(LEAVES[0], 3, 3, [], EMPTY_ROOT)


def test_verify_inclusion_in_an_empty_tree_raises() -> None:
    with pytest.raises(ValueError, match="out of range"):
        verify_inclusion(LEAVES[0], 0, 0, [], EMPTY_ROOT)


def test_verify_consistency_with_old_size_above_new_size_raises() -> None:
    with pytest.raises(ValueError, match="larger than new_size"):
        verify_consistency(2, 1, EMPTY_ROOT, EMPTY_ROOT, [])


def test_verify_consistency_with_a_negative_size_raises() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        verify_consistency(-1, 1, EMPTY_ROOT, EMPTY_ROOT, [])


def test_root_from_leaf_hashes_rejects_a_hash_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="leaf hash #1 must be 32 bytes"):
        root_from_leaf_hashes([LEAVES[0], b"short"])


def test_accumulator_rejects_a_leaf_hash_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        MerkleAccumulator().append(b"raw entry, not a hash")


def test_level_store_rejects_a_tree_size_beyond_its_leaves() -> None:
    levels = MerkleLevels(LEAVES[:4])
    with pytest.raises(ValueError, match="exceeds the number of leaves"):
        levels.root(5)
    with pytest.raises(ValueError, match="beyond the tree size"):
        levels.subtree_hash(4, 6)
    with pytest.raises(ValueError, match="not complete"):
        levels.node(1, 2)


def test_sizes_given_as_bools_are_rejected() -> None:
    with pytest.raises(ValueError, match="must be an int"):
        inclusion_proof_ranges(True, 2)
