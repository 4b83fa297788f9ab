"""asyncpg pool bound to one service's schema: each service owns its schema
(docs/architecture.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Conn = asyncpg.Connection | PoolConnectionProxy
"""A connection, pooled or not (the edge that owns the transaction passes it down)."""

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_IDENTIFIER = _SCHEMA


def check_schema(schema: str) -> str:
    # Schema names are interpolated into DDL (identifiers cannot be bound as $n parameters).
    if not _SCHEMA.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


@dataclass(frozen=True, slots=True)
class RowUpdate:
    """``UPDATE <table> SET ... WHERE <key> = $1 RETURNING *`` for a chosen set of columns.

    Identifiers cannot be bound as ``$n`` parameters, so the table, the key and every column
    come from this fixed declaration in a repository, and a column outside ``columns`` is
    refused before any SQL is written; values are always parameters.
    """

    table: str
    columns: frozenset[str]
    key: str = "id"
    touch: str | None = None
    """A column set to ``now()`` on every update (e.g. ``updated_at``)."""

    def __post_init__(self) -> None:
        for name in (self.table, self.key, *self.columns, *([self.touch] if self.touch else [])):
            if not _IDENTIFIER.match(name):
                raise ValueError(f"invalid identifier {name!r}")

    def statement(self, key: Any, fields: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL and its arguments (``key`` first) for setting ``fields``."""
        unknown = set(fields) - self.columns
        if unknown:
            raise ValueError(f"{self.table} has no updatable column {', '.join(sorted(unknown))}")
        if not fields:
            raise ValueError(f"nothing to update in {self.table}")
        names = sorted(fields)
        assignments = [f"{name} = ${i}" for i, name in enumerate(names, start=2)]
        if self.touch:
            assignments.append(f"{self.touch} = now()")
        sql = (
            f"UPDATE {self.table} SET {', '.join(assignments)}"  # noqa: S608
            f" WHERE {self.key} = $1 RETURNING *"
        )
        return sql, [key, *(fields[name] for name in names)]

    async def fetch(self, conn: Conn, key: Any, fields: Mapping[str, Any]) -> asyncpg.Record:
        """Apply the update and return the updated row; the row must exist."""
        sql, args = self.statement(key, fields)
        row: asyncpg.Record | None = await conn.fetchrow(sql, *args)
        if row is None:
            raise LookupError(f"no {self.table} row with {self.key} = {key!r}")
        return row


RecordT = TypeVar("RecordT", bound="DataclassInstance")


def record(cls: type[RecordT], row: asyncpg.Record) -> RecordT:
    """The typed record ``cls`` (a dataclass) of a row, taking exactly its fields.

    A column the record does not declare is ignored, so ``SELECT *`` keeps working when a
    migration adds one; a field the row lacks is a ``KeyError`` at once, not a wrong value.
    """
    return cls(**{field.name: row[field.name] for field in fields(cls)})


def columns(cls: type[RecordT], records: Sequence[RecordT]) -> list[list[Any]]:
    """The values of ``records`` one list per field of ``cls``, in its order: the arrays an
    ``INSERT ... SELECT * FROM unnest($1::t[], ...)`` takes to write many rows in one statement.
    The inverse of :func:`record`; shallow, where ``dataclasses.astuple`` deep-copies each
    value."""
    return [[getattr(each, field.name) for each in records] for field in fields(cls)]


def arrays(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """The values of tuple ``rows`` one list per position: the arrays an ``unnest($1::t[], ...)``
    takes, as :func:`columns` gives them for records. ``width`` is the tuples' length, so that
    no rows still give one (empty) array per column."""
    result: list[list[Any]] = [[] for _ in range(width)]
    for row in rows:
        if len(row) != width:
            raise ValueError(f"a row of {len(row)} values where {width} were expected")
        for values, value in zip(result, row, strict=True):
            values.append(value)
    return result


_JSONB_VERSION = b"\x01"
"""The first byte of jsonb's binary form, followed by the document as JSON text (PostgreSQL's
``jsonb_send``/``jsonb_recv``, the only version there is)."""


_EMPTY_OBJECT = _JSONB_VERSION + b"{}"


def _jsonb_encode(value: Any) -> bytes:
    # An empty object, the most common document (facets an event does not have), costs
    # json.dumps as much as a small one does: its bytes are known.
    if type(value) is dict and not value:
        return _EMPTY_OBJECT
    return _JSONB_VERSION + json.dumps(value).encode()


def _jsonb_decode(data: bytes) -> Any:
    if data[:1] != _JSONB_VERSION:
        raise ValueError(f"unsupported jsonb binary version {data[:1]!r}")
    return json.loads(data[1:])


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog", format="text"
    )
    # jsonb in binary: a text codec would keep asyncpg's binary COPY (copy_records_to_table)
    # from taking jsonb columns, and the audit log writes its leaves by COPY.
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_encode, decoder=_jsonb_decode, schema="pg_catalog", format="binary"
    )


async def connect(dsn: str, schema: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": check_schema(schema)})
    await _init_connection(conn)
    return conn


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Released connections are not reset with asyncpg's default ``RESET ALL; UNLISTEN *;
    pg_advisory_unlock_all(); CLOSE ALL``: that query is one more round trip for every
    acquisition, a large share of a short transaction's cost. asyncpg still rolls back an open
    transaction and drops the Python listeners before calling this. So session state must not
    outlive a checkout: settings are ``SET LOCAL``, locks ``pg_advisory_xact_lock``, and a
    session-level lock or ``LISTEN`` is undone before release (the outbox relay does), or the
    connection is terminated."""


async def create_pool(
    dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10, **kwargs: Any
) -> asyncpg.Pool:
    kwargs.setdefault("reset", _keep_session)
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={
            "search_path": check_schema(schema),
            "application_name": f"vigie-{schema}",
        },
        init=_init_connection,
        **kwargs,
    )
