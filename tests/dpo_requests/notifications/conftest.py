"""A real SMTP server in-process (aiosmtpd) and the dpo_requests schema on the real PostgreSQL:
what the mail queue and its sender are tested against."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from dpo_requests.service import SERVICE
from vigie_shared.kit import db
from vigie_shared.kit.embedded import free_port
from vigie_shared.kit.migrate import migrate


class Mailbox:
    """An SMTP server's handler: keeps what it accepts; answers the next DATA commands with
    ``refusals`` (e.g. "451 ...") first, refuses recipients listed in ``bounce`` and takes
    ``delay`` seconds to answer DATA (a slow server)."""

    def __init__(self) -> None:
        self.received: list[Envelope] = []
        self.refusals: list[str] = []
        self.bounce: set[str] = set()
        self.attempts = 0
        self.delay = 0.0
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.bounce:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            self.attempts += 1
        await asyncio.sleep(self.delay)
        with self._lock:
            if self.refusals:
                return self.refusals.pop(0)
            self.received.append(envelope)
        return "250 2.0.0 Accepted"

    def messages(self) -> list[EmailMessage]:
        out = []
        for envelope in list(self.received):
            content = envelope.original_content or b""
            parsed = email.message_from_bytes(content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            out.append(parsed)
        return out


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    handler = Mailbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def mail_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """dpo_requests' tables in a schema of this module's own (migrations 0001-0004)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    await migrate(database_url, schema, SERVICE.migrations)
    pool = await db.create_pool(database_url, schema)
    try:
        yield pool
    finally:
        await pool.close()
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


@pytest_asyncio.fixture(loop_scope="session")
async def pool(mail_pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    await mail_pool.execute("TRUNCATE outgoing_emails")
    yield mail_pool
