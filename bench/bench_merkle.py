"""Throughput figures for the audit-log Merkle tree (RFC 6962 / RFC 9162, pure Python).

Run with ``.venv/bin/python bench/bench_merkle.py``; takes well under a minute.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import TypeVar

from _stack import print_table

from audit_log.merkle import (
    MerkleAccumulator,
    MerkleLevels,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

T = TypeVar("T")

ACCUMULATOR_LEAVES = 1_000_000
ENTRY_SIZE = 200
PROOF_TREE_SIZE = 100_000
PROOF_SAMPLES = 20_000
LIST_PROOF_SAMPLES = 20


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def bench_accumulator() -> tuple[float, float]:
    """Append 1,000,000 entries of 200 bytes (leaf hashing included)."""
    # A pool of distinct random entries, cycled, so that entry creation is not measured.
    pool = [os.urandom(ENTRY_SIZE) for _ in range(4096)]
    acc = MerkleAccumulator()
    append_entry = acc.append_entry

    def run() -> bytes:
        for i in range(ACCUMULATOR_LEAVES):
            append_entry(pool[i & 4095])
        return acc.root()

    _, elapsed = _timed(run)
    roots, root_elapsed = _timed(lambda: [acc.root() for _ in range(100_000)])
    assert len(roots) == 100_000
    return ACCUMULATOR_LEAVES / elapsed, 100_000 / root_elapsed


def main() -> None:
    rows: list[tuple[str, str, str]] = []

    append_rate, root_rate = bench_accumulator()
    rows.append(
        (
            f"accumulator append_entry ({ACCUMULATOR_LEAVES:,} x {ENTRY_SIZE} B)",
            f"{append_rate:,.0f}",
            "leaves/s",
        )
    )
    rows.append(("accumulator root() at 1,000,000 leaves", f"{root_rate:,.0f}", "roots/s"))

    rng = random.Random(6962)
    leaves = [leaf_hash(rng.randbytes(ENTRY_SIZE)) for _ in range(PROOF_TREE_SIZE)]

    root, elapsed = _timed(lambda: root_from_leaf_hashes(leaves))
    rows.append(
        (f"root_from_leaf_hashes ({PROOF_TREE_SIZE:,} leaves)", f"{elapsed * 1000:,.1f}", "ms")
    )

    levels, elapsed = _timed(lambda: MerkleLevels(leaves))
    rows.append(
        (f"MerkleLevels build ({PROOF_TREE_SIZE:,} leaves)", f"{elapsed * 1000:,.1f}", "ms")
    )
    assert levels.root() == root

    indices = [rng.randrange(PROOF_TREE_SIZE) for _ in range(PROOF_SAMPLES)]
    proofs, elapsed = _timed(lambda: [levels.inclusion_proof(i) for i in indices])
    rows.append(
        (
            f"inclusion proofs generated ({PROOF_TREE_SIZE:,}-leaf MerkleLevels)",
            f"{PROOF_SAMPLES / elapsed:,.0f}",
            "proofs/s",
        )
    )

    def verify_all() -> bool:
        size = PROOF_TREE_SIZE
        return all(
            verify_inclusion(leaves[i], i, size, p, root)
            for i, p in zip(indices, proofs, strict=True)
        )

    ok, elapsed = _timed(verify_all)
    assert ok
    rows.append(
        (
            f"inclusion proofs verified ({PROOF_TREE_SIZE:,}-leaf tree)",
            f"{PROOF_SAMPLES / elapsed:,.0f}",
            "proofs/s",
        )
    )

    few = indices[:LIST_PROOF_SAMPLES]
    _, elapsed = _timed(lambda: [inclusion_proof(i, leaves) for i in few])
    rows.append(
        (
            f"inclusion proofs from the leaf list (no levels, {PROOF_TREE_SIZE:,})",
            f"{LIST_PROOF_SAMPLES / elapsed:,.1f}",
            "proofs/s",
        )
    )

    pairs = [tuple(sorted(rng.sample(range(1, PROOF_TREE_SIZE + 1), 2))) for _ in range(5_000)]
    old_roots = {m: levels.root(m) for m, _ in pairs}
    new_roots = {n: levels.root(n) for _, n in pairs}
    cproofs, elapsed = _timed(lambda: [levels.consistency_proof(m, n) for m, n in pairs])
    rows.append(
        (
            "consistency proofs generated (MerkleLevels)",
            f"{len(pairs) / elapsed:,.0f}",
            "proofs/s",
        )
    )
    ok, elapsed = _timed(
        lambda: all(
            verify_consistency(m, n, old_roots[m], new_roots[n], p)
            for (m, n), p in zip(pairs, cproofs, strict=True)
        )
    )
    assert ok
    rows.append(("consistency proofs verified", f"{len(pairs) / elapsed:,.0f}", "proofs/s"))

    print_table(
        "Audit log Merkle tree (RFC 6962, pure Python; no peer measured)",
        [(name, float(value.replace(",", "")), None, unit) for name, value, unit in rows],
    )


if __name__ == "__main__":
    main()
