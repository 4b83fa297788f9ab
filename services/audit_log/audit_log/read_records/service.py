"""Every read of the audit log is itself recorded in the log: an internal ``vigie.audit.read``
entry, appended and committed before the answer is sent, so a read that could not be recorded is not
served."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from audit_log.config import SOURCE
from audit_log.tree.service import NewEntry, TreeService
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn
from vigie_shared.kit.oidc import Principal

READ_TYPE = "vigie.audit.read"
INTERNAL_TOPIC = "audit_log.internal"
"""Entries the log writes itself; no Kafka topic carries them."""


def actor_of(principal: Principal) -> str:
    if principal.client_id is not None and principal.client_id == principal.subject:
        return f"service:{principal.subject}"
    return f"user:{principal.subject}"


class ReadAudit:
    def __init__(self, tree: TreeService) -> None:
        self._tree = tree

    async def record(
        self, conn: Conn, principal: Principal, method: str, path: str, query: Mapping[str, Any]
    ) -> int:
        async with conn.transaction():
            (leaf,) = await self._tree.append(
                conn,
                [
                    NewEntry(
                        event_id=f"read-{uuid.uuid4()}",
                        topic=INTERNAL_TOPIC,
                        type=READ_TYPE,
                        source=SOURCE,
                        subject=principal.subject,
                        actor=actor_of(principal),
                        time=utcnow(),
                        data_subject=principal.subject,
                        data={
                            "method": method,
                            "path": path,
                            "query": dict(query),
                            "roles": sorted(principal.roles),
                            "client_id": principal.client_id,
                        },
                    )
                ],
            )
        return leaf.index
