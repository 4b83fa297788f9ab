"""All SQL on back-channel logout deliveries."""

from __future__ import annotations

from typing import Any

import asyncpg

from vigie_shared.kit.db import Conn


class DeliveryRepository:
    async def insert(self, conn: Conn, *, client_id: str, uri: str, claims: dict[str, Any]) -> None:
        await conn.execute(
            "INSERT INTO backchannel_deliveries (client_id, uri, claims) VALUES ($1, $2, $3)",
            client_id,
            uri,
            claims,
        )

    async def claim_due(self, conn: Conn, limit: int) -> list[asyncpg.Record]:
        """Due deliveries, locked for this worker (replicas skip each other's rows)."""
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT id, client_id, uri, claims, attempts FROM backchannel_deliveries"
            " WHERE delivered_at IS NULL AND failed_at IS NULL AND next_at <= now()"
            " ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED",
            limit,
        )
        return rows

    async def delivered(self, conn: Conn, delivery_id: int) -> None:
        await conn.execute(
            "UPDATE backchannel_deliveries SET delivered_at = now(), attempts = attempts + 1"
            " WHERE id = $1",
            delivery_id,
        )

    async def failed_attempt(
        self, conn: Conn, delivery_id: int, *, error: str, retry_in: float, give_up: bool
    ) -> None:
        await conn.execute(
            "UPDATE backchannel_deliveries SET attempts = attempts + 1, last_error = $2,"
            " next_at = now() + make_interval(secs => $3),"
            " failed_at = CASE WHEN $4 THEN now() END WHERE id = $1",
            delivery_id,
            error,
            retry_in,
            give_up,
        )

    async def undelivered(self, conn: Conn) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT id, client_id, uri, attempts, last_error, next_at, failed_at, created_at"
            " FROM backchannel_deliveries WHERE delivered_at IS NULL AND attempts > 0"
            " ORDER BY id"
        )
        return rows


delivery_repository = DeliveryRepository()
