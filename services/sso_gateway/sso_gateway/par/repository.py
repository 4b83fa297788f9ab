"""All SQL on pushed authorization requests (RFC 9126)."""

from __future__ import annotations

from collections.abc import Sequence

from sso_gateway.par.records import PushedRequest
from vigie_shared.kit.db import Conn

PURGE_BATCH = 100
"""Expired rows one push deletes at most: each push adds one row and takes away up to this
many expired ones, so the table stays about as large as the requests still live, and no push
waits on a large delete."""


class PushedRequestRepository:
    async def insert(
        self,
        conn: Conn,
        *,
        uri_hash: str,
        client_id: str,
        parameters: Sequence[tuple[str, str]],
        ttl_seconds: int,
    ) -> None:
        # The database's clock, as for every check of expiry below: the replicas' clocks may
        # differ by more than a short lifetime allows.
        await conn.execute(
            "INSERT INTO pushed_requests (uri_hash, client_id, parameters, expires_at)"
            " VALUES ($1, $2, $3, now() + $4 * interval '1 second')",
            uri_hash,
            client_id,
            [list(pair) for pair in parameters],
            ttl_seconds,
        )

    async def purge_expired(self, conn: Conn, limit: int = PURGE_BATCH) -> int:
        """Delete up to ``limit`` expired rows; rows another replica is deleting are skipped,
        not waited for."""
        deleted: int = await conn.fetchval(
            "WITH gone AS (DELETE FROM pushed_requests WHERE uri_hash IN ("
            " SELECT uri_hash FROM pushed_requests WHERE expires_at <= now()"
            " ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING 1)"
            " SELECT count(*) FROM gone",
            limit,
        )
        return deleted

    async def get_live(self, conn: Conn, uri_hash: str) -> PushedRequest | None:
        """The pushed request, unless it is unknown, used or expired."""
        row = await conn.fetchrow(
            "SELECT client_id, parameters, created_at, expires_at FROM pushed_requests"
            " WHERE uri_hash = $1 AND expires_at > now()",
            uri_hash,
        )
        if row is None:
            return None
        return PushedRequest(
            client_id=row["client_id"],
            parameters=tuple((str(name), str(value)) for name, value in row["parameters"]),
            created_at=row["created_at"],
            expires_at=row["expires_at"],
        )

    async def consume(self, conn: Conn, uri_hash: str, client_id: str) -> bool:
        """Use the pushed request up, in one statement: of two concurrent uses, one only gets
        True (RFC 9126 §4, one-time use)."""
        used: bool = await conn.fetchval(
            "WITH used AS (DELETE FROM pushed_requests WHERE uri_hash = $1 AND client_id = $2"
            " AND expires_at > now() RETURNING 1) SELECT count(*) = 1 FROM used",
            uri_hash,
            client_id,
        )
        return used


pushed_request_repository = PushedRequestRepository()
