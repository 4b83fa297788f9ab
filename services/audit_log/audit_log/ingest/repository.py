"""All SQL on audit entries."""

from __future__ import annotations

import json
from datetime import datetime

from vigie_shared.kit.db import Conn


class EntryRepository:
    async def append(
        self,
        conn: Conn,
        *,
        event_id: str,
        topic: str,
        type_: str,
        source: str,
        subject: str,
        actor: str | None,
        time: datetime,
        data_json: str,
    ) -> None:
        await conn.execute(
            "INSERT INTO entries (event_id, topic, type, source, subject, actor, time, data)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id) DO NOTHING",
            event_id,
            topic,
            type_,
            source,
            subject,
            actor,
            time,
            json.loads(data_json),
        )

    async def count(self, conn: Conn) -> int:
        value: int = await conn.fetchval("SELECT count(*) FROM entries")
        return value


entry_repository = EntryRepository()
