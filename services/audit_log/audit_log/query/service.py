"""Reading entries: filters, keyset pagination, CSV, and the subject's export (GDPR Art. 15)."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import AsyncIterator, Sequence

from audit_log.query.repository import QueryRepository, query_repository
from audit_log.query.schemas import EntryFilter, EntryPage, EntryPublic
from audit_log.shredding.service import Keys
from audit_log.tree.repository import StoredLeaf, tree_repository
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

    async def public(self, conn: Conn, stored: Sequence[StoredLeaf]) -> list[EntryPublic]:
        payloads = await self._keys.open_payloads(
            conn, [(s.leaf.key_id, s.leaf.event_id, s.leaf.data_ct) for s in stored]
        )
        out = []
        for entry, data in zip(stored, payloads, strict=True):
            leaf = entry.leaf
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
                    leaf_hash=base64.b64encode(entry.leaf_hash).decode(),
                    leaf=base64.b64encode(leaf.canonical()).decode(),
                )
            )
        return out

    async def page(self, conn: Conn, where: EntryFilter, *, after: int, limit: int) -> EntryPage:
        stored = await self._repository.page(conn, where, after=after, limit=limit)
        entries = await self.public(conn, stored)
        return EntryPage(
            entries=entries, next_after=entries[-1].index if len(entries) == limit else None
        )

    async def csv(self, conn: Conn, where: EntryFilter, *, page: int = 1000) -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        after = -1
        while True:
            stored = await self._repository.page(conn, where, after=after, limit=page)
            for entry in await self.public(conn, stored):
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
            if len(stored) < page:
                return
            after = stored[-1].leaf.index

    async def get(self, conn: Conn, index: int) -> EntryPublic | None:
        stored = await tree_repository.leaf(conn, index)
        return None if stored is None else (await self.public(conn, [stored]))[0]

    async def export(self, conn: Conn, data_subject: str) -> list[EntryPublic]:
        return await self.public(conn, await self._repository.of_data_subject(conn, data_subject))
