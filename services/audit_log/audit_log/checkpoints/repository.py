"""All SQL on signing keys and checkpoints."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from vigie_shared.kit.db import Conn

COLUMNS = "c.id, c.tree_size, c.root_hash, c.issued_at, c.note, c.key_id"


class CheckpointRepository:
    async def lock_writers(self, conn: Conn) -> None:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('audit_log:checkpoints'))")

    async def try_lock_writers(self, conn: Conn) -> bool:
        locked: bool = await conn.fetchval(
            "SELECT pg_try_advisory_xact_lock(hashtext('audit_log:checkpoints'))"
        )
        return locked

    async def signing_key(self, conn: Conn) -> asyncpg.Record | None:
        return await conn.fetchrow(
            "SELECT id, name, public_key, private_key_ct FROM signing_keys ORDER BY id DESC LIMIT 1"
        )

    async def public_keys(self, conn: Conn) -> list[asyncpg.Record]:
        return await conn.fetch(
            "SELECT id, name, public_key, created_at FROM signing_keys ORDER BY id"
        )

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

    async def latest(self, conn: Conn) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {COLUMNS}, k.name, k.public_key FROM checkpoints c"  # noqa: S608
            " JOIN signing_keys k ON k.id = c.key_id ORDER BY c.id DESC LIMIT 1"
        )

    async def all(self, conn: Conn) -> list[asyncpg.Record]:
        return await conn.fetch(
            f"SELECT {COLUMNS}, k.name, k.public_key FROM checkpoints c"  # noqa: S608
            " JOIN signing_keys k ON k.id = c.key_id ORDER BY c.tree_size, c.id"
        )


checkpoint_repository = CheckpointRepository()
