"""The mail queue delivered by SMTP to a real server (aiosmtpd, in-process): headers and body,
retry after a 4xx refusal, permanent 5xx refusals, no double send after a restart, replicas
that never send the same message twice, and the settings that refuse to run without a server
outside development."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest

from dpo_requests.notifications.config import SmtpSettings
from dpo_requests.notifications.messages import acknowledgement, one_time_code
from dpo_requests.notifications.repository import email_repository
from dpo_requests.notifications.sender import MailSender, run
from dpo_requests.notifications.service import email_sender, notify
from tests.dpo_requests.notifications.conftest import Mailbox
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.embedded import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")

FROM = "DPO Vigie <dpo@univ.example>"


def smtp(port: int, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": FROM,
        "backoff_seconds": 60,
        "timeout_seconds": 5,
    }
    values.update(overrides)
    return SmtpSettings(**values)


async def queue_code(pool: asyncpg.Pool, to: str, code: str = "482913", **kw: Any) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await notify(email_sender, conn, to=to, notice=one_time_code(code, 15), **kw)


async def row_of(pool: asyncpg.Pool, to: str) -> asyncpg.Record:
    row: asyncpg.Record | None = await pool.fetchrow(
        "SELECT * FROM outgoing_emails WHERE recipient = $1", to
    )
    assert row is not None, f"nothing queued for {to}"
    return row


async def received(server: Mailbox, count: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while len(server.received) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def listening(pool: asyncpg.Pool, timeout: float = 5) -> None:
    """Until the sender's connection (this pool's application name) has run its LISTEN."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = current_setting('application_name')"
            " AND query LIKE 'LISTEN %'"
        )
        if found:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the sender never listened")


@contextlib.asynccontextmanager
async def sender_running(pool: asyncpg.Pool, settings: SmtpSettings) -> AsyncIterator[None]:
    task = asyncio.create_task(run(pool, settings))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_queued_message_is_sent_once_with_its_headers_and_bilingual_body(
    pool: asyncpg.Pool, mailbox: tuple[Mailbox, int]
) -> None:
    server, port = mailbox
    await queue_code(pool, "léa@example.org".replace("é", "e"))
    stored = await row_of(pool, "lea@example.org")
    assert stored["status"] == "pending"
    assert stored["message_id"].startswith("<")
    assert stored["message_id"].endswith("@localhost>")  # the default From's domain

    done = await MailSender(smtp(port)).deliver_due(pool)
    assert (done.claimed, done.delivered) == (1, 1)
    [message] = server.messages()
    assert server.received[0].mail_from == "dpo@univ.example"
    assert server.received[0].rcpt_tos == ["lea@example.org"]
    assert message["From"] == FROM
    assert message["To"] == "lea@example.org"
    assert message["Subject"] == (
        "Code de confirmation de votre demande RGPD / Confirmation code for your GDPR request"
    )
    assert message["Message-ID"] == stored["message_id"]
    assert message["Content-Language"] == "fr, en"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] is not None
    body = message.get_content()
    assert body.index("Votre code de confirmation : 482913") < body.index(
        "Your confirmation code: 482913"
    )
    assert "valable 15 minutes" in body
    sent = await row_of(pool, "lea@example.org")
    assert (sent["status"], sent["attempts"], sent["last_error"]) == ("sent", 1, None)
    assert sent["sent_at"] is not None

    again = await MailSender(smtp(port)).deliver_due(pool)
    assert again.claimed == 0
    assert len(server.received) == 1


async def test_english_first_when_asked_and_accents_survive_the_transport(
    pool: asyncpg.Pool, mailbox: tuple[Mailbox, int]
) -> None:
    server, port = mailbox
    async with pool.acquire() as conn, conn.transaction():
        await notify(
            email_sender,
            conn,
            to="sam@example.org",
            notice=acknowledgement("r-0a1b2c3d4e5f", "erasure", date(2027, 1, 4)),
            lang="en",
        )
    await MailSender(smtp(port)).deliver_due(pool)
    [message] = server.messages()
    assert message["Content-Language"] == "en, fr"
    assert message["Subject"] == (
        "Your GDPR request was received / Accusé de réception de votre demande RGPD"
    )
    body = message.get_content()
    assert body.index("by 2027-01-04") < body.index("le 04/01/2027")
    assert "Votre demande d'effacement (art. 17 RGPD) est enregistrée" in body


async def test_a_message_refused_with_4xx_is_retried_after_its_backoff_then_delivered(
    pool: asyncpg.Pool, mailbox: tuple[Mailbox, int]
) -> None:
    server, port = mailbox
    server.refusals = ["451 4.3.0 Mailbox busy, try later"]
    await queue_code(pool, "retry@example.org")
    sender = MailSender(smtp(port, backoff_seconds=60))
    now = utcnow()

    first = await sender.deliver_due(pool, now=now)
    assert (first.claimed, first.retried, first.delivered) == (1, 1, 0)
    waiting = await row_of(pool, "retry@example.org")
    assert waiting["status"] == "pending"
    assert waiting["attempts"] == 1
    assert "451" in waiting["last_error"]
    assert waiting["next_attempt_at"] == now + timedelta(seconds=60)

    too_soon = await sender.deliver_due(pool, now=now + timedelta(seconds=59))
    assert too_soon.claimed == 0
    later = await sender.deliver_due(pool, now=now + timedelta(seconds=61))
    assert (later.claimed, later.delivered) == (1, 1)
    assert server.attempts == 2
    [message] = server.messages()
    assert message["Message-ID"] == waiting["message_id"]
    sent = await row_of(pool, "retry@example.org")
    assert (sent["status"], sent["attempts"], sent["last_error"]) == ("sent", 2, None)


async def test_backoff_doubles_up_to_its_cap_and_the_message_is_given_up_at_last(
    pool: asyncpg.Pool, mailbox: tuple[Mailbox, int]
) -> None:
    server, port = mailbox
    settings = smtp(port, backoff_seconds=10, backoff_max_seconds=25, max_attempts=3)
    sender = MailSender(settings)
    assert [sender.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 25, 25]
    server.refusals = ["421 4.7.0 Try again later"] * 3
    await queue_code(pool, "busy@example.org")
    now = utcnow()
    for step in range(3):
        await sender.deliver_due(pool, now=now + timedelta(hours=step))
    gone = await row_of(pool, "busy@example.org")
    assert (gone["status"], gone["attempts"]) == ("failed", 3)
    assert "421" in gone["last_error"]
    assert (await sender.deliver_due(pool, now=now + timedelta(days=1))).claimed == 0
    assert server.received == []


async def test_a_recipient_refused_with_5xx_is_not_retried(
    pool: asyncpg.Pool, mailbox: tuple[Mailbox, int]
) -> None:
    server, port = mailbox
    server.bounce = {"nobody@example.org"}
    await queue_code(pool, "nobody@example.org")
    await queue_code(pool, "somebody@example.org")
    done = await MailSender(smtp(port)).deliver_due(pool)
    assert (done.delivered, done.failed, done.retried) == (1, 1, 0)
    bounced = await row_of(pool, "nobody@example.org")
    assert bounced["status"] == "failed"
    assert "550" in bounced["last_error"]
    assert [m["To"] for m in server.messages()] == ["somebody@example.org"]


async def test_an_unreachable_server_is_a_passing_failure(pool: asyncpg.Pool) -> None:
    await queue_code(pool, "later@example.org")
    done = await MailSender(smtp(free_port(), timeout_seconds=2)).deliver_due(pool)
    assert done.retried == 1
    row = await row_of(pool, "later@example.org")
    assert row["status"] == "pending"
    assert row["last_error"]


async def test_nothing_is_sent_twice_across_a_restart_and_a_new_message_goes_at_once(
    pool: asyncpg.Pool, mailbox: tuple[Mailbox, int]
) -> None:
    server, port = mailbox
    # A long poll: only the NOTIFY sent when the queueing transaction commits can be this fast.
    settings = smtp(port, poll_seconds=30)
    async with sender_running(pool, settings):
        await listening(pool)  # the wake-up is what is tested
        await queue_code(pool, "first@example.org", code="111111")
        await received(server, 1)
    assert len(server.received) == 1

    async with sender_running(pool, settings):
        await listening(pool)
        await queue_code(pool, "second@example.org", code="222222")
        await received(server, 2)
    assert [m["To"] for m in server.messages()] == ["first@example.org", "second@example.org"]
    statuses = await pool.fetch("SELECT status, attempts FROM outgoing_emails ORDER BY id")
    assert [(r["status"], r["attempts"]) for r in statuses] == [("sent", 1), ("sent", 1)]


async def test_stopping_mid_send_records_the_message_on_the_wire_and_hands_back_the_rest(
    pool: asyncpg.Pool, mailbox: tuple[Mailbox, int]
) -> None:
    server, port = mailbox
    server.delay = 0.5
    for n in range(3):
        await queue_code(pool, f"queued{n}@example.org")
    async with sender_running(pool, smtp(port, poll_seconds=30)):
        deadline = time.monotonic() + 5
        while server.attempts < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert server.attempts == 1  # the first message is on the wire: stop now
    rows = await pool.fetch(
        "SELECT recipient, status, attempts, claimed_until FROM outgoing_emails ORDER BY id"
    )
    assert [(r["status"], r["attempts"]) for r in rows] == [
        ("sent", 1),
        ("pending", 0),
        ("pending", 0),
    ]
    assert [r["claimed_until"] for r in rows[1:]] == [None, None]
    server.delay = 0
    done = await MailSender(smtp(port)).deliver_due(pool)
    assert done.delivered == 2
    assert [m["To"] for m in server.messages()] == [f"queued{n}@example.org" for n in range(3)]


async def test_a_message_claimed_by_a_sender_that_died_goes_again_after_its_lease(
    pool: asyncpg.Pool, mailbox: tuple[Mailbox, int]
) -> None:
    server, port = mailbox
    await queue_code(pool, "orphan@example.org")
    now = utcnow()
    async with pool.acquire() as conn:
        [claimed] = await email_repository.claim(conn, now=now, limit=10, lease_seconds=300)
    sender = MailSender(smtp(port, lease_seconds=300))
    assert (await sender.deliver_due(pool, now=now + timedelta(seconds=299))).claimed == 0
    done = await sender.deliver_due(pool, now=now + timedelta(seconds=301))
    assert done.delivered == 1
    [message] = server.messages()
    assert message["Message-ID"] == claimed.message_id


async def test_two_replicas_never_send_the_same_message(
    pool: asyncpg.Pool, mailbox: tuple[Mailbox, int]
) -> None:
    server, port = mailbox
    for n in range(12):
        await queue_code(pool, f"learner{n}@example.org")
    settings = smtp(port, batch_size=4)
    replicas = [MailSender(settings), MailSender(settings)]

    async def drain(sender: MailSender) -> int:
        total = 0
        while (done := await sender.deliver_due(pool)).claimed:
            total += done.delivered
        return total

    counts = await asyncio.gather(*(drain(r) for r in replicas))
    assert sum(counts) == 12
    recipients = [m["To"] for m in server.messages()]
    assert sorted(recipients) == sorted(f"learner{n}@example.org" for n in range(12))
    assert len({m["Message-ID"] for m in server.messages()}) == 12


async def test_a_rolled_back_change_sends_nothing(
    pool: asyncpg.Pool, mailbox: tuple[Mailbox, int]
) -> None:
    server, port = mailbox

    async def file_then_fail() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await notify(email_sender, conn, to="ghost@example.org", notice=one_time_code("1", 1))
            raise RuntimeError("the request was not filed")

    with pytest.raises(RuntimeError):
        await file_then_fail()
    assert (await MailSender(smtp(port)).deliver_due(pool)).claimed == 0
    assert server.attempts == 0


async def test_without_a_server_development_only_logs_and_marks_messages(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    settings = SmtpSettings(host=None).check("development")
    sender = MailSender(settings)
    await queue_code(pool, "dev@example.org", code="654321")
    with caplog.at_level("INFO"):
        done = await sender.deliver_due(pool)
    assert done.delivered == 1
    assert (await row_of(pool, "dev@example.org"))["status"] == "logged"
    assert "dev@example.org" in caplog.text
    assert "654321" not in caplog.text  # a code is a secret, never logged
