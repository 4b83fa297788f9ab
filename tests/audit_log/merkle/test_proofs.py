"""Inclusion and consistency proofs (RFC 9162 §2.1.3, §2.1.4): the published proofs, the
recursive definitions of ``PATH`` and ``SUBPROOF``, every proof verifying, and any altered
proof, leaf, index, root or size rejected; impossible arguments raise."""

from __future__ import annotations

import pytest

from audit_log.merkle import (
    EMPTY_ROOT,
    MerkleLevels,
    build_consistency_proof,
    build_inclusion_proof,
    consistency_proof,
    consistency_proof_ranges,
    inclusion_proof,
    inclusion_proof_ranges,
    leaf_hash,
    range_nodes,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from tests.audit_log.merkle.support import (
    LEAVES,
    REFERENCE_CONSISTENCY_PROOFS,
    REFERENCE_INCLUSION_PROOFS,
    REFERENCE_LEAVES,
    REFERENCE_ROOTS,
    SOME_HASH,
    accepts_consistency,
    accepts_inclusion,
    flip,
    ref_path,
    ref_subproof,
)


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
            bad[i] = flip(bad[i])
            probes.append((f"modified proof[{i}]", leaf, index, size, bad, root))
        if proof:
            probes.append(("removed component", leaf, index, size, proof[:-1], root))
        if len(proof) > 1:
            inserted = [proof[0], SOME_HASH, *proof[1:]]
            probes.append(("inserted component", leaf, index, size, inserted, root))
        for desc, p_leaf, p_index, p_size, p_proof, p_root in probes:
            assert not accepts_inclusion(p_leaf, p_index, p_size, p_proof, p_root), (
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
            bad[i] = flip(bad[i], bit=4)
            probes.append((f"modified proof[{i}]", m, n, r1, r2, bad))
        for desc, p_m, p_n, p_r1, p_r2, p_proof in probes:
            assert not accepts_consistency(p_m, p_n, p_r1, p_r2, p_proof), (m, n, desc)


def test_single_leaf_tree_has_the_leaf_hash_as_root_and_an_empty_path() -> None:
    leaf = leaf_hash(b"data")
    assert root_from_leaf_hashes([leaf]) == leaf
    assert inclusion_proof(0, [leaf]) == []
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], leaf)
    assert not verify_inclusion(b"", 0, 1, [], b"")


def test_inclusion_proofs_match_the_recursive_rfc_path_for_sizes_1_to_64() -> None:
    for size in range(1, 65):
        tree = LEAVES[:size]
        for index in range(size):
            assert inclusion_proof(index, tree) == ref_path(index, tree), (index, size)


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
            assert not verify_inclusion(flip(LEAVES[index]), index, size, proof, root)
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
            assert not verify_inclusion(LEAVES[index], index, size, proof, flip(root))
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
                assert not accepts_inclusion(LEAVES[index], index, wrong_size, proof, root), (
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
                bad[i] = flip(bad[i])
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


def test_consistency_proofs_match_the_recursive_rfc_proof_for_sizes_up_to_48() -> None:
    for new_size in range(1, 49):
        tree = LEAVES[:new_size]
        for old_size in range(1, new_size + 1):
            expected = ref_subproof(old_size, tree, True)
            assert consistency_proof(old_size, new_size, tree) == expected, (old_size, new_size)


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
            bad_old = flip(levels.root(old_size))
            assert not verify_consistency(old_size, new_size, bad_old, new_root, proof)


def test_consistency_proofs_fail_when_the_new_root_is_altered() -> None:
    levels = MerkleLevels(LEAVES[:48])
    for new_size in range(1, 49):
        bad_new = flip(levels.root(new_size))
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
                bad[i] = flip(bad[i], bit=4)
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


def test_sizes_given_as_bools_are_rejected() -> None:
    with pytest.raises(ValueError, match="must be an int"):
        inclusion_proof_ranges(True, 2)
