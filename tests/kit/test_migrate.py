from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from vigie_shared.kit.migrate import MigrationError, migrate

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_migrations_create_the_schema_and_apply_once(
    database_url: str, schema: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_things.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);")
    first = await migrate(database_url, schema, tmp_path)
    second = await migrate(database_url, schema, tmp_path)
    assert first == [
        "kit:0001_outbox_inbox.sql",
        "kit:0002_dead_letters.sql",
        "service:0001_things.sql",
    ]
    assert second == []
    conn = await asyncpg.connect(database_url)
    try:
        tables = {
            r["table_name"]
            for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
            )
        }
    finally:
        await conn.close()
    assert {"things", "outbox", "inbox", "schema_migrations"} <= tables


async def test_new_migration_is_applied_after_the_old_ones(
    database_url: str, schema: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (id int);")
    await migrate(database_url, schema, tmp_path)
    (tmp_path / "0002_b.sql").write_text("CREATE TABLE b (id int);")
    assert await migrate(database_url, schema, tmp_path) == ["service:0002_b.sql"]


async def test_an_edited_applied_migration_is_refused(
    database_url: str, schema: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (id int);")
    await migrate(database_url, schema, tmp_path)
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (id bigint);")
    with pytest.raises(MigrationError, match="was edited"):
        await migrate(database_url, schema, tmp_path)


async def test_a_failing_migration_leaves_nothing_behind(
    database_url: str, schema: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_bad.sql").write_text("CREATE TABLE ok (id int); SELECT no_such_function();")
    with pytest.raises(asyncpg.PostgresError):
        await migrate(database_url, schema, tmp_path)
    conn = await asyncpg.connect(database_url)
    try:
        exists = await conn.fetchval(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", schema
        )
    finally:
        await conn.close()
    assert exists == 0


async def test_invalid_schema_names_are_refused(database_url: str) -> None:
    with pytest.raises(ValueError, match="invalid schema"):
        await migrate(database_url, 'x"; DROP TABLE y; --', None)
