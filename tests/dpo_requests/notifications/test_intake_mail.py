"""Someone without an account gets the one-time code, then the acknowledgement with the due date
(GDPR Art. 12(3)), in the language they chose, through the real SMTP server."""

from __future__ import annotations

import re

import asyncpg
import pytest

from dpo_requests.config import Settings
from dpo_requests.intake.schemas import CodeConfirm, SubmissionCreate
from dpo_requests.intake.service import intake
from dpo_requests.notifications.config import SmtpSettings
from dpo_requests.notifications.sender import MailSender
from tests.dpo_requests.notifications.conftest import Mailbox

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_code_then_acknowledgement_are_mailed_english_first_when_asked(
    pool: asyncpg.Pool, mailbox: tuple[Mailbox, int], database_url: str
) -> None:
    server, port = mailbox
    settings = Settings(database_url=database_url, env="development")
    sender = MailSender(
        SmtpSettings(host="127.0.0.1", port=port, security="none", from_address="rgpd@univ.example")
    )
    async with pool.acquire() as conn:
        submission = await intake.submit(
            conn,
            SubmissionCreate(email="jo@example.org", request_type="access", lang="en"),
            settings,
            client_ip=None,
        )
    assert (await sender.deliver_due(pool)).delivered == 1
    [code_mail] = server.messages()
    assert code_mail["Content-Language"] == "en, fr"
    code = re.search(r"Your confirmation code: (\d{6})", code_mail.get_content())
    assert code is not None

    async with pool.acquire() as conn:
        request = await intake.confirm(conn, submission.id, CodeConfirm(code=code[1]), settings)
    assert (await sender.deliver_due(pool)).delivered == 1
    acknowledged = server.messages()[1]
    assert acknowledged["To"] == "jo@example.org"
    assert acknowledged["Subject"].startswith("Your GDPR request was received / ")
    body = acknowledged.get_content()
    assert request.id in body
    assert request.due_on is not None
    assert f"by {request.due_on:%Y-%m-%d} at the latest" in body
    assert f"le {request.due_on:%d/%m/%Y}" in body
    assert code_mail["Message-ID"] != acknowledged["Message-ID"]
