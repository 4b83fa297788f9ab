"""All SQL on login attempts (throttling, login history)."""

from __future__ import annotations

from vigie_shared.kit.db import Conn


class AttemptRepository:
    async def record(
        self, conn: Conn, *, identifier: str, ip: str | None, user_id: str | None, ok: bool
    ) -> None:
        await conn.execute(
            "INSERT INTO login_attempts (identifier, ip, user_id, succeeded)"
            " VALUES ($1, $2, $3, $4)",
            identifier,
            ip,
            user_id,
            ok,
        )

    async def recent_failures(
        self, conn: Conn, *, identifier: str, ip: str | None, window: int
    ) -> tuple[int, int]:
        """Failures in the last ``window`` seconds for this identifier, and from this IP."""
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE identifier = $1) AS account,"
            " count(*) FILTER (WHERE ip = $2) AS ip FROM login_attempts"
            " WHERE NOT succeeded AND at > now() - make_interval(secs => $3)"
            " AND (identifier = $1 OR ip = $2)",
            identifier,
            ip,
            float(window),
        )
        assert row is not None
        return int(row["account"]), int(row["ip"])


attempt_repository = AttemptRepository()
