"""The log as C2SP tlog-tiles (c2sp.org/tlog-tiles): the signed checkpoint, hash tiles and
entry bundles, served from the stored tree or written out as static files.

A level-L tile N of width W holds, concatenated, the hashes of tree level 8·L at indexes
``N·256 .. N·256+W-1``: level 0 is each entry's stored leaf hash, the others the stored
perfect-subtree nodes (``tree_nodes``), so a tile is one range read and nothing is hashed to
serve it. An entry bundle holds the same leaves' canonical bytes (``tree.leaf``), each a
big-endian uint16 length then the bytes, so ``SHA-256(0x00 || entry)`` (RFC 6962 §2.1) is the
leaf hash in the level-0 tile. Those bytes carry the payload only as ciphertext: an entry
whose data key was destroyed stays unreadable in a bundle, and its leaf hash is unchanged.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator

from audit_log.checkpoints.service import CheckpointService, SignedCheckpoint
from audit_log.tiles.paths import MAX_LEVEL, TILE_HEIGHT, TILE_WIDTH, tile_path
from audit_log.tiles.repository import TileRepository, tile_repository
from audit_log.tree.leaf import MAX_LEAF_BYTES, EntryTooLarge
from vigie_shared.kit.db import Conn


def bundle(entries: list[bytes], first: int = 0) -> bytes:
    """Entries ``first``, ``first + 1``…, each a big-endian uint16 length then its bytes.

    ``EntryTooLarge`` for an entry beyond that length: ingestion refuses such an event before
    appending it (``ingest.service.entry_of``), so only a leaf appended before that rule can
    raise it, and the bundle holding it is then refused whole, never cut short."""
    parts: list[bytes] = []
    for offset, entry in enumerate(entries):
        if len(entry) > MAX_LEAF_BYTES:
            raise EntryTooLarge(
                f"entry {first + offset} is {len(entry)} bytes, beyond the {MAX_LEAF_BYTES}"
                " an entry bundle carries"
            )
        parts.append(struct.pack(">H", len(entry)))
        parts.append(entry)
    return b"".join(parts)


class TileService:
    def __init__(
        self, checkpoints: CheckpointService, repository: TileRepository = tile_repository
    ) -> None:
        self._checkpoints = checkpoints
        self._repository = repository

    async def checkpoint(self, conn: Conn) -> SignedCheckpoint:
        """The latest signed checkpoint; the first one is signed now if there is none yet."""
        checkpoint = await self._checkpoints.latest(conn)
        if checkpoint is None:
            checkpoint = await self._checkpoints.issue(conn)
        assert checkpoint is not None
        return checkpoint

    async def hash_tile(self, conn: Conn, level: int, index: int, width: int) -> bytes | None:
        """The tile, or None while the tree has fewer than ``width`` hashes there."""
        if not 0 <= level < MAX_LEVEL:
            return None
        start = index * TILE_WIDTH
        hashes = await self._repository.hashes(conn, level * TILE_HEIGHT, start, start + width)
        return b"".join(hashes) if len(hashes) == width else None

    async def entry_bundle(self, conn: Conn, index: int, width: int) -> bytes | None:
        start = index * TILE_WIDTH
        leaves = await self._repository.leaves(conn, start, start + width)
        if len(leaves) != width:
            return None
        return bundle([leaf.canonical() for leaf in leaves], start)

    async def static_files(
        self, conn: Conn, tree_size: int, note: str, *, entries: bool
    ) -> AsyncIterator[tuple[str, bytes]]:
        """(path, bytes) of checkpoint ``note`` (of ``tree_size``) and every tile of its tree,
        as a static host serves them: full tiles and, at each level, the partial tile at the
        right edge. The caller gives a repeatable-read transaction, so all come from one
        snapshot."""
        size = tree_size
        yield "checkpoint", note.encode()
        level = 0
        while size >> (level * TILE_HEIGHT):
            for index, width in _tiles(size >> (level * TILE_HEIGHT)):
                data = await self.hash_tile(conn, level, index, width)
                if data is None:
                    raise LookupError(f"level {level} tile {index} is missing from storage")
                yield tile_path(level, index, width), data
            level += 1
        if entries:
            for index, width in _tiles(size):
                data = await self.entry_bundle(conn, index, width)
                if data is None:
                    raise LookupError(f"entry bundle {index} is missing from storage")
                yield tile_path("entries", index, width), data


def _tiles(count: int) -> list[tuple[int, int]]:
    """(index, width) of the tiles covering ``count`` hashes: full ones, then a partial one."""
    tiles = [(index, TILE_WIDTH) for index in range(count // TILE_WIDTH)]
    if count % TILE_WIDTH:
        tiles.append((count // TILE_WIDTH, count % TILE_WIDTH))
    return tiles
