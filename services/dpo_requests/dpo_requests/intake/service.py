"""Requests from people without an account, proved by a one-time code sent by e-mail.

The code is random (6 digits), kept only as a keyed hash (HMAC-SHA256) bound to its submission,
compared in constant time, valid ``email_code_minutes`` and void after
``email_code_max_attempts`` wrong tries. The request is filed, and its Art. 12(3) period
starts, when the code is confirmed: an unconfirmed submission is not a request anyone made.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from secrets import randbelow

from dpo_requests.config import Settings
from dpo_requests.intake.repository import SubmissionRepository, submission_repository
from dpo_requests.intake.schemas import CodeConfirm, SubmissionCreate, SubmissionPublic
from dpo_requests.notifications.messages import acknowledgement, one_time_code
from dpo_requests.notifications.service import EmailSender, email_sender, notify
from dpo_requests.requests.schemas import RequestCreate, RequestPublic
from dpo_requests.requests.service import RequestService, rights_request
from vigie_shared.events import Actor
from vigie_shared.kit import secrets
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn
from vigie_shared.kit.http import Problem

CODE_HASH_PURPOSE = "vigie-dpo-email-code-v1"


def mailbox(email: str) -> str:
    """The mailbox an address reaches: case does not matter (RFC 5321 §2.4 leaves the local
    part's case to the receiving host, and every common host ignores it), nor does a ``+tag``
    subaddress (RFC 5233), which lands in the same mailbox."""
    local, _, domain = email.rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}".lower()


def code_hash(secret_key: str, submission_id: str, code: str) -> str:
    """The stored hash of ``code`` for ``submission_id``.

    Keyed, like the pages' session hash, by an HMAC of the purpose under the secret rather than
    by the kit's HKDF: that is the key pending submissions were stored under, and a code mailed
    just before an upgrade must still match after it instead of reading as a wrong one.
    """
    key = bytes.fromhex(secrets.keyed_hash(secret_key, CODE_HASH_PURPOSE))
    return secrets.keyed_hash(key, f"{submission_id}:{code}")


class IntakeService:
    def __init__(
        self, repository: SubmissionRepository, requests: RequestService, mail: EmailSender
    ) -> None:
        self._repository = repository
        self._requests = requests
        self._mail = mail

    async def submit(
        self, conn: Conn, data: SubmissionCreate, settings: Settings, *, client_ip: str | None
    ) -> SubmissionPublic:
        submission_id = f"s-{uuid.uuid4().hex}"
        code = f"{randbelow(10**6):06d}"
        now = utcnow()
        expires_at = now + timedelta(minutes=settings.email_code_minutes)
        box = mailbox(data.email)
        async with conn.transaction():
            # Codes are not a way to flood someone's mailbox, from one client or from many.
            await self._repository.lock_counts(conn, mailbox=box, client_ip=client_ip)
            hour_ago = now - timedelta(hours=1)
            await self._repository.forget_client_addresses(conn, hour_ago)
            to_mailbox, from_client = await self._repository.count_since(
                conn, mailbox=box, client_ip=client_ip, since=hour_ago
            )
            if to_mailbox >= settings.email_submissions_per_hour:
                raise Problem(
                    429,
                    "Too Many Requests",
                    "Too many submissions for this address; try again in an hour.",
                    headers={"Retry-After": "3600"},
                )
            if from_client >= settings.email_submissions_per_client_per_hour:
                raise Problem(
                    429,
                    "Too Many Requests",
                    "Too many submissions from this connection; try again in an hour.",
                    headers={"Retry-After": "3600"},
                )
            await self._repository.insert(
                conn,
                submission_id=submission_id,
                email=data.email,
                mailbox=box,
                client_ip=client_ip,
                payload=data.model_dump(mode="json", exclude={"email"}),
                code_hash=code_hash(settings.secret_key, submission_id, code),
                expires_at=expires_at,
            )
            await notify(
                self._mail,
                conn,
                to=data.email,
                notice=one_time_code(code, settings.email_code_minutes),
                lang=data.lang,
            )
        return SubmissionPublic(id=submission_id, expires_at=expires_at)

    async def confirm(
        self, conn: Conn, submission_id: str, data: CodeConfirm, settings: Settings
    ) -> RequestPublic:
        problem: Problem | None = None
        async with conn.transaction():
            found = await self._repository.lock(conn, submission_id)
            if found is None or found.request_id is not None:
                raise Problem(404, "Not Found", "No submission awaiting confirmation.")
            if found.expires_at <= utcnow():
                raise Problem(410, "Gone", "The code has expired; submit the request again.")
            if found.attempts >= settings.email_code_max_attempts:
                raise Problem(
                    429, "Too Many Attempts", "Too many wrong codes; submit the request again."
                )
            expected = code_hash(settings.secret_key, submission_id, data.code)
            if not secrets.same(expected, found.code_hash):
                # Counted in this transaction, which commits: the error is raised after it.
                await self._repository.count_attempt(conn, submission_id)
                problem = Problem(422, "Wrong code", "The code does not match.")
            else:
                payload = found.payload
                request = await self._requests.register(
                    conn,
                    RequestCreate(
                        request_type=payload["request_type"],
                        requester=found.email,
                        message=payload.get("message"),
                        corrections=payload.get("corrections"),
                        channel="online",
                        received_at=utcnow(),
                    ),
                    actor=Actor(kind="system", id="email-code"),
                    origin={"identity": "e-mail address confirmed by one-time code"},
                )
                await self._repository.confirm(conn, submission_id, request.id)
                if request.due_on is not None:
                    await notify(
                        self._mail,
                        conn,
                        to=found.email,
                        notice=acknowledgement(
                            request.id, request.request_type.value, request.due_on
                        ),
                        lang=payload.get("lang", "fr"),
                    )
        if problem is not None:
            raise problem
        return request


intake = IntakeService(submission_repository, rights_request, email_sender)
