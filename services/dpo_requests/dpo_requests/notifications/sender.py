"""Delivers the mail queue (``outgoing_emails``) by SMTP, with retries, surviving restarts.

Each round claims due messages under a lease (``FOR UPDATE SKIP LOCKED``: replicas never take
the same row), sends each, then records the result: ``sent``, a later attempt with exponential
backoff after a passing failure (a 4xx reply, RFC 5321 §4.2.1; a lost connection), or
``failed`` after a permanent refusal (5xx for the recipient or the content) or too many tries.
A message is recorded as sent only after the server took it, and a sent one is never claimed
again, so a restart sends nothing twice. A stop finishes and records the message on the wire
and hands the rest of its claim back; only a crash between the server's "250" and the record
sends one message again, after its lease, with the same Message-ID, which lets the receiving
MTA drop it (at least once, RFC 5322 §3.6.4).

Without ``VIGIE_SMTP_HOST`` (development only, see :mod:`.config`) messages are marked
``logged`` and only their recipient and subject are logged: bodies hold one-time codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol

import aiosmtplib
import asyncpg

from dpo_requests.notifications.config import SmtpSettings
from dpo_requests.notifications.repository import (
    CHANNEL,
    EmailRepository,
    QueuedEmail,
    email_repository,
)
from vigie_shared.kit.backoff import Backoff
from vigie_shared.kit.clock import utcnow

log = logging.getLogger(__name__)


class TransientMailError(Exception):
    """Try again later: the server or the network may get better."""


class PermanentMailError(Exception):
    """Trying again would get the same answer."""


class Transport(Protocol):
    marks: str
    """Status recorded after a successful delivery (``sent`` or ``logged``)."""

    async def deliver(self, message: EmailMessage, *, sender: str, recipient: str) -> None: ...


class SmtpTransport:
    marks = "sent"

    def __init__(self, smtp: SmtpSettings) -> None:
        self._smtp = smtp

    async def deliver(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        smtp = self._smtp
        try:
            await aiosmtplib.send(
                message,
                sender=sender,
                recipients=[recipient],
                hostname=smtp.host,
                port=smtp.effective_port,
                username=smtp.username,
                password=smtp.password.get_secret_value() if smtp.password else None,
                use_tls=smtp.security == "tls",
                start_tls=smtp.security == "starttls",
                cert_bundle=str(smtp.ca_file) if smtp.ca_file else None,
                timeout=smtp.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # RFC 5321 §4.2.1: 5yz is permanent, 4yz transient.
            if all(r.code >= 500 for r in exc.recipients):
                raise PermanentMailError(str(exc)) from exc
            raise TransientMailError(str(exc)) from exc
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as exc:
            if exc.code >= 500:
                raise PermanentMailError(f"{exc.code} {exc.message}") from exc
            raise TransientMailError(f"{exc.code} {exc.message}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            # Refused credentials or sender: the operator's to fix, and the message must go
            # once they have (a code or a download link is owed to someone).
            raise TransientMailError(f"{exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TransientMailError(f"{type(exc).__name__}: {exc}") from exc


class LogTransport:
    marks = "logged"

    async def deliver(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        log.info("e-mail not sent (no VIGIE_SMTP_HOST) to %s: %s", recipient, message["Subject"])


def transport_for(smtp: SmtpSettings) -> Transport:
    return SmtpTransport(smtp) if smtp.host else LogTransport()


def build_message(queued: QueuedEmail, smtp: SmtpSettings) -> EmailMessage:
    message = EmailMessage()
    # First: set_content() drops every Content-* header already there.
    message.set_content(queued.body)
    message["From"] = smtp.sender
    message["To"] = queued.recipient
    message["Subject"] = queued.subject
    message["Date"] = format_datetime(queued.created_at)
    message["Message-ID"] = queued.message_id
    # RFC 3282: the text is in both languages, the first one first.
    message["Content-Language"] = "fr, en" if queued.lang == "fr" else "en, fr"
    # RFC 3834 §5: an automatic message, which vacation responders must not answer.
    message["Auto-Submitted"] = "auto-generated"
    return message


@dataclass
class Round:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0


class MailSender:
    def __init__(
        self,
        smtp: SmtpSettings,
        transport: Transport | None = None,
        repository: EmailRepository = email_repository,
    ) -> None:
        self._smtp = smtp
        self._transport = transport or transport_for(smtp)
        self._repository = repository
        # No jitter: the next try is a time stored with the message, read by whichever replica
        # claims it, not a crowd of sleepers waking together.
        self._backoff = Backoff(
            base=smtp.backoff_seconds, cap=smtp.backoff_max_seconds, jitter=False
        )

    def backoff(self, attempts: int) -> timedelta:
        """Wait before the next try after ``attempts`` failed ones: doubling, capped."""
        return timedelta(seconds=self._backoff.delay(attempts))

    async def deliver_due(self, pool: asyncpg.Pool, *, now: datetime | None = None) -> Round:
        now = now or utcnow()
        async with pool.acquire() as conn, conn.transaction():
            claimed = await self._repository.claim(
                conn, now=now, limit=self._smtp.batch_size, lease_seconds=self._smtp.lease_seconds
            )
        done = Round(claimed=len(claimed))
        for index, queued in enumerate(claimed):
            one = asyncio.ensure_future(self._deliver_one(pool, queued, now, done))
            try:
                await asyncio.shield(one)
            except asyncio.CancelledError:
                # Stopping: the message on the wire is finished and recorded (bounded by the
                # SMTP timeout), or it would go again after its lease; the rest is handed back
                # for whoever runs next.
                with contextlib.suppress(Exception):
                    await one
                async with pool.acquire() as conn:
                    await self._repository.release(conn, [r.id for r in claimed[index + 1 :]])
                raise
        return done

    async def _deliver_one(
        self, pool: asyncpg.Pool, queued: QueuedEmail, now: datetime, done: Round
    ) -> None:
        error: str | None = None
        permanent = False
        try:
            message = build_message(queued, self._smtp)
            await self._transport.deliver(
                message, sender=self._smtp.sender.addr_spec, recipient=queued.recipient
            )
        except PermanentMailError as exc:
            error, permanent = str(exc), True
        except ValueError as exc:
            # A header the e-mail package refuses (e.g. a line break in an address).
            error, permanent = f"not a valid message: {exc}", True
        except TransientMailError as exc:
            error = str(exc)
        async with pool.acquire() as conn:
            if error is None:
                await self._repository.done(conn, queued.id, status=self._transport.marks, at=now)
                done.delivered += 1
            elif permanent or queued.attempts >= self._smtp.max_attempts:
                await self._repository.give_up(conn, queued.id, error=error)
                log.error(
                    "e-mail %s to %s given up after %d attempt(s): %s",
                    queued.message_id,
                    queued.recipient,
                    queued.attempts,
                    error,
                )
                done.failed += 1
            else:
                at = now + self.backoff(queued.attempts)
                await self._repository.retry_at(conn, queued.id, at=at, error=error)
                log.warning(
                    "e-mail %s to %s not delivered (%s); next try at %s",
                    queued.message_id,
                    queued.recipient,
                    error,
                    at.isoformat(),
                )
                done.retried += 1


async def run(
    pool: asyncpg.Pool, smtp: SmtpSettings, *, transport: Transport | None = None
) -> None:
    """Deliver the queue until cancelled: at once when a message is queued (LISTEN/NOTIFY on
    commit), else every ``poll_seconds`` (retries fall due; a notification can be missed while
    the listening connection is being replaced)."""
    sender = MailSender(smtp, transport)
    wake = asyncio.Event()

    def wake_up(*_: object) -> None:
        wake.set()

    listener: asyncpg.pool.PoolConnectionProxy | None = None
    try:
        listener = await pool.acquire()
        await listener.add_listener(CHANNEL, wake_up)
    except (OSError, asyncpg.PostgresError):
        log.warning("mail queue: no LISTEN connection; polling only", exc_info=True)
    try:
        while True:
            wake.clear()
            try:
                while (await sender.deliver_due(pool)).claimed == smtp.batch_size:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("mail queue round failed; will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), smtp.poll_seconds)
    finally:
        if listener is not None:
            with contextlib.suppress(Exception):
                await listener.remove_listener(CHANNEL, wake_up)
            await pool.release(listener)
