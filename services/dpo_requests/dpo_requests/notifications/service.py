"""Messages to requesters (one-time codes, extension notices, download links).

:class:`EmailSender` is the seam to a real mail transport; :class:`DatabaseEmailSender` is the
development one: the message is stored in ``outgoing_emails`` in the caller's transaction (so a
code is "sent" if and only if it was stored) and only its recipient and subject are logged.
"""

from __future__ import annotations

import logging
from typing import Protocol

from dpo_requests.notifications.repository import email_repository
from vigie_shared.kit.db import Conn

log = logging.getLogger(__name__)


class EmailSender(Protocol):
    async def send(self, conn: Conn, *, to: str, subject: str, body: str) -> None: ...


class DatabaseEmailSender:
    async def send(self, conn: Conn, *, to: str, subject: str, body: str) -> None:
        await email_repository.insert(conn, recipient=to, subject=subject, body=body)
        log.info("e-mail to %s: %s", to, subject)


def is_email(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(at and local and "." in domain and " " not in value)


email_sender: EmailSender = DatabaseEmailSender()
