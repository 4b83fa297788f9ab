"""Messages to requesters (one-time codes, acknowledgements, extension notices, download links,
refusals).

:class:`QueuedEmailSender` queues the message in ``outgoing_emails`` in the caller's
transaction, so a code is "sent" if and only if it was stored, and a message is never sent for
a change that rolled back. :mod:`dpo_requests.notifications.sender` delivers the queue by SMTP
(or, in development without a server, only logs it).
"""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

from dpo_requests.notifications.config import get_smtp_settings
from dpo_requests.notifications.messages import Lang, Notice
from dpo_requests.notifications.repository import EmailRepository, email_repository
from vigie_shared.kit.db import Conn

log = logging.getLogger(__name__)


class EmailSender(Protocol):
    async def send(
        self, conn: Conn, *, to: str, subject: str, body: str, lang: Lang = "fr"
    ) -> None: ...


class QueuedEmailSender:
    def __init__(self, repository: EmailRepository) -> None:
        self._repository = repository

    async def send(
        self, conn: Conn, *, to: str, subject: str, body: str, lang: Lang = "fr"
    ) -> None:
        # Fixed now, sent with every attempt: a receiving MTA that got the message before a
        # crash can drop the repeat (RFC 5322 §3.6.4: unique per message).
        message_id = f"<{uuid.uuid4().hex}.dpo@{get_smtp_settings().sender.domain}>"
        await self._repository.insert(
            conn, recipient=to, subject=subject, body=body, message_id=message_id, lang=lang
        )
        log.info("e-mail queued to %s: %s", to, subject)


async def notify(
    mail: EmailSender, conn: Conn, *, to: str, notice: Notice, lang: Lang = "fr"
) -> None:
    text = notice.compose(lang)
    await mail.send(conn, to=to, subject=text.subject, body=text.body, lang=lang)


def is_email(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(at and local and "." in domain and " " not in value)


email_sender = QueuedEmailSender(email_repository)
