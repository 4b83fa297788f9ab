"""One-time codes cannot flood a mailbox: not by spelling the address another way, not from
many addresses at once, not by racing the limit; one client cannot spray codes to many
mailboxes; and the client address is forgotten once it no longer counts."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from dpo_requests.intake.service import mailbox
from tests.dpo_requests.support import Dpo

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


def client(dpo: Dpo, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=dpo.app, client=(ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://dpo.test")


def new_ip() -> str:
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2] or 1}"


def target() -> str:
    return f"cible.{uuid.uuid4().hex[:8]}@example.org"


async def post(http: httpx.AsyncClient, email: str) -> int:
    answer = await http.post("/public/requests", json={"email": email, "request_type": "access"})
    return answer.status_code


async def test_subaddresses_and_case_reach_one_mailbox() -> None:
    assert mailbox("Cible+1@Example.ORG") == "cible@example.org"
    assert mailbox("cible@example.org") == "cible@example.org"
    assert mailbox("a+b+c@x.example") == "a@x.example"


async def test_spellings_of_one_address_share_its_limit(dpo: Dpo) -> None:
    email = target()
    local, domain = email.split("@")
    limit = dpo.settings.email_submissions_per_hour
    async with client(dpo, new_ip()) as http:
        sent = [await post(http, f"{local}+{n}@{domain.upper()}") for n in range(limit + 1)]
    assert sent == [202] * limit + [429]


async def test_one_mailbox_cannot_be_flooded_from_many_addresses_in_parallel(dpo: Dpo) -> None:
    email = target()
    limit = dpo.settings.email_submissions_per_hour

    async def from_somewhere() -> int:
        async with client(dpo, new_ip()) as http:
            return await post(http, email)

    sent = await asyncio.gather(*(from_somewhere() for _ in range(limit + 5)))
    assert sorted(sent) == [202] * limit + [429] * 5
    codes = await dpo.pool.fetchval(
        "SELECT count(*) FROM outgoing_emails WHERE recipient = $1", email
    )
    assert codes == limit


async def test_one_client_cannot_spray_codes_to_many_mailboxes(dpo: Dpo) -> None:
    limit = dpo.settings.email_submissions_per_client_per_hour
    async with client(dpo, new_ip()) as http:
        sent = [await post(http, target()) for _ in range(limit + 1)]
    assert sent == [202] * limit + [429]


async def test_the_client_address_is_forgotten_after_the_hour_it_counts(dpo: Dpo) -> None:
    ip, email = new_ip(), target()
    async with client(dpo, ip) as http:
        assert await post(http, email) == 202
    await dpo.pool.execute(
        "UPDATE email_submissions SET created_at = created_at - interval '61 minutes'"
        " WHERE client_ip = $1",
        ip,
    )
    async with client(dpo, new_ip()) as http:
        assert await post(http, target()) == 202
    kept = await dpo.pool.fetchval(
        "SELECT count(*) FROM email_submissions WHERE client_ip = $1", ip
    )
    assert kept == 0
