"""All SQL on the client assertions already used (their jti, RFC 7523 §3 item 7)."""

from __future__ import annotations

from datetime import datetime

from vigie_shared.kit.db import Conn

SWEEP_BATCH = 32
"""Expired rows deleted by each insert: more than one, so that the table shrinks back after a
burst, and few, so that an insert never waits on a long delete. ``SKIP LOCKED``: replicas
sweeping at once take different rows."""


class ClientAssertionRepository:
    async def use(self, conn: Conn, client_id: str, jti: str, expires_at: datetime) -> bool:
        """Record that ``client_id`` used ``jti`` until ``expires_at``; False when it already
        had, in an assertion still unexpired (a replay). A jti whose row has expired may be
        used again (RFC 7523 §3: the jti is kept only while the assertion would be valid)."""
        # One statement (atomic by itself, no BEGIN/COMMIT round trips): the sweep leaves out
        # the row being inserted, which a statement may not both delete and update.
        used = await conn.fetchval(
            "WITH swept AS (DELETE FROM client_assertions WHERE (client_id, jti) IN ("
            " SELECT client_id, jti FROM client_assertions"
            " WHERE expires_at < now() AND NOT (client_id = $1 AND jti = $2)"
            " LIMIT $4 FOR UPDATE SKIP LOCKED))"
            " INSERT INTO client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at"
            " WHERE client_assertions.expires_at < now()"
            " RETURNING true",
            client_id,
            jti,
            expires_at,
            SWEEP_BATCH,
        )
        return bool(used)


client_assertion_repository = ClientAssertionRepository()
