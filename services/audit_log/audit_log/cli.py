"""``vigie audit``: administer the audit log (entry point group ``vigie.commands``), on the
stack ``kit.stack_file`` resolves (the running ``vigie up``'s database unless told otherwise)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit_log.config import Settings
from audit_log.context import AuditLog
from audit_log.offline_proofs.service import UnknownEntry
from audit_log.service import SERVICE
from audit_log.verify.service import Report
from vigie_shared.kit import db
from vigie_shared.kit.migrate import migrate
from vigie_shared.kit.stack_file import add_stack_arguments, stack_command


async def verify(
    settings: Settings, pinned_keys: list[str], schema: str = SERVICE.schema
) -> Report:
    conn = await db.connect(settings.database_url, schema)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return await AuditLog.build(settings).verifier.run(conn, pinned_keys)
    finally:
        await conn.close()


async def checkpoint(settings: Settings, schema: str = SERVICE.schema) -> str:
    await migrate(settings.database_url, schema, SERVICE.migrations)
    conn = await db.connect(settings.database_url, schema)
    try:
        signed = await AuditLog.build(settings).checkpoints.issue(conn)
    finally:
        await conn.close()
    assert signed is not None
    return signed.note


@dataclass(frozen=True)
class Export:
    tree_size: int
    hash_tiles: int
    entry_bundles: int


async def export_tiles(
    settings: Settings, directory: Path, *, entries: bool, schema: str = SERVICE.schema
) -> Export:
    """Write what ``GET /checkpoint`` and ``GET /tile/...`` serve as files under ``directory``:
    the checkpoint with the cosignatures of the witness policy (``VIGIE_WITNESSES``), so a
    static host serves what a client requiring witnesses accepts, and the tiles of its tree."""
    conn = await db.connect(settings.database_url, schema)
    try:
        audit = AuditLog.build(settings)
        # Sign the first checkpoint outside the snapshot if there is none, so the export's
        # read-only transaction finds one.
        await audit.tiles.checkpoint(conn)
        hash_tiles = bundles = 0
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            # The note GET /checkpoint serves: the latest the witness policy cosigned, with
            # their lines; the latest the log signed until one is, or without witnesses.
            served = await audit.witnesses.served(conn)
            files = audit.tiles.static_files(conn, served.tree_size, served.note, entries=entries)
            async for path, data in files:
                target = directory / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                if path.startswith("tile/entries/"):
                    bundles += 1
                elif path != "checkpoint":
                    hash_tiles += 1
        return Export(served.tree_size, hash_tiles, bundles)
    finally:
        await conn.close()


@dataclass(frozen=True)
class Proved:
    proof: str
    tree_size: int
    shredded: bool


async def prove(settings: Settings, index: int, schema: str = SERVICE.schema) -> Proved:
    """The entry's offline proof (c2sp.org/tlog-proof); signs a checkpoint first if none holds
    the entry yet."""
    await migrate(settings.database_url, schema, SERVICE.migrations)
    conn = await db.connect(settings.database_url, schema)
    try:
        audit = AuditLog.build(settings)
        entry = await audit.query.get(conn, index)
        if entry is None:
            raise UnknownEntry(f"no entry at index {index}")
        (proof,) = await audit.offline_proofs.prove(conn, [(index, base64.b64decode(entry.leaf))])
    finally:
        await conn.close()
    size = int(proof.checkpoint.split("\n")[1])
    return Proved(proof.encode(), size, entry.shredded)


SHREDDED_NOTE = (
    "its data key was destroyed (erasure or retention): the proof's extra holds the leaf as"
    " logged, payload as AES-GCM ciphertext no one can open; the leaf hash, hence the proof,"
    " is unchanged"
)


async def keys(settings: Settings, schema: str = SERVICE.schema) -> list[str]:
    await migrate(settings.database_url, schema, SERVICE.migrations)
    conn = await db.connect(settings.database_url, schema)
    try:
        return await AuditLog.build(settings).checkpoints.verifier_keys(conn)
    finally:
        await conn.close()


@stack_command()
def cmd_verify(args: argparse.Namespace) -> int:
    report = asyncio.run(verify(Settings(), args.key or [], args.schema))
    root = base64.b64encode(report.root_hash).decode()
    if report.ok:
        print(
            f"OK: {report.tree_size} entries, root {root},"
            f" {report.checkpoints_checked} signed checkpoint(s) consistent,"
            f" {report.cosignatures_checked} witness cosignature(s) valid"
        )
        return 0
    print(f"TAMPERED: {report.first_bad}")
    return 1


@stack_command()
def cmd_checkpoint(args: argparse.Namespace) -> int:
    print(asyncio.run(checkpoint(Settings(), args.schema)), end="")
    return 0


@stack_command()
def cmd_export_tiles(args: argparse.Namespace) -> int:
    done = asyncio.run(
        export_tiles(Settings(), Path(args.directory), entries=args.entries, schema=args.schema)
    )
    print(
        f"{done.tree_size} entries: checkpoint, {done.hash_tiles} hash tile(s),"
        f" {done.entry_bundles} entry bundle(s) written to {args.directory}"
    )
    return 0


@stack_command()
def cmd_prove(args: argparse.Namespace) -> int:
    try:
        done = asyncio.run(prove(Settings(), args.entry, args.schema))
    except UnknownEntry as exc:
        print(f"vigie audit prove: {exc}", file=sys.stderr)
        return 1
    note = f"entry {args.entry}: {SHREDDED_NOTE}" if done.shredded else None
    if args.out is None:
        print(done.proof, end="")
        if note:
            print(note, file=sys.stderr)
        return 0
    Path(args.out).write_text(done.proof, encoding="utf-8")
    print(
        f"entry {args.entry}: proof against the checkpoint of tree size {done.tree_size}"
        f" written to {args.out}"
    )
    if note:
        print(note)
    return 0


@stack_command()
def cmd_key(args: argparse.Namespace) -> int:
    for vkey in asyncio.run(keys(Settings(), args.schema)):
        print(vkey)
    return 0


def register_commands(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="verify and checkpoint the audit log")
    commands = audit.add_subparsers(dest="audit_command", required=True)
    check = commands.add_parser(
        "verify", help="recompute the Merkle tree from storage and check every checkpoint"
    )
    check.add_argument(
        "--key",
        action="append",
        help="trusted verifier key (<name>+<hash>+<key>); default: the keys in the database",
    )
    check.add_argument("--schema", default=SERVICE.schema, help=argparse.SUPPRESS)
    add_stack_arguments(check)
    check.set_defaults(func=cmd_verify)
    sign = commands.add_parser("checkpoint", help="sign a checkpoint of the current tree now")
    sign.add_argument("--schema", default=SERVICE.schema, help=argparse.SUPPRESS)
    add_stack_arguments(sign)
    sign.set_defaults(func=cmd_checkpoint)
    export = commands.add_parser(
        "export-tiles",
        help="write the served (cosigned) checkpoint and its tiles as static files (tlog-tiles)",
    )
    export.add_argument("directory", help="where to write checkpoint and tile/")
    export.add_argument(
        "--entries",
        action="store_true",
        help="also write the entry bundles (they name subjects: serve them to auditors only)",
    )
    export.add_argument("--schema", default=SERVICE.schema, help=argparse.SUPPRESS)
    add_stack_arguments(export)
    export.set_defaults(func=cmd_export_tiles)
    proof = commands.add_parser(
        "prove",
        help="print an entry's offline proof (c2sp.org/tlog-proof): its leaf bytes, inclusion"
        " proof and the cosigned checkpoint",
    )
    proof.add_argument("entry", type=int, help="the entry's index in the log")
    proof.add_argument("--out", help="write the proof to this file (.tlog-proof) instead")
    proof.add_argument("--schema", default=SERVICE.schema, help=argparse.SUPPRESS)
    add_stack_arguments(proof)
    proof.set_defaults(func=cmd_prove)
    key = commands.add_parser(
        "key", help="print the checkpoint verifier keys (<name>+<hash>+<key>), current last"
    )
    key.add_argument("--schema", default=SERVICE.schema, help=argparse.SUPPRESS)
    add_stack_arguments(key)
    key.set_defaults(func=cmd_key)
