"""``kit.db``: json and jsonb as Python values, jsonb in binary (so binary COPY takes it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from vigie_shared.kit import db

DOCUMENT: dict[str, Any] = {
    "débiteur": "Zoé Ñúñez",
    "debt_ids": ["d-1", "d-2"],
    "amount": 120.5,
    "nested": {"empty": {}, "none": None, "flag": True, "quote": 'a "b" \\ c\n'},
}


@pytest.mark.asyncio(loop_scope="session")
async def test_jsonb_and_json_round_trip_as_python_values(database_url: str, schema: str) -> None:
    conn = await db.connect(database_url, schema)
    try:
        assert await conn.fetchval("SELECT $1::jsonb", DOCUMENT) == DOCUMENT
        assert await conn.fetchval("SELECT $1::json", DOCUMENT) == DOCUMENT
        # What the server made of it, not only what came back: the same document, as jsonb.
        assert await conn.fetchval(
            "SELECT $1::jsonb = $2::text::jsonb",
            DOCUMENT,
            '{"amount": 120.5, "debt_ids":'
            ' ["d-1", "d-2"], "débiteur": "Zoé Ñúñez", "nested": {"none": null, "flag": true,'
            ' "empty": {}, "quote": "a \\"b\\" \\\\ c\\n"}}',
        )
        assert await conn.fetchval("""SELECT '[1, "x", null]'::jsonb""") == [1, "x", None]
        assert await conn.fetchval("SELECT $1::jsonb[]", [DOCUMENT, {}]) == [DOCUMENT, {}]
    finally:
        await conn.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_binary_copy_takes_jsonb_columns(database_url: str, schema: str) -> None:
    pool = await db.create_pool(database_url, schema, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute(f'CREATE SCHEMA "{schema}"')
            await conn.execute("CREATE TABLE docs (id int PRIMARY KEY, body jsonb NOT NULL)")
            await conn.copy_records_to_table(
                "docs", columns=["id", "body"], records=[(1, DOCUMENT), (2, {})]
            )
            rows = await conn.fetch(
                "SELECT id, body, body->>'débiteur' AS who FROM docs ORDER BY id"
            )
        assert [(r["id"], r["body"], r["who"]) for r in rows] == [
            (1, DOCUMENT, "Zoé Ñúñez"),
            (2, {}, None),
        ]
    finally:
        await pool.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_a_value_json_cannot_carry_is_refused_before_it_is_sent(
    database_url: str, schema: str
) -> None:
    conn = await db.connect(database_url, schema)
    try:
        with pytest.raises(asyncpg.DataError, match="not JSON serializable"):
            await conn.fetchval("SELECT $1::jsonb", {"when": object()})
        assert await conn.fetchval("SELECT 1") == 1  # the connection is still usable
    finally:
        await conn.close()


def test_a_jsonb_binary_version_other_than_1_is_an_error() -> None:
    with pytest.raises(ValueError, match="version"):
        db._jsonb_decode(b'\x02{"a": 1}')
    assert db._jsonb_decode(b'\x01{"a": 1}') == {"a": 1}


@dataclass(frozen=True, slots=True)
class _Row:
    name: str
    tags: list[str]
    at: int | None


@pytest.mark.asyncio(loop_scope="session")
async def test_columns_are_the_arrays_an_unnest_insert_takes(
    database_url: str, schema: str
) -> None:
    rows = [_Row("a", ["x"], 1), _Row("b", [], None)]
    arrays = db.columns(_Row, rows)
    assert arrays == [["a", "b"], [["x"], []], [1, None]]
    assert arrays[1][0] is rows[0].tags  # the values themselves, not copies
    conn = await db.connect(database_url, schema)
    try:
        back = await conn.fetch(
            "SELECT * FROM unnest($1::text[], $2::int[]) AS t(name, at)", arrays[0], arrays[2]
        )
        assert [tuple(r) for r in back] == [("a", 1), ("b", None)]
    finally:
        await conn.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_an_empty_object_is_the_empty_jsonb_object(database_url: str, schema: str) -> None:
    conn = await db.connect(database_url, schema)
    try:
        assert await conn.fetchval("SELECT $1::jsonb = '{}'::jsonb", {}) is True
        assert await conn.fetchval("SELECT $1::jsonb", {}) == {}
        assert await conn.fetchval("SELECT jsonb_typeof($1::jsonb)", []) == "array"
    finally:
        await conn.close()


def test_arrays_are_the_columns_of_tuple_rows() -> None:
    rows = [(1, "a", b"x"), (2, "b", b"y")]
    assert db.arrays(rows, 3) == [[1, 2], ["a", "b"], [b"x", b"y"]]
    # No rows still give one array per column: an unnest of empty arrays inserts nothing.
    assert db.arrays([], 3) == [[], [], []]


def test_arrays_refuse_a_row_of_another_width() -> None:
    with pytest.raises(ValueError, match="a row of 2 values where 3 were expected"):
        db.arrays([(1, "a", b"x"), (2, "b")], 3)
