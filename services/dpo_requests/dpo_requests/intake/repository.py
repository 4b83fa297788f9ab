"""All SQL on submissions awaiting their e-mailed one-time code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vigie_shared.kit.db import Conn, record


@dataclass(frozen=True, slots=True)
class SubmissionRecord:
    """A submission as its confirmation reads it; ``request_id`` is set once it was filed."""

    id: str
    email: str
    payload: dict[str, Any]
    code_hash: str
    expires_at: datetime
    attempts: int
    request_id: str | None


class SubmissionRepository:
    async def insert(
        self,
        conn: Conn,
        *,
        submission_id: str,
        email: str,
        mailbox: str,
        client_ip: str | None,
        payload: dict[str, Any],
        code_hash: str,
        expires_at: datetime,
    ) -> None:
        await conn.execute(
            "INSERT INTO email_submissions"
            " (id, email, mailbox, client_ip, payload, code_hash, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            submission_id,
            email,
            mailbox,
            client_ip,
            payload,
            code_hash,
            expires_at,
        )

    async def lock_counts(self, conn: Conn, *, mailbox: str, client_ip: str | None) -> None:
        """Serialise the count-then-insert of submissions to one mailbox and from one client
        until the transaction ends, so that parallel posts cannot all pass the limit."""
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"intake:{mailbox}"
        )
        if client_ip is not None:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"intake-ip:{client_ip}"
            )

    async def count_since(
        self, conn: Conn, *, mailbox: str, client_ip: str | None, since: datetime
    ) -> tuple[int, int]:
        """Submissions since ``since`` to this mailbox, and from this client address."""
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE mailbox = $1) AS mailbox,"
            " count(*) FILTER (WHERE client_ip = $2) AS client"
            " FROM email_submissions WHERE created_at >= $3 AND (mailbox = $1 OR client_ip = $2)",
            mailbox,
            client_ip,
            since,
        )
        assert row is not None
        return int(row["mailbox"]), int(row["client"])

    async def forget_client_addresses(self, conn: Conn, before: datetime) -> None:
        await conn.execute(
            "UPDATE email_submissions SET client_ip = NULL"
            " WHERE client_ip IS NOT NULL AND created_at < $1",
            before,
        )

    async def lock(self, conn: Conn, submission_id: str) -> SubmissionRecord | None:
        row = await conn.fetchrow(
            "SELECT * FROM email_submissions WHERE id = $1 FOR UPDATE", submission_id
        )
        return None if row is None else record(SubmissionRecord, row)

    async def count_attempt(self, conn: Conn, submission_id: str) -> None:
        await conn.execute(
            "UPDATE email_submissions SET attempts = attempts + 1 WHERE id = $1", submission_id
        )

    async def confirm(self, conn: Conn, submission_id: str, request_id: str) -> None:
        await conn.execute(
            "UPDATE email_submissions SET request_id = $2, code_hash = '' WHERE id = $1",
            submission_id,
            request_id,
        )


submission_repository = SubmissionRepository()
