"""All SQL of the tiles: ranges of one tree level (leaf hashes or stored nodes) and of leaves,
read by primary key, so a tile is one index range scan of at most 256 rows."""

from __future__ import annotations

from audit_log.tree.leaf import Leaf
from audit_log.tree.repository import LEAF_COLUMNS, leaf_from_row
from vigie_shared.kit.db import Conn


class TileRepository:
    async def hashes(self, conn: Conn, level: int, start: int, end: int) -> list[bytes]:
        """Hashes of tree level ``level`` at indexes ``[start, end)`` that exist, in order."""
        if level == 0:
            rows = await conn.fetch(
                "SELECT leaf_hash AS hash FROM log_entries"
                " WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index",
                start,
                end,
            )
        else:
            rows = await conn.fetch(
                "SELECT hash FROM tree_nodes WHERE level = $1 AND idx >= $2 AND idx < $3"
                " ORDER BY idx",
                level,
                start,
                end,
            )
        return [bytes(row["hash"]) for row in rows]

    async def leaves(self, conn: Conn, start: int, end: int) -> list[Leaf]:
        rows = await conn.fetch(
            f"SELECT {LEAF_COLUMNS} FROM log_entries"  # noqa: S608
            " WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index",
            start,
            end,
        )
        return [leaf_from_row(row) for row in rows]


tile_repository = TileRepository()
