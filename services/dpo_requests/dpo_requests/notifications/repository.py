"""All SQL on outgoing messages: the durable mail queue (migration 0004)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vigie_shared.kit.db import Conn, record

CHANNEL = "vigie_dpo_mail"
"""NOTIFY channel: wakes the sender when a queued message commits."""


@dataclass(frozen=True, slots=True)
class QueuedEmail:
    """A message claimed for sending; ``attempts`` counts this one."""

    id: int
    recipient: str
    subject: str
    body: str
    message_id: str
    lang: str
    attempts: int
    created_at: datetime


class EmailRepository:
    async def insert(
        self,
        conn: Conn,
        *,
        recipient: str,
        subject: str,
        body: str,
        message_id: str,
        lang: str,
    ) -> None:
        await conn.execute(
            "INSERT INTO outgoing_emails (recipient, subject, body, message_id, lang)"
            " VALUES ($1, $2, $3, $4, $5)",
            recipient,
            subject,
            body,
            message_id,
            lang,
        )
        # Delivered to listeners only if and when the caller's transaction commits.
        await conn.execute("SELECT pg_notify($1, '')", CHANNEL)

    async def claim(
        self, conn: Conn, *, now: datetime, limit: int, lease_seconds: float
    ) -> list[QueuedEmail]:
        """Due messages nobody holds, leased to the caller. SKIP LOCKED lets replicas claim
        side by side without waiting for or taking each other's rows; a lease that ran out
        (its sender died mid-send) makes the row claimable again."""
        rows = await conn.fetch(
            "UPDATE outgoing_emails SET claimed_until = $1 + make_interval(secs => $3),"
            " attempts = attempts + 1"
            " WHERE id IN (SELECT id FROM outgoing_emails"
            "   WHERE status = 'pending' AND next_attempt_at <= $1"
            "   AND (claimed_until IS NULL OR claimed_until <= $1)"
            "   ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)"
            " RETURNING id, recipient, subject, body, message_id, lang, attempts, created_at",
            now,
            limit,
            lease_seconds,
        )
        # RETURNING keeps no order: oldest first, as queued.
        return sorted((record(QueuedEmail, r) for r in rows), key=lambda email: email.id)

    async def done(self, conn: Conn, email_id: int, *, status: str, at: datetime) -> None:
        await conn.execute(
            "UPDATE outgoing_emails SET status = $2, sent_at = $3, claimed_until = NULL,"
            " last_error = NULL WHERE id = $1",
            email_id,
            status,
            at,
        )

    async def retry_at(self, conn: Conn, email_id: int, *, at: datetime, error: str) -> None:
        await conn.execute(
            "UPDATE outgoing_emails SET next_attempt_at = $2, claimed_until = NULL,"
            " last_error = $3 WHERE id = $1",
            email_id,
            at,
            error,
        )

    async def release(self, conn: Conn, ids: list[int]) -> None:
        """Hand back claimed messages that were not tried (their sender is stopping)."""
        await conn.execute(
            "UPDATE outgoing_emails SET claimed_until = NULL, attempts = attempts - 1"
            " WHERE id = ANY($1::bigint[]) AND status = 'pending'",
            ids,
        )

    async def give_up(self, conn: Conn, email_id: int, *, error: str) -> None:
        await conn.execute(
            "UPDATE outgoing_emails SET status = 'failed', claimed_until = NULL,"
            " last_error = $2 WHERE id = $1",
            email_id,
            error,
        )


email_repository = EmailRepository()
