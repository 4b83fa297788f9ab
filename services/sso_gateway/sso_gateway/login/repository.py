"""All SQL on login attempts (throttling, login history)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vigie_shared.kit.db import Conn


@dataclass(frozen=True)
class Bucket:
    """Failures counted against one throttling key within the window, and when the last one
    happened (None without any)."""

    failures: int
    last_failure: datetime | None


@dataclass(frozen=True)
class Budgets:
    """The three buckets an attempt is checked against, and the database's clock."""

    own: Bucket
    """This account from this browser: the recognised device, else this IP without one."""
    ip: Bucket
    """Every account tried from this IP without a recognised device."""
    account: Bucket
    """This account from anywhere without a recognised device."""
    now: datetime


class AttemptRepository:
    async def lock(self, conn: Conn, *, account_key: str, ip: str | None) -> None:
        """Serialise the check-and-record of attempts on one account and one IP until the
        transaction ends: concurrent guesses must each see the ones before (a count read
        before the attempt is recorded lets parallel requests all pass). Always the account
        first, then the IP, so two transactions never wait on each other in a cycle."""
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"login:{account_key}"
        )
        if ip is not None:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"login-ip:{ip}"
            )

    async def budgets(
        self,
        conn: Conn,
        *,
        user_id: str | None,
        identifier: str,
        ip: str | None,
        device: str | None,
        window: int,
    ) -> Budgets:
        """Failures in the last ``window`` seconds. An attempt in flight counts as a failure
        until its password is found right (``begin`` records it so)."""
        row = await conn.fetchrow(
            "WITH recent AS ("
            " SELECT at, device, ip, CASE WHEN $1::text IS NULL"
            "  THEN user_id IS NULL AND identifier = $2 ELSE user_id = $1 END AS mine"
            " FROM login_attempts"
            " WHERE NOT succeeded AND at > now() - make_interval(secs => $5)"
            " AND (user_id = $1 OR identifier = $2 OR ip = $3)"
            "), tagged AS ("
            " SELECT *, mine AND CASE WHEN $4::text IS NULL"
            "  THEN device IS NULL AND ip IS NOT DISTINCT FROM $3 ELSE device = $4 END AS own"
            " FROM recent"
            ")"
            " SELECT now() AS now,"
            " count(*) FILTER (WHERE own) AS own_n, max(at) FILTER (WHERE own) AS own_at,"
            " count(*) FILTER (WHERE device IS NULL AND ip = $3) AS ip_n,"
            " max(at) FILTER (WHERE device IS NULL AND ip = $3) AS ip_at,"
            " count(*) FILTER (WHERE mine AND device IS NULL) AS account_n,"
            " max(at) FILTER (WHERE mine AND device IS NULL) AS account_at"
            " FROM tagged",
            user_id,
            identifier,
            ip,
            device,
            float(window),
        )
        assert row is not None
        return Budgets(
            own=Bucket(int(row["own_n"]), row["own_at"]),
            ip=Bucket(int(row["ip_n"]), row["ip_at"]),
            account=Bucket(int(row["account_n"]), row["account_at"]),
            now=row["now"],
        )

    async def begin(
        self,
        conn: Conn,
        *,
        identifier: str,
        ip: str | None,
        user_id: str | None,
        device: str | None,
    ) -> int:
        """Record an attempt as failed before its password is checked; ``succeed`` turns it
        into a success. A crash in between leaves a failure, the safe side."""
        attempt_id: int = await conn.fetchval(
            "INSERT INTO login_attempts (identifier, ip, user_id, device, succeeded)"
            " VALUES ($1, $2, $3, $4, false) RETURNING id",
            identifier,
            ip,
            user_id,
            device,
        )
        return attempt_id

    async def succeed(self, conn: Conn, attempt_id: int) -> None:
        await conn.execute("UPDATE login_attempts SET succeeded = true WHERE id = $1", attempt_id)


attempt_repository = AttemptRepository()
