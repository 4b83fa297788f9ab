"""``vigie audit``: administer the audit log (entry point group ``vigie.commands``), on the
stack ``kit.stack_file`` resolves (the running ``vigie up``'s database unless told otherwise)."""

from __future__ import annotations

import argparse
import asyncio
import base64
from typing import Any

from audit_log.config import Settings
from audit_log.context import AuditLog
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


@stack_command()
def cmd_verify(args: argparse.Namespace) -> int:
    report = asyncio.run(verify(Settings(), args.key or [], args.schema))
    root = base64.b64encode(report.root_hash).decode()
    if report.ok:
        print(
            f"OK: {report.tree_size} entries, root {root},"
            f" {report.checkpoints_checked} signed checkpoint(s) consistent"
        )
        return 0
    print(f"TAMPERED: {report.first_bad}")
    return 1


@stack_command()
def cmd_checkpoint(args: argparse.Namespace) -> int:
    print(asyncio.run(checkpoint(Settings(), args.schema)), end="")
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
