"""Offline proofs (c2sp.org/tlog-proof) of stored entries, checked by code that is not ours:
``vigie audit prove ENTRY`` gives a proof that tools/tlog-verify (Go, x/mod/sumdb/note and
sumdb/tlog) verifies from the file alone, and refuses once one byte of the entry, of a proof
hash or of the checkpoint's signature is changed; a crypto-shredded entry is still proved;
the DPO's access package (dpo_requests' own zip builder, fed the audit log's task answer)
carries one proof per entry, each verifying with the Go tool."""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from audit_log import cli
from audit_log.offline_proofs.format import check, parse
from audit_log.shredding.handlers import data_system
from dpo_requests.packages.service import build_zip
from dpo_requests.tasks.repository import Task
from tests.audit_log.support import LogUnderTest, entry, log_vkey, run_tlog_proof_check
from vigie_shared.events import DpoTaskCompleted, DpoTaskRequested, TaskAction
from vigie_shared.kit.clock import utcnow

pytestmark = pytest.mark.asyncio(loop_scope="session")


def flip(encoded: str, at: int) -> str:
    """The base64 of the same bytes but one, at ``at`` (negative from the end)."""
    raw = bytearray(base64.b64decode(encoded))
    raw[at] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def one_byte_changed(proof: str, part: str) -> str:
    lines = proof.split("\n")
    if part == "entry":
        assert lines[1].startswith("extra ")
        lines[1] = "extra " + flip(lines[1].removeprefix("extra "), 40)
    elif part == "proof hash":
        assert lines[2].startswith("index ")
        lines[3] = flip(lines[3], 7)
    else:
        signature = next(i for i, line in enumerate(lines) if line.startswith("\u2014 test/log "))
        name, encoded = lines[signature].rsplit(" ", 1)
        lines[signature] = f"{name} {flip(encoded, -1)}"
    changed = "\n".join(lines)
    assert changed != proof
    return changed


async def test_vigie_audit_prove_gives_a_proof_the_go_verifier_checks_offline(
    log: LogUnderTest,
    tlog_verify: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await log.append(*(entry(i, subject=f"u-{i % 7}") for i in range(300)))
    vkey = await log_vkey(log)
    monkeypatch.setenv("VIGIE_DATABASE_URL", log.settings.database_url)
    monkeypatch.setenv("VIGIE_CHECKPOINT_ORIGIN", log.settings.checkpoint_origin)
    parser = argparse.ArgumentParser()
    cli.register_commands(parser.add_subparsers())
    out = tmp_path / "257.tlog-proof"
    args = parser.parse_args(["audit", "prove", "257", "--out", str(out), "--schema", log.schema])
    # The command runs its own event loop, as under the ``vigie`` console script.
    assert await asyncio.to_thread(args.func, args) == 0
    said = capsys.readouterr().out
    assert f"entry 257: proof against the checkpoint of tree size 300 written to {out}" in said
    proof = out.read_text(encoding="utf-8")
    # The same proof on stdout without --out (no new checkpoint: the one signed covers it).
    args = parser.parse_args(["audit", "prove", "257", "--schema", log.schema])
    assert await asyncio.to_thread(args.func, args) == 0
    assert capsys.readouterr().out == proof
    print(proof, end="")
    async with log.pool.acquire() as conn:
        stored = await log.audit.query.get(conn, 257)
    assert stored is not None
    assert parse(proof).extra == base64.b64decode(stored.leaf)
    assert check(parse(proof), vkey).tree_size == 300

    rc, said = run_tlog_proof_check(tlog_verify, proof, vkey)
    assert rc == 0, said
    root = proof.split("\n\n")[1].split("\n")[2]
    assert said.startswith(f"OK: entry 257 of origin test/log, tree size 300, root {root},")
    assert f"record {len(base64.b64decode(stored.leaf))} bytes" in said
    for part, error in [
        ("entry", "FAIL: entry 257: the record is not the leaf the signed tree holds"),
        ("proof hash", "FAIL: entry 257: the record is not the leaf the signed tree holds"),
        ("checkpoint signature", "FAIL: checkpoint signature"),
    ]:
        rc, said = run_tlog_proof_check(tlog_verify, one_byte_changed(proof, part), vkey)
        assert (rc, said.splitlines()[0].startswith(error)) == (1, True), (part, said)


async def test_an_unknown_entry_is_one_line_and_a_failure(
    log: LogUnderTest, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await log.append(entry(1))
    monkeypatch.setenv("VIGIE_DATABASE_URL", log.settings.database_url)
    monkeypatch.setenv("VIGIE_CHECKPOINT_ORIGIN", log.settings.checkpoint_origin)
    parser = argparse.ArgumentParser()
    cli.register_commands(parser.add_subparsers())
    args = parser.parse_args(["audit", "prove", "1", "--schema", log.schema])
    assert await asyncio.to_thread(args.func, args) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "vigie audit prove: no entry at index 1\n" in captured.err


async def test_a_shredded_entry_is_still_proved_from_its_ciphertext(
    log: LogUnderTest,
    tlog_verify: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await log.append(
        entry(0, subject="u-max"),
        entry(1, subject="u-lea", data={"user_id": "u-lea", "email": "lea@example.org"}),
    )
    before = await cli.prove(log.settings, 1, log.schema)
    assert not before.shredded
    async with log.pool.acquire() as conn, conn.transaction():
        await log.audit.tree.lock_writer(conn)
        assert await log.audit.keys.erase(conn, "u-lea", "erasure request r-1") == 1
    after = await cli.prove(log.settings, 1, log.schema)
    assert after.shredded
    # Same leaf bytes (payload as ciphertext, never plaintext), same checkpoint, same proof.
    assert after.proof == before.proof
    leaf = json.loads(parse(after.proof).extra or b"")
    assert "data_ct" in leaf
    assert "data" not in leaf
    assert "lea@example.org" not in after.proof
    assert "lea@example.org" not in (parse(after.proof).extra or b"").decode()
    rc, said = run_tlog_proof_check(tlog_verify, after.proof, await log_vkey(log))
    assert rc == 0, said
    # The command prints the proof and says, apart, what it holds now.
    monkeypatch.setenv("VIGIE_DATABASE_URL", log.settings.database_url)
    monkeypatch.setenv("VIGIE_CHECKPOINT_ORIGIN", log.settings.checkpoint_origin)
    parser = argparse.ArgumentParser()
    cli.register_commands(parser.add_subparsers())
    capsys.readouterr()
    for argv in (["1"], ["0"]):
        args = parser.parse_args(["audit", "prove", *argv, "--schema", log.schema])
        assert await asyncio.to_thread(args.func, args) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(after.proof)
    assert captured.err.count("its data key was destroyed") == 1
    assert f"entry 1: {cli.SHREDDED_NOTE}" in captured.err


@dataclass(frozen=True)
class AccessRequest:
    id: str
    request_type: str
    received_at: datetime
    subject_id: str | None


async def test_the_dpo_access_package_carries_a_proof_of_each_entry_that_verifies(
    log: LogUnderTest, tlog_verify: Path
) -> None:
    await log.append(
        *(entry(i, subject="u-lea" if i % 3 else "u-max") for i in range(40)),
        entry(40, subject="u-lea", data={"user_id": "u-lea", "email": "lea@example.org"}),
    )
    task = DpoTaskRequested(
        task_id="t-1",
        request_id="r-1",
        system="audit_log",
        action=TaskAction.EXPORT,
        subject_id="u-lea",
    )
    async with log.pool.acquire() as conn, conn.transaction():
        await data_system(log.audit).answer(conn, task, source="/vigie/audit_log")
        row = await conn.fetchrow("SELECT value FROM outbox ORDER BY id DESC LIMIT 1")
    assert row is not None
    # The event as dpo_requests reads it (its contract: the exported data in ``data``).
    answer = DpoTaskCompleted.model_validate_json(row["value"])
    now = utcnow()
    package = build_zip(
        AccessRequest("r-1", "access", now, "u-lea"),
        [
            Task(
                id="t-1",
                request_id="r-1",
                system="audit_log",
                action="export",
                status="completed",
                manual=False,
                attempts=1,
                requested_at=now,
                due_at=None,
                finished_at=now,
                data=answer.data,
                data_ref=None,
                error=None,
                note=None,
                completed_by="audit_log",
            )
        ],
        now,
    )
    part = json.loads(zipfile.ZipFile(io.BytesIO(package)).read("data.json"))["systems"][
        "audit_log"
    ]["data"]
    entries = part["entries"]
    assert len(entries) == 27
    assert entries[-1]["data"]["email"] == "lea@example.org"
    (vkey,) = part["log_verifier_keys"]
    assert vkey == await log_vkey(log)
    for exported in entries:
        proof = parse(exported["tlog_proof"])
        leaf = json.loads(proof.extra or b"")
        assert (proof.index, leaf["id"], leaf["data_subject"]) == (
            exported["index"],
            exported["event_id"],
            "u-lea",
        )
    for exported in (entries[0], entries[-1]):
        rc, said = run_tlog_proof_check(tlog_verify, exported["tlog_proof"], vkey)
        assert rc == 0, said
        assert f"OK: entry {exported['index']} of origin test/log, tree size 41," in said
