"""c2sp.org/tlog-tiles read API. The checkpoint and the hash tiles reveal nothing about anyone
(hashes only) and are public; entry bundles name pseudonymous subjects and actors, so they ask
for the same auditor token as the entries API and each read of them is audited."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse

from audit_log.deps import Audit, AuditedReader, DbConn
from audit_log.tiles.paths import TILE_WIDTH, BadTilePath, parse_index
from audit_log.tree.leaf import EntryTooLarge
from vigie_shared.kit.http import Problem

log = logging.getLogger(__name__)

router = APIRouter(tags=["tiles"])

IMMUTABLE = "public, max-age=31536000, immutable"
"""A full tile never changes (tlog-tiles: full tiles are immutable)."""
PARTIAL = "public, max-age=10"
"""A partial tile is superseded by a wider one as the tree grows."""
PERSONAL = "private, no-store"
"""Entry bundles: a copy kept by a cache would be read without being audited."""
CHECKPOINT = "no-cache"


def _index(path: str) -> tuple[int, int]:
    try:
        return parse_index(path)
    except BadTilePath as exc:
        raise Problem(404, "Not Found", str(exc)) from exc


def _tile(data: bytes | None, cache: str) -> Response:
    if data is None:
        raise Problem(404, "Not Found", "The tree has no such tile yet.")
    return Response(data, media_type="application/octet-stream", headers={"Cache-Control": cache})


@router.get(
    "/checkpoint",
    summary="The latest checkpoint (C2SP tlog-checkpoint), cosigned by the witness policy's quorum",
    response_class=PlainTextResponse,
)
async def checkpoint(audit: Audit, conn: DbConn) -> Response:
    return Response(
        await audit.witnesses.served_note(conn),
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": CHECKPOINT},
    )


# Declared before the hash tiles' route, whose level would otherwise take "entries".
@router.get(
    "/tile/entries/{path:path}",
    summary="An entry bundle (auditor token)",
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def entry_bundle(path: str, _reader: AuditedReader, audit: Audit, conn: DbConn) -> Response:
    index, width = _index(path)
    try:
        data = await audit.tiles.entry_bundle(conn, index, width)
    except EntryTooLarge as exc:
        # A leaf appended before ingestion refused such events: the tree holds it, the
        # format cannot carry it, and a bundle cut short would mislead; say which entry.
        log.error("entry bundle %s: %s", path, exc)
        raise Problem(500, "Internal Server Error", str(exc)) from exc
    return _tile(data, PERSONAL)


@router.get(
    "/tile/{level}/{path:path}",
    summary="A hash tile (public)",
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def hash_tile(level: str, path: str, audit: Audit, conn: DbConn) -> Response:
    if not level.isdigit() or level != str(int(level)):
        raise Problem(404, "Not Found", f"not a tile level: {level!r}")
    index, width = _index(path)
    data = await audit.tiles.hash_tile(conn, int(level), index, width)
    return _tile(data, IMMUTABLE if width == TILE_WIDTH else PARTIAL)
