"""Forward-only SQL migrations, one schema per service.

The kit's own tables (outbox, inbox) come first, then the service's ``migrations/*.sql`` in name
order. Each file is applied once and its checksum kept: editing an applied migration is refused
rather than silently ignored.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from vigie_shared.kit.db import check_schema

log = logging.getLogger(__name__)

KIT_MIGRATIONS = Path(__file__).with_name("migrations")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load(directory: Path, prefix: str) -> list[Migration]:
    return [
        Migration(f"{prefix}:{path.name}", path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.sql"))
    ]


async def migrate(dsn: str, schema: str, migrations_dir: Path | None) -> list[str]:
    """Apply pending migrations; returns the names applied. Safe to run from several replicas:
    a transaction-level advisory lock serialises them."""
    check_schema(schema)
    pending = load(KIT_MIGRATIONS, "kit")
    if migrations_dir is not None:
        pending += load(migrations_dir, "service")
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(f'SET LOCAL search_path TO "{schema}"')
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            applied = {
                row["name"]: row["checksum"]
                for row in await conn.fetch("SELECT name, checksum FROM schema_migrations")
            }
            done: list[str] = []
            for migration in pending:
                known = applied.get(migration.name)
                if known is not None:
                    if known != migration.checksum:
                        raise MigrationError(
                            f"{schema}: applied migration {migration.name} was edited; "
                            "add a new migration instead"
                        )
                    continue
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                    migration.name,
                    migration.checksum,
                )
                done.append(migration.name)
        if done:
            log.info("%s: applied %s", schema, done)
        return done
    finally:
        await conn.close()
