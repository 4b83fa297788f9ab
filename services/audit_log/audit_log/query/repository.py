"""All SQL of the query API: filtered, keyset-paginated reads of log entries."""

from __future__ import annotations

from audit_log.query.schemas import EntryFilter
from audit_log.tree.repository import LEAF_COLUMNS, StoredLeaf, stored_leaf_from_row
from vigie_shared.kit.db import Conn

# Column names only ever come from this table, never from the caller.
_EQUALITY = ("subject", "data_subject", "actor", "type", "source")


class QueryRepository:
    async def page(
        self, conn: Conn, where: EntryFilter, *, after: int, limit: int
    ) -> list[StoredLeaf]:
        """Entries after leaf ``after`` in leaf order. Only the filters given appear in the SQL,
        so each query can use the index ``(column, leaf_index)`` and stop after ``limit`` rows
        (a generic ``$1 IS NULL OR col = $1`` plan could not)."""
        clauses = ["leaf_index > $1"]
        args: list[object] = [after]
        for column in _EQUALITY:
            value = getattr(where, column)
            if value is not None:
                args.append(value)
                clauses.append(f"{column} = ${len(args)}")
        if where.since is not None:
            args.append(where.since)
            clauses.append(f"time >= ${len(args)}")
        if where.until is not None:
            args.append(where.until)
            clauses.append(f"time < ${len(args)}")
        args.append(limit)
        rows = await conn.fetch(
            f"SELECT {LEAF_COLUMNS} FROM log_entries WHERE {' AND '.join(clauses)}"  # noqa: S608
            f" ORDER BY leaf_index LIMIT ${len(args)}",
            *args,
        )
        return [stored_leaf_from_row(row) for row in rows]

    async def of_data_subject(self, conn: Conn, data_subject: str) -> list[StoredLeaf]:
        rows = await conn.fetch(
            f"SELECT {LEAF_COLUMNS} FROM log_entries WHERE data_subject = $1 OR subject = $1"  # noqa: S608
            " ORDER BY leaf_index",
            data_subject,
        )
        return [stored_leaf_from_row(row) for row in rows]


query_repository = QueryRepository()
