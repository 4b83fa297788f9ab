"""The log as C2SP tlog-tiles: the checkpoint and hash tiles public and cacheable, entry bundles
for auditors only and still sealed after an erasure, and ``vigie audit export-tiles`` writing
the same bytes as served."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from audit_log import cli
from audit_log.checkpoints.note import open_note
from audit_log.merkle import leaf_hash, root_from_leaf_hashes
from audit_log.tiles import service as tiles_service
from audit_log.tiles.paths import BadTilePath, encode_index, parse_index, tile_path
from audit_log.tree.leaf import MAX_LEAF_BYTES, EntryTooLarge
from tests.audit_log.support import Api, LogUnderTest, entry

pytestmark = pytest.mark.asyncio(loop_scope="session")


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def entries_of(bundle: bytes) -> list[bytes]:
    out = []
    while bundle:
        size = int.from_bytes(bundle[:2], "big")
        out.append(bundle[2 : 2 + size])
        bundle = bundle[2 + size :]
    return out


async def test_tile_indexes_are_written_in_x_prefixed_groups_of_three_digits() -> None:
    assert encode_index(0) == "000"
    assert encode_index(1234067) == "x001/x234/067"
    assert tile_path(0, 1234067, 5) == "tile/0/x001/x234/067.p/5"
    assert tile_path("entries", 7) == "tile/entries/007"
    assert parse_index("x001/x234/067.p/5") == (1234067, 5)
    assert parse_index("001") == (1, 256)
    for bad in ("1", "x000/067", "067.p/256", "067.p/0", "067.p/05", "x1/067", "067/"):
        with pytest.raises(BadTilePath):
            parse_index(bad)


async def test_checkpoint_and_hash_tiles_are_public_and_match_the_tree(
    log: LogUnderTest, api: Api
) -> None:
    http, _ = api
    await log.append(*(entry(i) for i in range(300)))
    async with log.pool.acquire() as conn:
        await log.audit.checkpoints.issue(conn)
        vkey = (await log.audit.checkpoints.verifier_keys(conn))[-1]
    leaves = [
        bytes(r["leaf_hash"])
        for r in await log.pool.fetch("SELECT leaf_hash FROM log_entries ORDER BY leaf_index")
    ]

    note = await http.get("/checkpoint")
    assert note.status_code == 200
    assert note.headers["content-type"] == "text/plain; charset=utf-8"
    signed = open_note(note.text, vkey)
    assert (signed.tree_size, signed.root_hash) == (300, root_from_leaf_hashes(leaves))

    full = await http.get("/tile/0/000")
    assert full.content == b"".join(leaves[:256])
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert full.headers["content-type"] == "application/octet-stream"
    partial = await http.get("/tile/0/001.p/44")
    assert partial.content == b"".join(leaves[256:300])
    assert partial.headers["cache-control"] == "public, max-age=10"
    assert (await http.get("/tile/0/001.p/20")).content == b"".join(leaves[256:276])
    level1 = await http.get("/tile/1/000.p/1")
    assert level1.content == root_from_leaf_hashes(leaves[:256])
    for missing in ("/tile/0/001", "/tile/0/001.p/45", "/tile/1/000", "/tile/0/1", "/tile/x/000"):
        assert (await http.get(missing)).status_code == 404, missing


async def test_entry_bundles_need_an_auditor_and_hash_to_the_leaves(
    log: LogUnderTest, api: Api
) -> None:
    http, issuer = api
    await log.append(*(entry(i, subject="u-lea" if i % 2 else "u-max") for i in range(10)))
    assert (await http.get("/tile/entries/000.p/10")).status_code == 401
    learner = await http.get("/tile/entries/000.p/10", headers=issuer.token("u-1", ["learner"]))
    assert learner.status_code == 403
    response = await http.get("/tile/entries/000.p/10", headers=issuer.token("u-dpo", ["dpo"]))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-store"
    stored = [
        bytes(r["leaf_hash"])
        for r in await log.pool.fetch(
            "SELECT leaf_hash FROM log_entries WHERE leaf_index < 10 ORDER BY leaf_index"
        )
    ]
    assert [leaf_hash(e) for e in entries_of(response.content)] == stored
    read = await log.pool.fetchrow(
        "SELECT actor, type FROM log_entries ORDER BY leaf_index DESC LIMIT 1"
    )
    assert read is not None
    assert (read["actor"], read["type"]) == ("user:u-dpo", "vigie.audit.read")


async def test_an_erased_subject_stays_sealed_in_entry_bundles(log: LogUnderTest, api: Api) -> None:
    http, issuer = api
    secret = "lea.secret@example.org"
    await log.append(
        entry(0, subject="u-lea", data={"user_id": "u-lea", "email": secret}),
        entry(1, subject="u-max"),
    )
    headers = issuer.token("u-dpo", ["dpo"])
    before = (await http.get("/tile/entries/000.p/2", headers=headers)).content
    async with log.pool.acquire() as conn, conn.transaction():
        await log.audit.tree.lock_writer(conn)
        assert await log.audit.keys.erase(conn, "u-lea", "erasure request r-1") == 1
    after = (await http.get("/tile/entries/000.p/2", headers=headers)).content
    assert after == before
    assert secret.encode() not in after
    shown = (await http.get("/entries/0", headers=headers)).json()
    assert (shown["data"], shown["shredded"]) == (None, True)
    assert base64.b64decode(shown["leaf"]) == entries_of(after)[0]


async def test_the_tree_refuses_a_leaf_no_entry_bundle_carries_and_a_bundle_never_cuts_one(
    log: LogUnderTest, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    http, issuer = api
    huge = entry(0, data={"user_id": "u-1", "note": "n" * MAX_LEAF_BYTES})
    with pytest.raises(EntryTooLarge, match=f"beyond the {MAX_LEAF_BYTES}"):
        await log.append(huge)
    async with log.pool.acquire() as conn:
        assert await log.audit.tree.size(conn) == 0
    assert await log.pool.fetchval("SELECT count(*) FROM log_entries") == 0
    # What ingestion judges before the lock bounds the leaf written under it, whatever the
    # index and key id, by no more than their digits.
    small = entry(1)
    (leaf,) = await log.append(small)
    written = len(leaf.canonical())
    assert written <= small.leaf_size_at_most() <= written + 2 * 19
    assert huge.leaf_size_at_most() > MAX_LEAF_BYTES
    # A leaf appended before that rule (as if the limit were below this one's length): its
    # bundle is refused, naming the entry, rather than served with a length that wraps.
    monkeypatch.setattr(tiles_service, "MAX_LEAF_BYTES", written - 1)
    response = await http.get("/tile/entries/000.p/1", headers=issuer.token("u-dpo", ["dpo"]))
    assert response.status_code == 500
    assert f"entry 0 is {written} bytes" in response.json()["detail"]


async def test_export_tiles_writes_what_is_served(
    log: LogUnderTest, api: Api, tmp_path: Path
) -> None:
    http, issuer = api
    await log.append(*(entry(i) for i in range(520)))
    async with log.pool.acquire() as conn:
        await log.audit.checkpoints.issue(conn)
    done = await cli.export_tiles(log.settings, tmp_path, entries=True, schema=log.schema)
    assert (done.tree_size, done.hash_tiles, done.entry_bundles) == (520, 4, 3)
    written = files_under(tmp_path)
    assert written == [
        "checkpoint",
        "tile/0/000",
        "tile/0/001",
        "tile/0/002.p/8",
        "tile/1/000.p/2",
        "tile/entries/000",
        "tile/entries/001",
        "tile/entries/002.p/8",
    ]
    headers = issuer.token("u-dpo", ["dpo"])
    for path in written:
        served = await http.get(f"/{path}", headers=headers)
        assert served.status_code == 200, path
        assert served.content == (tmp_path / path).read_bytes(), path


async def test_vigie_audit_key_prints_the_key_that_opens_the_checkpoint(
    log: LogUnderTest, api: Api
) -> None:
    http, _ = api
    await log.append(entry(0))
    keys = await cli.keys(log.settings, log.schema)
    assert len(keys) == 1
    assert keys[0].startswith(f"{log.settings.checkpoint_origin}+")
    assert open_note((await http.get("/checkpoint")).text, keys[-1]).tree_size == 1
