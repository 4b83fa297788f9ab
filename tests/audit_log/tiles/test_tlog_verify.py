"""Checked by code that is not ours: tools/tlog-verify, built on the Go project's
golang.org/x/mod/sumdb/note and sumdb/tlog, reads the served /checkpoint and tiles over real
HTTP, verifies the signature with our verifier key, rebuilds the root from full and partial
tiles, proves entries, and fails naming the entry once a stored leaf is altered in PostgreSQL,
as ``vigie audit verify`` does."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit_log import cli
from audit_log.app import create_app
from audit_log.checkpoints.note import verifier_key
from audit_log.merkle import leaf_hash
from audit_log.tree.repository import tree_repository
from tests.audit_log.conftest import LogUnderTest, entry
from tests.audit_log.test_api import FakeIssuer
from tests.fixtures.serving import serving
from vigie_shared.kit.oidc import TokenVerifier

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tools" / "tlog-verify"
BINARY = ROOT / ".tools" / "go" / "bin" / "tlog-verify"


def go() -> str | None:
    return shutil.which("go") or next(
        (p for p in ("/usr/local/go/bin/go",) if os.access(p, os.X_OK)), None
    )


@pytest.fixture(scope="session")
def tlog_verify() -> Path:
    return build_tlog_verify()


def build_tlog_verify() -> Path:
    """The verifier, built once per change of its source (go.sum pins its modules)."""
    sources = [p for p in SOURCE.iterdir() if p.suffix in (".go", ".mod", ".sum")]
    if BINARY.exists() and BINARY.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
        return BINARY
    compiler = go()
    if compiler is None:
        pytest.skip("Go is not installed: the third-party verifier cannot be built")
    BINARY.parent.mkdir(parents=True, exist_ok=True)
    building = BINARY.with_name(f"tlog-verify.{os.getpid()}")
    subprocess.run(
        [compiler, "build", "-mod=readonly", "-o", str(building), "."],
        cwd=SOURCE,
        check=True,
        timeout=600,
    )
    # Atomic: another worker building at the same time leaves a whole binary too.
    building.replace(BINARY)
    return BINARY


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Served:
    url: str
    issuer: FakeIssuer
    vkey: str


@pytest_asyncio.fixture(loop_scope="session")
async def served(log: LogUnderTest) -> AsyncIterator[Served]:
    issuer = FakeIssuer()
    app = create_app(log.settings)
    app.state.runtime = SimpleNamespace(pool=log.pool)
    app.state.audit = log.audit
    app.state.token_verifier = TokenVerifier(
        "http://sso.test",
        "audit-log",
        http=httpx.AsyncClient(transport=httpx.MockTransport(issuer.handler)),
    )
    async with log.pool.acquire() as conn:
        vkey = (await log.audit.checkpoints.verifier_keys(conn))[-1]
    port = free_port()
    async with serving(app, port):
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
    async with log.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute("UPDATE log_entries SET actor = 'user:u-evil' WHERE leaf_index = 257")
    rc, out = await run_verifier(tlog_verify, served, "-entries")
    assert rc == 1
    assert "entry 257:" in out
    report = await cli.verify(log.settings, [served.vkey], log.schema)
    assert report.first_bad is not None
    assert report.first_bad.leaf_index == 257


async def test_an_entry_rewritten_with_its_leaf_hash_fails_the_go_client_on_the_tiles(
    log: LogUnderTest, served: Served, tlog_verify: Path
) -> None:
    await signed_log(log, 300)
    async with log.pool.acquire() as conn:
        stored = await tree_repository.leaf(conn, 40)
    assert stored is not None
    forged = dataclasses.replace(stored.leaf, actor="user:u-evil")
    async with log.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(
            "UPDATE log_entries SET actor = 'user:u-evil', leaf_hash = $1 WHERE leaf_index = 40",
            leaf_hash(forged.canonical()),
        )
    rc, out = await run_verifier(tlog_verify, served, "-inclusion", "40")
    assert rc == 1
    assert "tiles:" in out or "entry 40:" in out
    report = await cli.verify(log.settings, [served.vkey], log.schema)
    assert report.first_bad is not None
    assert report.first_bad.leaf_index == 0
    assert "differs from the signed checkpoint" in report.first_bad.problem
