"""The c2sp.org/tlog-proof text: written exactly as the spec lays it out, read back the same,
refused when a line is not what the format allows, and checked offline (signature by the
pinned key, audit path from the record's hash to the signed root)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit_log.checkpoints.note import Checkpoint, sign, verifier_key
from audit_log.merkle import inclusion_proof, leaf_hash, root_from_leaf_hashes
from audit_log.offline_proofs.format import HEADER, BadProof, TlogProof, check, parse

ORIGIN = "test/log"
RECORDS = [f'{{"index":{i},"type":"t"}}'.encode() for i in range(7)]


def signed_proof(index: int) -> tuple[TlogProof, str]:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    hashes = [leaf_hash(r) for r in RECORDS]
    issued = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    head = Checkpoint(ORIGIN, len(RECORDS), root_from_leaf_hashes(hashes), issued)
    note = sign(head, ORIGIN, private)
    proof = TlogProof(index, tuple(inclusion_proof(index, hashes)), note, extra=RECORDS[index])
    return proof, verifier_key(ORIGIN, public)


def test_the_text_is_the_specs_layout_line_for_line() -> None:
    proof, _ = signed_proof(5)
    lines = proof.encode().split("\n")
    assert lines[0] == HEADER == "c2sp.org/tlog-proof@v1"
    assert lines[1] == "extra " + base64.b64encode(RECORDS[5]).decode()
    assert lines[2] == "index 5"
    # 7 leaves: leaf 5's path is its sibling 4, then MTH(6..7) = leaf 6, then MTH(0..4).
    path = lines[3:6]
    assert [base64.b64decode(h) for h in path] == list(proof.inclusion_path)
    assert len(path) == 3
    assert lines[6] == ""
    assert "\n".join(lines[7:]) == proof.checkpoint
    assert lines[7] == ORIGIN
    assert lines[-2].startswith("\u2014 test/log ")


def test_it_reads_back_what_it_wrote_and_verifies() -> None:
    for index in (0, 5, 6):
        proof, vkey = signed_proof(index)
        back = parse(proof.encode())
        assert back == proof
        assert check(back, vkey).tree_size == len(RECORDS)
        assert check(back, vkey, RECORDS[index]).tree_size == len(RECORDS)


def test_without_extra_the_line_is_left_out_and_the_record_must_be_given() -> None:
    proof, vkey = signed_proof(2)
    bare = TlogProof(proof.index, proof.inclusion_path, proof.checkpoint)
    assert bare.encode().split("\n")[1] == "index 2"
    assert parse(bare.encode()) == bare
    check(bare, vkey, RECORDS[2])
    with pytest.raises(BadProof, match="no record"):
        check(bare, vkey)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda t: t.replace(HEADER, "c2sp.org/tlog-proof@v2"), "first line"),
        (lambda t: t.replace("index 3", "index 03"), "no index line"),
        (lambda t: t.replace("index 3", "index -3"), "no index line"),
        (lambda t: t.replace("index 3\n", ""), "no index line"),
        (lambda t: t.replace("index 3\n", "index 3\nnot-base64!\n"), "not standard base64"),
        (lambda t: t.replace("index 3\n", "index 3\nAAAA\n"), "not a SHA-256 hash"),
        (lambda t: t.split("\n\n")[0], "no empty line"),
        # Without its empty line, the checkpoint's origin is read as a proof hash.
        (lambda t: t.replace("\n\n", "\n", 1), "not a SHA-256 hash"),
    ],
)
def test_lines_the_format_does_not_allow_are_refused(
    change: Callable[[str], str], error: str
) -> None:
    proof, _ = signed_proof(3)
    with pytest.raises(BadProof, match=error):
        parse(change(proof.encode()))


def test_a_changed_record_path_hash_or_signature_fails_the_check() -> None:
    proof, vkey = signed_proof(3)
    other = bytearray(RECORDS[3])
    other[2] ^= 1
    with pytest.raises(BadProof, match="not entry 3"):
        check(TlogProof(3, proof.inclusion_path, proof.checkpoint, bytes(other)), vkey)
    bad_path = (bytes([proof.inclusion_path[0][0] ^ 1]) + proof.inclusion_path[0][1:],)
    with pytest.raises(BadProof, match="not entry 3"):
        check(TlogProof(3, bad_path + proof.inclusion_path[1:], proof.checkpoint, RECORDS[3]), vkey)
    with pytest.raises(BadProof, match="not entry 2"):
        check(TlogProof(2, proof.inclusion_path, proof.checkpoint, RECORDS[3]), vkey)
    body, _, signature = proof.checkpoint.rpartition(" ")
    raw = bytearray(base64.b64decode(signature))
    raw[-1] ^= 1
    forged = f"{body} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(BadProof, match="checkpoint: signature does not verify"):
        check(TlogProof(3, proof.inclusion_path, forged, RECORDS[3]), vkey)
    _, stranger = signed_proof(3)
    with pytest.raises(BadProof, match="checkpoint: not signed by"):
        check(proof, stranger)
