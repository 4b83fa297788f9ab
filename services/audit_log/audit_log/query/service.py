"""Reading entries: filters, keyset pagination, CSV, and the subject's export (GDPR Art. 15)."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import AsyncIterator, Sequence

import asyncpg

from audit_log.query.repository import QueryRepository, query_repository
from audit_log.query.schemas import EntryFilter, EntryPage, EntryPublic
from audit_log.shredding.service import Keys
from audit_log.tree.repository import leaf_from_row, tree_repository
from vigie_shared.kit.db import Conn

CSV_COLUMNS = (
    "index",
    "event_id",
    "time",
    "type",
    "source",
    "subject",
    "actor",
    "data_subject",
    "topic",
    "shredded",
    "facets",
    "data",
    "leaf_hash",
)


class QueryService:
    def __init__(self, keys: Keys, repository: QueryRepository = query_repository) -> None:
        self._keys = keys
        self._repository = repository

    async def public(self, conn: Conn, rows: Sequence[asyncpg.Record]) -> list[EntryPublic]:
        payloads = await self._keys.open_payloads(
            conn, [(r["key_id"], r["event_id"], bytes(r["data_ct"])) for r in rows]
        )
        out = []
        for row, data in zip(rows, payloads, strict=True):
            leaf = leaf_from_row(row)
            out.append(
                EntryPublic(
                    index=leaf.index,
                    event_id=leaf.event_id,
                    topic=leaf.topic,
                    type=leaf.type,
                    source=leaf.source,
                    subject=leaf.subject,
                    actor=leaf.actor,
                    time=leaf.time,
                    data_subject=leaf.data_subject,
                    facets=leaf.facets,
                    data=data,
                    shredded=data is None,
                    leaf_hash=base64.b64encode(bytes(row["leaf_hash"])).decode(),
                    leaf=base64.b64encode(leaf.canonical()).decode(),
                )
            )
        return out

    async def page(self, conn: Conn, where: EntryFilter, *, after: int, limit: int) -> EntryPage:
        rows = await self._repository.page(conn, where, after=after, limit=limit)
        entries = await self.public(conn, rows)
        return EntryPage(
            entries=entries, next_after=entries[-1].index if len(entries) == limit else None
        )

    async def csv(self, conn: Conn, where: EntryFilter, *, page: int = 1000) -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        after = -1
        while True:
            rows = await self._repository.page(conn, where, after=after, limit=page)
            for entry in await self.public(conn, rows):
                writer.writerow(
                    (
                        entry.index,
                        entry.event_id,
                        entry.time.isoformat(),
                        entry.type,
                        entry.source,
                        entry.subject,
                        entry.actor or "",
                        entry.data_subject,
                        entry.topic,
                        entry.shredded,
                        json.dumps(entry.facets),
                        "" if entry.data is None else json.dumps(entry.data, ensure_ascii=False),
                        entry.leaf_hash,
                    )
                )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(rows) < page:
                return
            after = rows[-1]["leaf_index"]

    async def get(self, conn: Conn, index: int) -> EntryPublic | None:
        row = await tree_repository.leaf(conn, index)
        return None if row is None else (await self.public(conn, [row]))[0]

    async def export(self, conn: Conn, data_subject: str) -> list[EntryPublic]:
        return await self.public(conn, await self._repository.of_data_subject(conn, data_subject))
