"""All SQL on witnesses: the size each knows, the cosignatures collected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vigie_shared.kit.db import Conn


@dataclass(frozen=True)
class Cosigned:
    checkpoint_id: int
    tree_size: int
    note: str
    lines: list[str]


@dataclass(frozen=True)
class StoredCosignature:
    tree_size: int
    note: str
    witness: str
    line: str


class WitnessRepository:
    async def known_size(self, conn: Conn, witness: str) -> int:
        size: int | None = await conn.fetchval(
            "SELECT tree_size FROM witness_sizes WHERE witness = $1", witness
        )
        return size or 0

    async def set_size(self, conn: Conn, witness: str, size: int) -> None:
        await conn.execute(
            "INSERT INTO witness_sizes (witness, tree_size) VALUES ($1, $2)"
            " ON CONFLICT (witness) DO UPDATE SET tree_size = EXCLUDED.tree_size",
            witness,
            size,
        )

    async def has_cosignature(self, conn: Conn, checkpoint_id: int, witness: str) -> bool:
        found: bool = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM cosignatures WHERE checkpoint_id = $1 AND witness = $2)",
            checkpoint_id,
            witness,
        )
        return found

    async def add_cosignature(
        self, conn: Conn, checkpoint_id: int, witness: str, signed_at: datetime, line: str
    ) -> None:
        await conn.execute(
            "INSERT INTO cosignatures (checkpoint_id, witness, signed_at, line)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            checkpoint_id,
            witness,
            signed_at,
            line,
        )

    async def latest_cosigned(
        self, conn: Conn, witnesses: list[str], quorum: int
    ) -> Cosigned | None:
        """The latest checkpoint cosigned by at least ``quorum`` of ``witnesses``."""
        row = await conn.fetchrow(
            "SELECT c.id, c.tree_size, c.note, array_agg(s.line ORDER BY s.witness) AS lines"
            " FROM checkpoints c JOIN cosignatures s ON s.checkpoint_id = c.id"
            " WHERE s.witness = ANY($1::text[])"
            " GROUP BY c.id HAVING count(*) >= $2 ORDER BY c.id DESC LIMIT 1",
            witnesses,
            quorum,
        )
        if row is None:
            return None
        return Cosigned(row["id"], row["tree_size"], row["note"], list(row["lines"]))

    async def lines(self, conn: Conn, checkpoint_id: int, witnesses: list[str]) -> list[str]:
        """The cosignature lines of one checkpoint by ``witnesses``, in the order
        :meth:`latest_cosigned` gives them."""
        rows = await conn.fetch(
            "SELECT line FROM cosignatures WHERE checkpoint_id = $1 AND witness = ANY($2::text[])"
            " ORDER BY witness",
            checkpoint_id,
            witnesses,
        )
        return [row["line"] for row in rows]

    async def all_cosignatures(self, conn: Conn) -> list[StoredCosignature]:
        rows = await conn.fetch(
            "SELECT c.tree_size, c.note, s.witness, s.line FROM cosignatures s"
            " JOIN checkpoints c ON c.id = s.checkpoint_id ORDER BY c.id, s.witness"
        )
        return [StoredCosignature(r["tree_size"], r["note"], r["witness"], r["line"]) for r in rows]


witness_repository = WitnessRepository()
