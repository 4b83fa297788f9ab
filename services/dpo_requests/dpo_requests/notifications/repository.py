"""All SQL on outgoing messages."""

from __future__ import annotations

from vigie_shared.kit.db import Conn


class EmailRepository:
    async def insert(self, conn: Conn, *, recipient: str, subject: str, body: str) -> None:
        await conn.execute(
            "INSERT INTO outgoing_emails (recipient, subject, body) VALUES ($1, $2, $3)",
            recipient,
            subject,
            body,
        )


email_repository = EmailRepository()
