"""All SQL on signing keys and checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from vigie_shared.kit.db import Conn

COLUMNS = "c.id, c.tree_size, c.root_hash, c.issued_at, c.note, c.key_id, k.name, k.public_key"


@dataclass(frozen=True)
class PublicKey:
    name: str
    public_key: bytes


@dataclass(frozen=True)
class SigningKey:
    """The newest signing key; its private half sealed under the service's key at rest."""

    id: int
    name: str
    public_key: bytes
    private_key_ct: bytes


@dataclass(frozen=True)
class StoredCheckpoint:
    id: int
    tree_size: int
    root_hash: bytes
    issued_at: datetime
    note: str
    key_id: int
    key_name: str
    public_key: bytes


def _checkpoint(row: asyncpg.Record) -> StoredCheckpoint:
    return StoredCheckpoint(
        id=row["id"],
        tree_size=row["tree_size"],
        root_hash=bytes(row["root_hash"]),
        issued_at=row["issued_at"],
        note=row["note"],
        key_id=row["key_id"],
        key_name=row["name"],
        public_key=bytes(row["public_key"]),
    )


class CheckpointRepository:
    async def lock_writers(self, conn: Conn) -> None:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('audit_log:checkpoints'))")

    async def try_lock_writers(self, conn: Conn) -> bool:
        locked: bool = await conn.fetchval(
            "SELECT pg_try_advisory_xact_lock(hashtext('audit_log:checkpoints'))"
        )
        return locked

    async def signing_key(self, conn: Conn) -> SigningKey | None:
        row = await conn.fetchrow(
            "SELECT id, name, public_key, private_key_ct FROM signing_keys ORDER BY id DESC LIMIT 1"
        )
        if row is None:
            return None
        return SigningKey(
            id=row["id"],
            name=row["name"],
            public_key=bytes(row["public_key"]),
            private_key_ct=bytes(row["private_key_ct"]),
        )

    async def public_keys(self, conn: Conn) -> list[PublicKey]:
        """Every key the log has signed with, oldest first."""
        rows = await conn.fetch("SELECT name, public_key FROM signing_keys ORDER BY id")
        return [PublicKey(row["name"], bytes(row["public_key"])) for row in rows]

    async def insert_key(self, conn: Conn, name: str, public: bytes, private_ct: bytes) -> None:
        await conn.execute(
            "INSERT INTO signing_keys (name, public_key, private_key_ct) VALUES ($1, $2, $3)",
            name,
            public,
            private_ct,
        )

    async def insert(
        self, conn: Conn, tree_size: int, root: bytes, issued_at: datetime, key_id: int, note: str
    ) -> None:
        await conn.execute(
            "INSERT INTO checkpoints (tree_size, root_hash, issued_at, key_id, note)"
            " VALUES ($1, $2, $3, $4, $5)",
            tree_size,
            root,
            issued_at,
            key_id,
            note,
        )

    async def latest(self, conn: Conn) -> StoredCheckpoint | None:
        row = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM checkpoints c"  # noqa: S608
            " JOIN signing_keys k ON k.id = c.key_id ORDER BY c.id DESC LIMIT 1"
        )
        return None if row is None else _checkpoint(row)

    async def all(self, conn: Conn) -> list[StoredCheckpoint]:
        rows = await conn.fetch(
            f"SELECT {COLUMNS} FROM checkpoints c"  # noqa: S608
            " JOIN signing_keys k ON k.id = c.key_id ORDER BY c.tree_size, c.id"
        )
        return [_checkpoint(row) for row in rows]


checkpoint_repository = CheckpointRepository()
