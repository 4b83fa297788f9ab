"""Checked by code that is not ours: tools/tlog-verify runs filippo.io/torchwood's tlog client
(pinned in its go.mod; on the Go project's golang.org/x/mod sumdb/note and sumdb/tlog) against
the served /checkpoint and tiles over real HTTP. x/mod's note.Open verifies the checkpoint with
our verifier key; torchwood fetches the tiles, and its reader (x/mod's tlog.TileHashReader)
checks each against the signed root, full and partial; its ``Client.Entry`` proves entries and
its ``Client.Entries`` checks every entry of every bundle against its leaf hash. Our glue only
adds the bearer token, counts tiles and names the entry torchwood refused. An entry altered in
PostgreSQL fails it and ``vigie audit verify``, both naming that entry."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit_log import cli
from audit_log.checkpoints.note import verifier_key
from tests.audit_log.support import FakeIssuer, LogUnderTest, app_of, entry, forge_actor, tamper
from tests.fixtures.serving import serving
from vigie_shared.kit.embedded import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass
class Served:
    url: str
    issuer: FakeIssuer
    vkey: str


@pytest_asyncio.fixture(loop_scope="session")
async def served(log: LogUnderTest) -> AsyncIterator[Served]:
    issuer = FakeIssuer()
    async with log.pool.acquire() as conn:
        vkey = (await log.audit.checkpoints.verifier_keys(conn))[-1]
    port = free_port()
    async with serving(app_of(log, issuer), port):
        yield Served(f"http://127.0.0.1:{port}", issuer, vkey)


async def run_verifier(binary: Path, served: Served, *args: str) -> tuple[int, str]:
    token = served.issuer.token("u-dpo", ["dpo"])["Authorization"].removeprefix("Bearer ")
    print(f"tlog-verify {' '.join(args)} with key {served.vkey}")
    process = await asyncio.create_subprocess_exec(
        str(binary),
        "-url",
        served.url,
        "-vkey",
        served.vkey,
        *args,
        env={**os.environ, "TLOG_TOKEN": token},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    print(out.decode(), end="")
    return process.returncode, out.decode()


async def signed_log(log: LogUnderTest, n: int) -> tuple[int, str]:
    await log.append(*(entry(i, subject=f"u-{i % 7}") for i in range(n)))
    async with log.pool.acquire() as conn:
        checkpoint = await log.audit.checkpoints.issue(conn)
    assert checkpoint is not None
    print(checkpoint.note, end="")
    return checkpoint.tree_size, checkpoint.note.split("\n")[2]


async def test_the_go_tlog_client_verifies_the_served_tree_full_and_partial_tiles(
    log: LogUnderTest, served: Served, tlog_verify: Path
) -> None:
    size, root = await signed_log(log, 600)
    rc, out = await run_verifier(tlog_verify, served, "-inclusion", "0,255,256,599", "-entries")
    assert rc == 0, out
    assert f"tree size {size}, root {root}," in out
    # 600 leaves: two full level-0 tiles, a partial one of 88 and a partial level-1 tile of 2.
    assert "hash tiles read 2 full and 2 partial" in out
    assert "entries checked 604, entry bundles read 3" in out


async def test_the_go_client_refuses_the_checkpoint_under_another_key_of_the_same_name(
    log: LogUnderTest, served: Served, tlog_verify: Path
) -> None:
    await signed_log(log, 3)
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    served.vkey = verifier_key(log.settings.checkpoint_origin, other)
    rc, out = await run_verifier(tlog_verify, served)
    assert rc == 1
    assert "checkpoint signature" in out


async def test_an_altered_stored_entry_fails_the_go_client_and_vigie_audit_verify_at_it(
    log: LogUnderTest, served: Served, tlog_verify: Path
) -> None:
    await signed_log(log, 300)
    await tamper(log, "UPDATE log_entries SET actor = 'user:u-evil' WHERE leaf_index = 257")
    # torchwood's Client.Entries, reading every bundle in order, stops at that entry...
    rc, out = await run_verifier(tlog_verify, served, "-entries")
    assert rc == 1
    assert "FAIL: entry 257: hash mismatch for entry 257" in out
    # ...its Client.Entry, proving that one entry, refuses it...
    rc, out = await run_verifier(tlog_verify, served, "-inclusion", "256,257")
    assert rc == 1
    assert "FAIL: entry 257: tlog: data entry 257 does not match Merkle tree" in out
    # ...and so does our own verifier, reading PostgreSQL.
    report = await cli.verify(log.settings, [served.vkey], log.schema)
    assert report.first_bad is not None
    assert report.first_bad.leaf_index == 257


async def test_an_entry_rewritten_with_its_leaf_hash_fails_the_go_client_on_the_tiles(
    log: LogUnderTest, served: Served, tlog_verify: Path
) -> None:
    await signed_log(log, 300)
    await forge_actor(log, 40, "user:u-evil")
    rc, out = await run_verifier(tlog_verify, served, "-inclusion", "40")
    assert rc == 1
    assert "tiles:" in out or "entry 40:" in out
    assert "downloaded inconsistent tile" in out
    report = await cli.verify(log.settings, [served.vkey], log.schema)
    assert report.first_bad is not None
    assert report.first_bad.leaf_index == 0
    assert "differs from the signed checkpoint" in report.first_bad.problem
