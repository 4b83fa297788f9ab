"""Tile coordinates and their paths (c2sp.org/tlog-tiles): ``tile/<L>/<N>[.p/<W>]`` and
``tile/entries/<N>[.p/<W>]``, the index N written in groups of three decimal digits, every group
but the last prefixed with ``x`` (1234067 is ``x001/x234/067``), so no directory holds more than
a thousand entries."""

from __future__ import annotations

import re

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes per full tile: a level-L tile holds tree level 8·L (tlog-tiles, "Merkle tree")."""

MAX_LEVEL = 63 // TILE_HEIGHT + 1

_INDEX = re.compile(r"(?:x\d{3}/)*\d{3}")


class BadTilePath(ValueError):
    pass


def encode_index(index: int) -> str:
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """The path of a tile: ``level`` is a number or ``"entries"``; a width below 256 is a
    partial tile (``.p/<W>``)."""
    partial = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{encode_index(index)}{partial}"


def parse_index(path: str) -> tuple[int, int]:
    """``<N>[.p/<W>]`` -> (N, W). Only the canonical encoding is accepted: the spec gives each
    tile one path, so a cache never holds two copies of one tile."""
    text, sep, width_text = path.partition(".p/")
    if not _INDEX.fullmatch(text):
        raise BadTilePath(f"not a tile index: {text!r}")
    index = int(text.replace("x", "").replace("/", ""))
    width = TILE_WIDTH
    if sep:
        if not width_text.isdigit() or width_text != str(int(width_text)):
            raise BadTilePath(f"not a partial width: {width_text!r}")
        width = int(width_text)
        if not 1 <= width < TILE_WIDTH:
            raise BadTilePath("a partial tile's width is 1 to 255")
    if encode_index(index) != text:
        raise BadTilePath(f"not the canonical encoding of {index}")
    return index, width
