"""Proofs served by the log check out with an independent verifier written here from RFC 9162
(§2.1.3.2 inclusion, §2.1.4.2 consistency), not with the service's own code; and checkpoints
verify as C2SP signed notes with plain Ed25519."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.audit_log.support import LogUnderTest, entry

pytestmark = pytest.mark.asyncio(loop_scope="session")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rfc_leaf_hash(leaf: bytes) -> bytes:
    return sha256(b"\x00" + leaf)  # RFC 6962 §2.1: MTH({d(0)}) = SHA-256(0x00 || d(0))


def rfc_node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def rfc_verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, path: list[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2, step by step."""
    if leaf_index >= tree_size:
        return False
    fn, sn, r = leaf_index, tree_size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = rfc_node(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = rfc_node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def rfc_verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2, step by step."""
    if first == second:
        return not path and first_hash == second_hash
    if not path:
        return False
    if first & (first - 1) == 0:  # first is an exact power of two
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = rfc_node(c, fr)
            sr = rfc_node(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = rfc_node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_hash and sr == second_hash


def rfc_root(leaf_hashes: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH by its recursive definition."""
    n = len(leaf_hashes)
    if n == 1:
        return leaf_hashes[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return rfc_node(rfc_root(leaf_hashes[:k]), rfc_root(leaf_hashes[k:]))


async def test_every_inclusion_proof_verifies_with_the_rfc_algorithm(log: LogUnderTest) -> None:
    leaves = []
    for start in (0, 5, 6, 17, 32):  # several batches, crossing powers of two
        leaves += await log.append(*(entry(i) for i in range(start, start + 7)))
    hashes = [rfc_leaf_hash(leaf.canonical()) for leaf in leaves]
    async with log.pool.acquire() as conn:
        for tree_size in (1, 2, 7, 8, 16, 33, len(leaves)):
            for index in range(tree_size):
                proof = await log.audit.proofs.inclusion(conn, index, tree_size)
                leaf = base64.b64decode(proof.leaf)
                root = base64.b64decode(proof.root_hash)
                assert root == rfc_root(hashes[:tree_size])
                assert rfc_leaf_hash(leaf) == hashes[index]
                path = [base64.b64decode(h) for h in proof.inclusion_path]
                assert rfc_verify_inclusion(index, tree_size, rfc_leaf_hash(leaf), path, root)
                if path:
                    forged = [bytes(32), *path[1:]]
                    assert not rfc_verify_inclusion(
                        index, tree_size, rfc_leaf_hash(leaf), forged, root
                    )


async def test_consistency_proofs_between_checkpoints_verify_with_the_rfc_algorithm(
    log: LogUnderTest,
) -> None:
    sizes = []
    async with log.pool.acquire() as conn:
        for batch in (1, 2, 3, 5, 8, 13):
            await log.append(*(entry(i) for i in range(batch)))
            checkpoint = await log.audit.checkpoints.issue(conn)
            assert checkpoint is not None
            sizes.append((checkpoint.tree_size, checkpoint.root_hash))
        for first, first_root in sizes:
            for second, second_root in sizes:
                if first > second:
                    continue
                proof = await log.audit.proofs.consistency(conn, first, second)
                assert base64.b64decode(proof.first_root) == first_root
                assert base64.b64decode(proof.second_root) == second_root
                path = [base64.b64decode(h) for h in proof.consistency_path]
                assert rfc_verify_consistency(first, second, first_root, second_root, path)
                if first != second:
                    assert not rfc_verify_consistency(first, second, first_root, bytes(32), path)


async def test_a_checkpoint_is_a_c2sp_note_verifiable_with_plain_ed25519(
    log: LogUnderTest,
) -> None:
    await log.append(*(entry(i) for i in range(3)))
    async with log.pool.acquire() as conn:
        checkpoint = await log.audit.checkpoints.issue(conn)
    assert checkpoint is not None
    name, key_hash_hex, key_b64 = checkpoint.verifier_key.split("+", 2)
    raw_key = base64.b64decode(key_b64)
    assert raw_key[0] == 1  # c2sp.org/signed-note: algorithm byte 0x01 is Ed25519
    assert sha256(name.encode() + b"\n" + raw_key)[:4].hex() == key_hash_hex
    body, signatures = checkpoint.note.split("\n\n", 1)
    origin, size, root, extension = body.split("\n")
    assert (origin, int(size)) == ("test/log", 3)
    assert base64.b64decode(root) == checkpoint.root_hash
    assert extension.startswith("issued-at ")
    line = signatures.rstrip("\n")
    assert line.startswith(f"\u2014 {name} ")
    signature = base64.b64decode(line.rsplit(" ", 1)[1])
    assert signature[:4].hex() == key_hash_hex
    Ed25519PublicKey.from_public_bytes(raw_key[1:]).verify(signature[4:], (body + "\n").encode())


async def test_the_leaf_commits_to_ciphertext_not_to_personal_data(log: LogUnderTest) -> None:
    (leaf,) = await log.append(entry(1, data={"user_id": "u-1", "email": "lea@example.org"}))
    document = json.loads(leaf.canonical())
    assert "lea@example.org" not in leaf.canonical().decode()
    assert document["index"] == leaf.index
    assert base64.b64decode(document["data_ct"]) == leaf.data_ct
