"""All SQL on back-channel logout deliveries."""

from __future__ import annotations

import uuid
from typing import Any

from sso_gateway.backchannel.records import Claimed, Undelivered
from vigie_shared.kit.db import Conn, record


class DeliveryRepository:
    async def insert(self, conn: Conn, *, client_id: str, uri: str, claims: dict[str, Any]) -> None:
        await conn.execute(
            "INSERT INTO backchannel_deliveries (client_id, uri, claims) VALUES ($1, $2, $3)",
            client_id,
            uri,
            claims,
        )

    async def claim_due(
        self, conn: Conn, *, limit: int, lease_seconds: float, claim_id: uuid.UUID
    ) -> list[Claimed]:
        """Lease up to ``limit`` due deliveries to ``claim_id``, in one statement: the row
        locks last only as long as it (``SKIP LOCKED`` lets another replica take other rows at
        the same time), and the lease moves ``next_at`` past now, so no one else claims them
        until it expires."""
        rows = await conn.fetch(
            "UPDATE backchannel_deliveries d"
            " SET claim_id = $3, next_at = now() + make_interval(secs => $2)"
            " FROM (SELECT id FROM backchannel_deliveries"
            "  WHERE delivered_at IS NULL AND failed_at IS NULL AND next_at <= now()"
            "  ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED) due"
            " WHERE d.id = due.id"
            " RETURNING d.id, d.client_id, d.uri, d.claims, d.attempts",
            limit,
            lease_seconds,
            claim_id,
        )
        return [
            Claimed(
                id=row["id"],
                claim_id=claim_id,
                client_id=row["client_id"],
                uri=row["uri"],
                claims=dict(row["claims"]),
                attempts=row["attempts"],
            )
            for row in rows
        ]

    async def delivered(self, conn: Conn, delivery_id: int, claim_id: uuid.UUID) -> bool:
        """Record success if the claim is still ours (False: the lease expired and another
        worker took the row over; it will send again, which the platform tolerates)."""
        status: str = await conn.execute(
            "UPDATE backchannel_deliveries SET delivered_at = now(), attempts = attempts + 1,"
            " claim_id = NULL WHERE id = $1 AND claim_id = $2 AND delivered_at IS NULL",
            delivery_id,
            claim_id,
        )
        return status == "UPDATE 1"

    async def failed_attempt(
        self,
        conn: Conn,
        delivery_id: int,
        claim_id: uuid.UUID,
        *,
        error: str,
        retry_in: float,
        give_up: bool,
    ) -> bool:
        status: str = await conn.execute(
            "UPDATE backchannel_deliveries SET attempts = attempts + 1, last_error = $3,"
            " next_at = now() + make_interval(secs => $4), claim_id = NULL,"
            " failed_at = CASE WHEN $5 THEN now() END"
            " WHERE id = $1 AND claim_id = $2 AND delivered_at IS NULL",
            delivery_id,
            claim_id,
            error,
            retry_in,
            give_up,
        )
        return status == "UPDATE 1"

    async def undelivered(self, conn: Conn) -> list[Undelivered]:
        rows = await conn.fetch(
            "SELECT id, client_id, uri, attempts, last_error, next_at, failed_at, created_at"
            " FROM backchannel_deliveries WHERE delivered_at IS NULL AND attempts > 0"
            " ORDER BY id"
        )
        return [record(Undelivered, row) for row in rows]


delivery_repository = DeliveryRepository()
