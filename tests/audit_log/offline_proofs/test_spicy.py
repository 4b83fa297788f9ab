"""The offline proof checked by a verifier we did not write: torchwood's ``spicy -verify``
(filippo.io/torchwood, pinned), which checks a file against a "spicy signature" (``index``, the
audit path, an empty line, the log's signed checkpoint) with x/mod's note and tlog packages.
A C2SP tlog-proof is that signature under a header line, with the entry in ``extra``: the file
spicy hashes is the entry's leaf bytes, the rest is the proof as ``vigie audit prove`` wrote it."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from audit_log.offline_proofs.format import HEADER
from tests.audit_log.support import LogUnderTest, entry, log_vkey, offline, torchwood_tools

pytestmark = pytest.mark.asyncio(loop_scope="session")


def as_spicy(proof: str, work: Path) -> Path:
    """The entry of ``proof`` as a file, with its spicy signature beside it."""
    header, extra, rest = proof.split("\n", 2)
    assert header == HEADER
    assert extra.startswith("extra ")
    entry_file = work / "entry"
    entry_file.write_bytes(base64.b64decode(extra.removeprefix("extra ")))
    (work / "entry.spicy").write_text(rest, encoding="utf-8")
    return entry_file


def spicy(entry_file: Path, vkey: str) -> tuple[int, str]:
    binary = torchwood_tools("spicy") / "spicy"
    done = subprocess.run(
        [*offline(), str(binary), "-verify", vkey, str(entry_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    print(done.stdout, done.stderr, end="")
    return done.returncode, done.stdout + done.stderr


async def test_torchwoods_spicy_verifies_an_entrys_offline_proof_and_refuses_a_changed_one(
    log: LogUnderTest, tmp_path: Path
) -> None:
    await log.append(*(entry(i, subject=f"u-{i % 5}") for i in range(130)))
    vkey = await log_vkey(log)
    async with log.pool.acquire() as conn:
        proof = (await log.audit.offline_proofs.prove_entry(conn, 97)).encode()

    entry_file = as_spicy(proof, tmp_path)
    rc, said = spicy(entry_file, vkey)
    assert (rc, "Spicy signature(s) verified!" in said) == (0, True), said

    # One byte of the entry changed: its record hash is not the leaf the signed tree holds.
    changed = bytearray(entry_file.read_bytes())
    changed[10] ^= 0x01
    entry_file.write_bytes(bytes(changed))
    rc, said = spicy(entry_file, vkey)
    assert (rc, "could not verify inclusion" in said) == (1, True), said

    # One hash of the audit path changed.
    entry_file = as_spicy(proof, tmp_path)
    signature = (tmp_path / "entry.spicy").read_text(encoding="utf-8").split("\n")
    first = bytearray(base64.b64decode(signature[1]))
    first[0] ^= 0x01
    signature[1] = base64.b64encode(bytes(first)).decode()
    (tmp_path / "entry.spicy").write_text("\n".join(signature), encoding="utf-8")
    rc, said = spicy(entry_file, vkey)
    assert (rc, "could not verify inclusion" in said) == (1, True), said
