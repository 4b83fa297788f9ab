"""All SQL on signing keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sso_gateway.keys.records import PublishedKey
from vigie_shared.kit.db import Conn, record


class KeyRepository:
    async def insert(
        self,
        conn: Conn,
        *,
        kid: str,
        alg: str,
        private_enc: bytes,
        public_jwk: dict[str, Any],
        activates_at: datetime,
    ) -> None:
        await conn.execute(
            "INSERT INTO signing_keys (kid, alg, private_enc, public_jwk, activates_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            kid,
            alg,
            private_enc,
            public_jwk,
            activates_at,
        )

    async def retire_current(
        self, conn: Conn, *, alg: str, retires_at: datetime, drop_after: datetime
    ) -> None:
        """Schedule the retirement of every key of ``alg`` not yet scheduled."""
        await conn.execute(
            "UPDATE signing_keys SET retires_at = $2, drop_after = $3"
            " WHERE alg = $1 AND retires_at IS NULL",
            alg,
            retires_at,
            drop_after,
        )

    async def count(self, conn: Conn, alg: str) -> int:
        n: int = await conn.fetchval("SELECT count(*) FROM signing_keys WHERE alg = $1", alg)
        return n

    async def lock(self, conn: Conn) -> None:
        """Serialise key creation and rotation across replicas until the transaction ends."""
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('sso:signing_keys'))")

    async def published(self, conn: Conn) -> list[PublishedKey]:
        rows = await conn.fetch(
            "SELECT kid, alg, private_enc, public_jwk, created_at, activates_at, retires_at,"
            " drop_after FROM signing_keys WHERE drop_after IS NULL OR drop_after > now()"
            " ORDER BY activates_at"
        )
        return [record(PublishedKey, row) for row in rows]


key_repository = KeyRepository()
