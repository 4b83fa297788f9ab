"""A steady stream of what Vigie lives on, kept up while parts of it are killed: the accounting
system's billing events, learners logging in through the form (authorization code + PKCE, token
grant) and filing rights requests, and the DPO verifying them. Every call that fails because a
part is down is tried again later; what the system acknowledged is recorded, so that the test can
check afterwards that none of it was lost or doubled."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import asyncpg
import httpx

from sso_gateway.clients.schemas import ClientCreate
from sso_gateway.clients.service import client as clients
from sso_gateway.users.schemas import UserCreate
from sso_gateway.users.service import user as users
from tests.faults.stack import Stack
from vigie_shared.events import DebtReminded, DebtSettled, EventData, PaymentChannel, new_event
from vigie_shared.kit import db
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.cloudevents import KafkaRecord, encode
from vigie_shared.kit.kafka import Producer
from vigie_shared.kit.settings import DEV_SECRET

CLIENT_ID = "dpo-requests"
# What the client library raises when the database goes away under it (the account is then
# created again under another name: one that did commit is an extra account, never a loss).
DATABASE_DOWN = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)
REDIRECT_URI = "http://127.0.0.1:9/callback"
PASSWORD = "correct horse battery staple"


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Counts:
    attempts: int = 0
    ok: int = 0
    failed: int = 0
    last_error: str = ""

    def fail(self, error: BaseException) -> None:
        self.failed += 1
        self.last_error = f"{type(error).__name__}: {error}"[:200]


@dataclass
class Workload:
    stack: Stack
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    billing: list[KafkaRecord] = field(default_factory=list)
    billing_ids: list[str] = field(default_factory=list)
    unpaid: list[str] = field(default_factory=list)
    paid: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    requests_filed: list[str] = field(default_factory=list)
    requests_verified: list[str] = field(default_factory=list)
    enrolments: Counts = field(default_factory=Counts)
    logins: Counts = field(default_factory=Counts)
    filings: Counts = field(default_factory=Counts)
    verifications: Counts = field(default_factory=Counts)
    resent: int = 0
    _officer: str | None = None
    _learners: int = 0

    async def prepare(self) -> None:
        """The DPO portal as an OIDC client, and the DPO's account."""
        conn = await db.connect(self.stack.dsn, "sso")
        try:
            await clients.add(
                conn,
                ClientCreate(
                    client_id=CLIENT_ID,
                    name="DPO requests",
                    redirect_uris=[REDIRECT_URI],
                    public=True,
                    training_platform=False,
                ),
                secret_key=DEV_SECRET,
            )
            await users.create(conn, self._account(f"dpo-{self.run}", "dpo"))
        finally:
            await conn.close()

    def _account(self, name: str, role: str) -> UserCreate:
        return UserCreate(
            username=name,
            email=f"{name}@example.org",
            display_name="Léa",
            password=PASSWORD,
            roles=[role],
        )

    async def _new_learner(self) -> str:
        """An account created as the platforms' enrolment would (through the gateway's own
        service, so that ``sso.user.created`` leaves through its outbox), even mid-fault."""
        self.enrolments.attempts += 1
        name = f"lea-{self.run}-{self.enrolments.attempts:04d}"
        conn = await db.connect(self.stack.dsn, "sso")
        try:
            await users.create(conn, self._account(name, "learner"))
        finally:
            conn.terminate()  # closing politely would wait on a server that may be gone
        self.accounts.append(name)
        return name

    # -- the accounting system ----------------------------------------------------------------

    async def _send(self, producer: Producer, record: KafkaRecord) -> None:
        while True:
            try:
                await producer.send_and_wait(record)
                return
            except Exception:  # the broker is down: the accounting system tries again
                await asyncio.sleep(0.5)

    async def accounting(self, producer: Producer, stop: asyncio.Event, period: float) -> None:
        """One learner per ``period``: a reminder dated past its grace period (suspension at
        once); every other one pays a few seconds later (restoration)."""
        n = 0
        settle: list[tuple[float, str]] = []
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            learner = f"bill-{self.run}-{n:04d}"
            reminded = utcnow() - timedelta(days=30)
            await self._publish(
                producer,
                learner,
                DebtReminded(
                    debt_id=f"debt-{learner}",
                    learner_id=learner,
                    channel=PaymentChannel.CPA,
                    amount=Decimal("80.00"),
                    reminded_at=reminded,
                    grace_days=8,
                ),
            )
            if n % 2:
                settle.append((loop.time() + 3, learner))
                self.paid.append(learner)
            else:
                self.unpaid.append(learner)
            while settle and settle[0][0] <= loop.time():
                _, payer = settle.pop(0)
                await self._settle(producer, payer)
            n += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), period)
        for _, payer in settle:
            await self._settle(producer, payer)

    async def _settle(self, producer: Producer, learner: str) -> None:
        await self._publish(
            producer,
            learner,
            DebtSettled(
                debt_id=f"debt-{learner}",
                learner_id=learner,
                amount=Decimal("80.00"),
                settled_at=utcnow(),
            ),
        )

    async def _publish(self, producer: Producer, learner: str, data: EventData) -> None:
        event = new_event(data, subject=learner, source="/accounting/fault-test")
        record = encode(event)
        self.billing.append(record)
        self.billing_ids.append(event.id)
        await self._send(producer, record)

    async def resend_billing(self, producer: Producer) -> None:
        """The embedded broker keeps its log in memory: after it restarts, the accounting
        system sends again what it had sent (Vigie's own services do the same from their
        outboxes; Apache Kafka with replication would have kept it)."""
        for record in list(self.billing):
            await self._send(producer, record)
            self.resent += 1

    # -- learners and the DPO -----------------------------------------------------------------

    async def login(self, username: str) -> str:
        """Log in through the form as a browser would and redeem the code (PKCE)."""
        verifier = secrets.token_urlsafe(48)
        base = self.stack.services["sso_gateway"].url
        async with httpx.AsyncClient(base_url=base, timeout=10) as browser:
            query = urlencode(
                {
                    "response_type": "code",
                    "client_id": CLIENT_ID,
                    "redirect_uri": REDIRECT_URI,
                    "scope": "openid",
                    "state": secrets.token_urlsafe(8),
                    "code_challenge": s256(verifier),
                    "code_challenge_method": "S256",
                }
            )
            to_login = await browser.get(f"/authorize?{query}")
            if to_login.status_code != 302:
                raise RuntimeError(f"authorize answered {to_login.status_code}")
            login_url = urljoin(base, to_login.headers["location"])
            form = await browser.get(login_url)
            form.raise_for_status()
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            if csrf is None:
                raise RuntimeError("no login form")
            submitted = await browser.post(
                "/login",
                data={
                    "identifier": username,
                    "password": PASSWORD,
                    "csrf_token": csrf[1],
                    "next": parse_qs(urlsplit(login_url).query)["next"][0],
                    "lang": "fr",
                },
            )
            if submitted.status_code != 303:
                raise RuntimeError(f"login refused: {submitted.status_code}")
            back = await browser.get(urljoin(base, submitted.headers["location"]))
            code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
            token = await browser.post(
                "/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT_URI,
                    "code_verifier": verifier,
                    "client_id": CLIENT_ID,
                },
            )
            token.raise_for_status()
            access: str = token.json()["access_token"]
            return access

    async def learners(self, stop: asyncio.Event, period: float) -> None:
        """A learner logs in and files an access request, one per ``period``."""
        dpo = self.stack.services["dpo_requests"].url
        while not stop.is_set():
            if self._learners == len(self.accounts):
                try:
                    await self._new_learner()
                except DATABASE_DOWN as error:
                    self.enrolments.fail(error)
                    await asyncio.sleep(period)
                    continue
            username = self.accounts[self._learners]
            self.logins.attempts += 1
            try:
                token = await self.login(username)
            except (httpx.HTTPError, RuntimeError, KeyError) as error:
                self.logins.fail(error)
            else:
                self.logins.ok += 1
                self.filings.attempts += 1
                try:
                    filed = await self._file(dpo, token)
                except httpx.HTTPError as error:
                    self.filings.fail(error)
                else:
                    self.filings.ok += 1
                    self.requests_filed.append(filed)
                    self._learners += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), period)

    async def _file(self, dpo: str, token: str) -> str:
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(timeout=10) as http:
            filed = await http.post(
                f"{dpo}/requests", json={"request_type": "access"}, headers=auth
            )
            if filed.status_code == 409:
                # Filed already by an attempt whose answer was lost in a crash: it is the
                # learner's one open access request.
                mine = await http.get(f"{dpo}/requests", headers=auth)
                mine.raise_for_status()
                found: str = mine.json()["items"][0]["id"]
                return found
            filed.raise_for_status()
            created: str = filed.json()["id"]
            return created

    async def officer(self, stop: asyncio.Event, period: float) -> None:
        """The DPO verifies the requests filed so far."""
        while not stop.is_set():
            await self.verify_pending()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), period)

    async def verify_pending(self) -> None:
        dpo = self.stack.services["dpo_requests"].url
        for request_id in [r for r in self.requests_filed if r not in self.requests_verified]:
            self.verifications.attempts += 1
            try:
                if self._officer is None:
                    self._officer = await self.login(f"dpo-{self.run}")
                async with httpx.AsyncClient(timeout=10) as http:
                    answer = await http.post(
                        f"{dpo}/requests/{request_id}/verify",
                        json={"method": "sso"},
                        headers={"Authorization": f"Bearer {self._officer}"},
                    )
                if answer.status_code == 401:
                    self._officer = None
                # 409: verified already, by an attempt whose answer was lost in a crash.
                if answer.status_code not in (200, 409):
                    answer.raise_for_status()
            except (httpx.HTTPError, RuntimeError, KeyError) as error:
                self.verifications.fail(error)
                return
            self.verifications.ok += 1
            self.requests_verified.append(request_id)
