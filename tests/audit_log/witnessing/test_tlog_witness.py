"""Witness cosigning with a real third-party witness: litewitness (filippo.io/torchwood, the
successor of filippo.io/litetlog), installed pinned into .tools/go/bin, started on loopback
with its own Ed25519 key in an ssh-agent, cosigns each checkpoint as the log grows, after a
consistency proof from the size it last saw; a lost record of that size is recovered from its
409 answer; an entry's offline proof carries the cosignature, which the Go verifier checks."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio

from audit_log import cli
from audit_log.checkpoints.note import open_note
from audit_log.config import WitnessConfig
from audit_log.context import AuditLog
from audit_log.merkle import root_from_leaf_hashes
from audit_log.service import SERVICE
from audit_log.witnessing.cosignature import WitnessKey, verify
from tests.audit_log.support import (
    LogUnderTest,
    app_of,
    entry,
    run_tlog_proof_check,
    torchwood_tools,
)
from tests.fixtures.serving import serving
from vigie_shared.kit import db
from vigie_shared.kit.embedded import free_port
from vigie_shared.kit.migrate import migrate

pytestmark = pytest.mark.asyncio(loop_scope="session")

WITNESS_NAME = "witness.test/w1"


@pytest.fixture(scope="session")
def witness_binaries() -> Path:
    """litewitness and witnessctl at the pinned version, installed once."""
    return torchwood_tools("litewitness", "witnessctl")


@dataclass
class Witness:
    url: str
    vkey: str
    db: Path


def _wait_for(ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def running_witness(binaries: Path, origin: str, log_vkey: str) -> Iterator[Witness]:
    """ssh-agent holding a fresh Ed25519 key, litewitness told about the log (witnessctl), and
    litewitness itself on a loopback port; all stopped afterwards."""
    for tool in ("ssh-agent", "ssh-add", "ssh-keygen"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is missing: litewitness keeps its key in an ssh-agent")
    # A short directory: a unix socket's path is limited to about 100 bytes.
    work = Path(tempfile.mkdtemp(prefix="lw-", dir="/tmp"))
    started: list[subprocess.Popen[bytes]] = []
    try:
        key, sock, db = work / "key", work / "s", work / "witness.db"
        run = functools.partial(subprocess.run, check=True, capture_output=True, text=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)])
        started.append(
            subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
        )
        _wait_for(sock.exists, "ssh-agent's socket")
        run(["ssh-add", "-q", str(key)], env={**os.environ, "SSH_AUTH_SOCK": str(sock)})
        fingerprint = run(["ssh-keygen", "-lf", f"{key}.pub"]).stdout.split()[1]
        ctl = str(binaries / "witnessctl")
        run([ctl, "add-log", "-db", str(db), "-origin", origin])
        run([ctl, "add-key", "-db", str(db), "-origin", origin, "-key", log_vkey])
        port = free_port()
        server = subprocess.Popen(
            [
                str(binaries / "litewitness"),
                f"-name={WITNESS_NAME}",
                f"-db={db}",
                f"-ssh-agent={sock}",
                f"-key={fingerprint}",
                f"-listen=127.0.0.1:{port}",
            ],
            stderr=subprocess.PIPE,
        )
        started.append(server)
        assert server.stderr is not None
        vkey = None
        while vkey is None:
            line = server.stderr.readline().decode()
            assert line, "litewitness stopped before giving its verifier key"
            found = re.search(r"vkey=(\S+)", line)
            vkey = found.group(1) if found else None
        _wait_for(lambda: _listening(port), "litewitness listening")
        yield Witness(f"http://127.0.0.1:{port}", vkey, db)
    finally:
        for process in reversed(started):
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
            if process.poll() is None:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)


@pytest_asyncio.fixture(loop_scope="session")
async def witness(log: LogUnderTest, witness_binaries: Path) -> AsyncIterator[Witness]:
    async with log.pool.acquire() as conn:
        log_vkey = (await log.audit.checkpoints.verifier_keys(conn))[-1]
    with running_witness(witness_binaries, log.settings.checkpoint_origin, log_vkey) as w:
        yield w


def witnessed(log: LogUnderTest, witness: Witness) -> AuditLog:
    settings = log.settings.model_copy(
        update={
            "witnesses": [WitnessConfig(name=WITNESS_NAME, vkey=witness.vkey, url=witness.url)],
            "witness_quorum": 1,
        }
    )
    return AuditLog.build(settings)


async def test_litewitness_cosigns_each_checkpoint_as_the_log_grows(
    log: LogUnderTest, witness: Witness
) -> None:
    audit = witnessed(log, witness)
    key = WitnessKey.parse(witness.vkey)
    async with log.pool.acquire() as conn, httpx.AsyncClient() as http:
        log_vkey = (await audit.checkpoints.verifier_keys(conn))[-1]
        for grow in (10, 25, 300):
            await log.append(*(entry(i) for i in range(grow)))
            await audit.checkpoints.issue(conn)
            done = await audit.witnesses.submit(conn, http)
            assert done.cosigned_by == [WITNESS_NAME], done.refused
            note = await audit.witnesses.served_note(conn)
            opened = open_note(note, log_vkey)
            body, _, signatures = note.partition("\n\n")
            lines = signatures.splitlines()
            assert len(lines) == 2
            assert verify(lines[1], body + "\n", key) > 0
            print(f"tree size {opened.tree_size}: cosigned by {done.cosigned_by}")
        assert opened.tree_size == 335
        assert await log.pool.fetchval("SELECT count(*) FROM cosignatures") == 3


async def test_a_lost_witness_size_is_taken_from_its_409(
    log: LogUnderTest, witness: Witness
) -> None:
    audit = witnessed(log, witness)
    async with log.pool.acquire() as conn, httpx.AsyncClient() as http:
        await log.append(*(entry(i) for i in range(7)))
        await audit.checkpoints.issue(conn)
        assert (await audit.witnesses.submit(conn, http)).cosigned_by == [WITNESS_NAME]
        await conn.execute("DELETE FROM witness_sizes")
        await log.append(*(entry(i) for i in range(7, 20)))
        await audit.checkpoints.issue(conn)
        done = await audit.witnesses.submit(conn, http)
        assert done.cosigned_by == [WITNESS_NAME], done.refused
        assert await conn.fetchval("SELECT tree_size FROM witness_sizes") == 20


@contextlib.asynccontextmanager
async def forked(log: LogUnderTest) -> AsyncIterator[asyncpg.Pool]:
    """Another tree of the same origin, signed with the same key: the log's signing key copied
    into a schema of its own, as a database restored from a backup and grown anew, or a log
    showing one reader another history, would be."""
    fork = f"{log.schema}_fork"
    await migrate(log.settings.database_url, fork, SERVICE.migrations)
    try:
        await log.pool.execute(
            f'INSERT INTO "{fork}".signing_keys SELECT * FROM "{log.schema}".signing_keys'
        )
        pool = await db.create_pool(log.settings.database_url, fork, max_size=2)
        try:
            yield pool
        finally:
            await pool.close()
    finally:
        await log.pool.execute(f'DROP SCHEMA IF EXISTS "{fork}" CASCADE')


async def test_a_forked_tree_gets_a_422_from_litewitness_and_is_never_claimed_cosigned(
    log: LogUnderTest, witness: Witness, caplog: pytest.LogCaptureFixture
) -> None:
    audit = witnessed(log, witness)
    answers: list[int] = []

    async def record(response: httpx.Response) -> None:
        answers.append(response.status_code)

    async with (
        log.pool.acquire() as conn,
        httpx.AsyncClient(event_hooks={"response": [record]}) as http,
    ):
        await log.append(*(entry(i) for i in range(20)))
        await audit.checkpoints.issue(conn)
        assert (await audit.witnesses.submit(conn, http)).cosigned_by == [WITNESS_NAME]
        log_vkey = (await audit.checkpoints.verifier_keys(conn))[-1]
        answers.clear()
        async with forked(log) as fork, fork.acquire() as other:
            async with other.transaction():
                await audit.tree.append(other, [entry(100 + i) for i in range(25)])
            signed = await audit.checkpoints.issue(other)
            assert signed is not None
            open_note(signed.note, log_vkey)  # the fork's note is the log's key's own
            with caplog.at_level(logging.ERROR, logger="audit_log.witnessing.service"):
                done = await audit.witnesses.submit(other, http)
            # Its record of the witness is empty: the 409 names size 20, the one retry sends a
            # proof from 20 in the forked tree, and litewitness finds it does not lead from the
            # tree of 20 it cosigned.
            assert answers == [409, 422]
            assert done.cosigned_by == []
            assert done.refused[WITNESS_NAME] == "inconsistent from size 20 (422)"
            assert any(
                "finds this log inconsistent from size 20" in r.getMessage() for r in caplog.records
            )
            # The next round asks once more (from the size it now knows), then gives up again.
            again = await audit.witnesses.submit(other, http)
            assert answers == [409, 422, 422]
            assert again.refused[WITNESS_NAME] == "inconsistent from size 20 (422)"
            # Nothing is claimed cosigned: GET /checkpoint keeps serving the log-signed note.
            assert await other.fetchval("SELECT count(*) FROM cosignatures") == 0
            assert await audit.witnesses.latest_cosigned(other) is None
            assert await audit.witnesses.served_note(other) == signed.note
    # The witness still holds the real log's tree of 20, which it goes on extending.
    async with log.pool.acquire() as conn, httpx.AsyncClient() as http:
        await log.append(*(entry(i) for i in range(20, 30)))
        await audit.checkpoints.issue(conn)
        assert (await audit.witnesses.submit(conn, http)).cosigned_by == [WITNESS_NAME]


async def test_export_tiles_writes_the_cosigned_checkpoint_served_and_the_tiles_of_its_tree(
    log: LogUnderTest, witness: Witness, tmp_path: Path
) -> None:
    audit = witnessed(log, witness)
    key = WitnessKey.parse(witness.vkey)
    async with log.pool.acquire() as conn, httpx.AsyncClient() as http:
        await log.append(*(entry(i) for i in range(300)))
        await audit.checkpoints.issue(conn)
        assert (await audit.witnesses.submit(conn, http)).cosigned_by == [WITNESS_NAME]
        # A later checkpoint the witness has not cosigned yet: GET /checkpoint still serves
        # the cosigned one, and so must the static copy.
        await log.append(*(entry(i) for i in range(300, 310)))
        await audit.checkpoints.issue(conn)
        served = await audit.witnesses.served_note(conn)
    done = await cli.export_tiles(audit.settings, tmp_path, entries=False, schema=log.schema)
    written = (tmp_path / "checkpoint").read_text(encoding="utf-8")
    assert written == served
    assert done.tree_size == 300
    body, _, signatures = written.partition("\n\n")
    lines = signatures.splitlines()
    assert len(lines) == 2
    assert lines[1].startswith(f"\u2014 {WITNESS_NAME} ")
    assert verify(lines[1], body + "\n", key) > 0
    tiles = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "tile").rglob("*"))
    assert [t for t in tiles if (tmp_path / t).is_file()] == [
        "tile/0/000",
        "tile/0/001.p/44",
        "tile/1/000.p/1",
    ]
    level0 = (tmp_path / "tile/0/000").read_bytes() + (tmp_path / "tile/0/001.p/44").read_bytes()
    hashes = [level0[i : i + 32] for i in range(0, len(level0), 32)]
    assert base64.b64encode(root_from_leaf_hashes(hashes)).decode() == body.split("\n")[2]


async def test_a_witness_that_does_not_know_the_log_refuses_and_nothing_is_cosigned(
    log: LogUnderTest, witness: Witness
) -> None:
    audit = witnessed(log, witness)
    other = audit.settings.model_copy(update={"checkpoint_origin": "test/other-log"})
    stranger = AuditLog.build(other)
    async with log.pool.acquire() as conn, httpx.AsyncClient() as http:
        await log.append(entry(1))
        await stranger.checkpoints.issue(conn)
        done = await stranger.witnesses.submit(conn, http)
        assert done.cosigned_by == []
        assert "does not know this log" in done.refused[WITNESS_NAME]
        note = await stranger.witnesses.served_note(conn)
        assert len(note.partition("\n\n")[2].splitlines()) == 1


async def test_vigie_audit_verify_checks_the_witness_cosignatures(
    log: LogUnderTest, witness: Witness
) -> None:
    audit = witnessed(log, witness)
    async with log.pool.acquire() as conn, httpx.AsyncClient() as http:
        await log.append(*(entry(i) for i in range(12)))
        await audit.checkpoints.issue(conn)
        assert (await audit.witnesses.submit(conn, http)).cosigned_by == [WITNESS_NAME]
    report = await cli.verify(audit.settings, [], log.schema)
    assert report.ok, report.first_bad
    assert report.cosignatures_checked == 1
    # One bit of the stored cosignature flipped, as a database writer could.
    line = await log.pool.fetchval("SELECT line FROM cosignatures")
    signature = bytearray(base64.b64decode(line.rsplit(" ", 1)[1]))
    signature[-1] ^= 1
    forged = line.rsplit(" ", 1)[0] + " " + base64.b64encode(bytes(signature)).decode()
    await log.pool.execute("UPDATE cosignatures SET line = $1", forged)
    report = await cli.verify(audit.settings, [], log.schema)
    assert report.first_bad is not None
    assert f"cosignature of {WITNESS_NAME}" in report.first_bad.problem


async def test_the_go_client_verifies_the_cosigned_checkpoint_served(
    log: LogUnderTest, witness: Witness, tlog_verify: Path
) -> None:
    audit = witnessed(log, witness)
    app = app_of(log, audit=audit)
    async with log.pool.acquire() as conn, httpx.AsyncClient() as http:
        await log.append(*(entry(i) for i in range(300)))
        await audit.checkpoints.issue(conn)
        assert (await audit.witnesses.submit(conn, http)).cosigned_by == [WITNESS_NAME]
        log_vkey = (await audit.checkpoints.verifier_keys(conn))[-1]
        port = free_port()
        async with serving(app, port):
            served = await http.get(f"http://127.0.0.1:{port}/checkpoint")
            assert f"\u2014 {WITNESS_NAME} " in served.text
            process = await asyncio.create_subprocess_exec(
                str(tlog_verify),
                "-url",
                f"http://127.0.0.1:{port}",
                "-vkey",
                log_vkey,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    print(served.text + out.decode(), end="")
    assert process.returncode == 0, out.decode()
    assert "tree size 300," in out.decode()


async def test_an_offline_proof_carries_the_witness_cosignature_the_go_verifier_checks(
    log: LogUnderTest, witness: Witness, tlog_verify: Path
) -> None:
    audit = witnessed(log, witness)
    async with log.pool.acquire() as conn, httpx.AsyncClient() as http:
        log_vkey = (await audit.checkpoints.verifier_keys(conn))[-1]
        await log.append(*(entry(i) for i in range(10)))
        await audit.checkpoints.issue(conn)
        assert (await audit.witnesses.submit(conn, http)).cosigned_by == [WITNESS_NAME]
        await log.append(*(entry(i) for i in range(10, 15)))
        # Entry 3 is in the cosigned tree of 10; entry 12 only in one signed now, uncosigned.
        cosigned = await audit.offline_proofs.prove_entry(conn, 3)
        fresh = await audit.offline_proofs.prove_entry(conn, 12)
    print(cosigned.encode(), end="")
    print(f"log key {log_vkey}, witness key {witness.vkey}")
    assert cosigned.checkpoint.split("\n")[1] == "10"
    assert fresh.checkpoint.split("\n")[1] == "15"
    assert len(cosigned.checkpoint.partition("\n\n")[2].splitlines()) == 2
    assert len(fresh.checkpoint.partition("\n\n")[2].splitlines()) == 1
    rc, out = run_tlog_proof_check(
        tlog_verify, cosigned.encode(), log_vkey, "-witness", witness.vkey
    )
    assert rc == 0, out
    assert f"cosigned by 1 witness(es) {WITNESS_NAME}" in out
    rc, out = run_tlog_proof_check(tlog_verify, fresh.encode(), log_vkey, "-witness", witness.vkey)
    assert rc == 1
    assert f"FAIL: checkpoint: no valid cosignature by witness {WITNESS_NAME}" in out
    # A cosignature line with one byte changed is no cosignature.
    body, _, lines = cosigned.checkpoint.partition("\n\n")
    log_line, witness_line = lines.splitlines()
    name, encoded = witness_line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(encoded))
    raw[-1] ^= 1
    forged = f"{body}\n\n{log_line}\n{name} {base64.b64encode(bytes(raw)).decode()}\n"
    forged_proof = cosigned.encode().replace(cosigned.checkpoint, forged)
    rc, out = run_tlog_proof_check(tlog_verify, forged_proof, log_vkey, "-witness", witness.vkey)
    assert rc == 1
    assert "no valid cosignature by witness" in out
