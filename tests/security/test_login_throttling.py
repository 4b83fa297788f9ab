"""Login throttling under attack: parallel guesses, one account's two names, password
spraying from one address, guessing spread over addresses, forged X-Forwarded-For. Each test
performs the attack against the real gateway (PostgreSQL, broker) and checks that it slows the
attacker and never locks the account's owner out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from sso_gateway.app import create_app
from sso_gateway.config import Settings
from sso_gateway.login.repository import Bucket, Budgets
from sso_gateway.login.throttle import DEVICE_COOKIE, Limits, wait_seconds
from tests.fixtures.serving import serving
from tests.sso_gateway.support import Account, csrf_of, make_user, submit, unique
from vigie_shared.kit.embedded import free_port
from vigie_shared.kit.serve import uvicorn_config

pytestmark = pytest.mark.asyncio(loop_scope="session")

OWN, PER_IP, PER_ACCOUNT = 3, 6, 8


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gateway(database_url: str, kafka: str) -> AsyncIterator[FastAPI]:
    app = create_app(
        Settings(
            database_url=database_url,
            kafka_bootstrap=kafka,
            env="development",
            login_max_failures_per_account=OWN,
            login_max_failures_per_ip=PER_IP,
            login_max_failures_per_account_any_ip=PER_ACCOUNT,
            backchannel_poll_seconds=0,
        )
    )
    async with app.router.lifespan_context(app):
        yield app


def new_ip() -> str:
    """An address of this test's own, so that buckets of other tests never interfere."""
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2] or 1}"


def browser(app: FastAPI, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")


async def checked_attempts(app: FastAPI, account: Account) -> int:
    async with app.state.runtime.pool.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM login_attempts WHERE user_id = $1", account.id
        )
    return count


async def test_parallel_guesses_check_no_more_passwords_than_the_limit(gateway: FastAPI) -> None:
    account = await make_user(gateway)
    async with browser(gateway, new_ip()) as http:
        # One CSRF seed for all: the attacker fires the posts together.
        form = await http.get("/login")
        data = {
            "identifier": account.username,
            "password": "wrong password, again",
            "csrf_token": csrf_of(form.text),
            "next": "/",
        }
        answers = await asyncio.gather(*(http.post("/login", data=data) for _ in range(20)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * OWN + [429] * (20 - OWN)
    assert await checked_attempts(gateway, account) == OWN


async def test_the_email_and_the_username_of_one_account_share_one_budget(
    gateway: FastAPI,
) -> None:
    account = await make_user(gateway)
    async with browser(gateway, new_ip()) as http:
        for n in range(OWN):
            name = account.email if n % 2 else account.username
            assert (await submit(http, name, "wrong password, again")).status_code == 200
        by_email = await submit(http, account.email.upper(), "wrong password, again")
        by_username = await submit(http, account.username, account.password)
    assert by_email.status_code == 429
    assert by_username.status_code == 429
    assert await checked_attempts(gateway, account) == OWN


async def test_spraying_unknown_names_from_the_dpos_address_does_not_lock_the_dpo_out(
    gateway: FastAPI,
) -> None:
    dpo = await make_user(gateway, roles=["dpo"])
    office = new_ip()
    async with browser(gateway, office) as dpo_browser:
        first = await submit(dpo_browser, dpo.email, dpo.password)
        assert first.status_code == 303
        assert DEVICE_COOKIE in dpo_browser.cookies
        async with browser(gateway, office) as attacker:
            sprayed = [
                (await submit(attacker, unique("ghost"), "wrong password")).status_code
                for _ in range(PER_IP + 4)
            ]
            also_dpo = await submit(attacker, dpo.email, dpo.password)
        again = await submit(dpo_browser, dpo.email, dpo.password)
    assert sprayed == [200] * PER_IP + [429] * 4
    # The attacker's browser is slowed down even with the right password; the DPO's is not.
    assert also_dpo.status_code == 429
    assert again.status_code == 303


async def test_guessing_one_account_from_one_address_leaves_its_owner_in_from_another(
    gateway: FastAPI,
) -> None:
    account = await make_user(gateway)
    async with browser(gateway, new_ip()) as attacker:
        for _ in range(OWN):
            await submit(attacker, account.username, "wrong password, again")
        blocked = await submit(attacker, account.username, account.password)
    async with browser(gateway, new_ip()) as owner:
        owner_in = await submit(owner, account.username, account.password)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert owner_in.status_code == 303


async def test_guessing_spread_over_addresses_slows_unknown_browsers_but_not_the_owners(
    gateway: FastAPI,
) -> None:
    account = await make_user(gateway)
    async with browser(gateway, new_ip()) as owner:
        assert (await submit(owner, account.username, account.password)).status_code == 303
        statuses = []
        for _ in range(PER_ACCOUNT + 2):
            async with browser(gateway, new_ip()) as bot:
                statuses.append((await submit(bot, account.username, "guess")).status_code)
        async with browser(gateway, new_ip()) as stranger:
            stranger_try = await submit(stranger, account.username, account.password)
        owner_again = await submit(owner, account.username, account.password)
    assert statuses == [200] * PER_ACCOUNT + [429] * 2
    assert stranger_try.status_code == 429
    assert owner_again.status_code == 303


async def test_a_device_cookie_of_another_account_is_not_recognised(gateway: FastAPI) -> None:
    mine, target = await make_user(gateway), await make_user(gateway)
    ip = new_ip()
    async with browser(gateway, ip) as http:
        assert (await submit(http, mine.username, mine.password)).status_code == 303
        assert DEVICE_COOKIE in http.cookies
        statuses = [
            (await submit(http, target.username, "guess")).status_code for _ in range(OWN + 1)
        ]
    # The cookie proves a login to ``mine`` only: guesses at ``target`` are an unknown
    # browser's, throttled as such.
    assert statuses == [200] * OWN + [429]


async def test_each_failure_past_the_limit_doubles_the_wait_up_to_the_window() -> None:
    limits = Limits(own=3, ip=30, account=20, base_delay=30.0, window=900.0)
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    just_now = now - timedelta(seconds=1)

    def wait(failures: int, last: datetime | None = just_now) -> float:
        none = Bucket(0, None)
        budgets = Budgets(own=Bucket(failures, last), ip=none, account=none, now=now)
        return wait_seconds(budgets, limits, recognised=False)

    assert wait(2) == 0
    assert [wait(n) for n in (3, 4, 5, 6)] == [29.0, 59.0, 119.0, 239.0]
    assert wait(20) == 899.0
    assert wait(3, now - timedelta(seconds=31)) == 0


async def test_a_forged_x_forwarded_for_does_not_escape_the_per_address_limit(
    gateway: FastAPI,
) -> None:
    """Over real HTTP, as uvicorn serves the gateway: with no trusted proxy configured the
    header is ignored, so rotating it does not give the attacker a fresh budget."""
    settings: Settings = gateway.state.provider.settings
    config = uvicorn_config(gateway, settings)
    assert config.proxy_headers is False
    port = free_port()
    account = await make_user(gateway)
    async with gateway.state.runtime.pool.acquire() as conn:
        # This test's address is loopback, shared with others: start it with a clean slate.
        await conn.execute("DELETE FROM login_attempts WHERE ip = '127.0.0.1'")
    async with (
        serving(gateway, port, config=config),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        statuses = []
        for _ in range(OWN + 2):
            form = await http.get("/login", headers={"X-Forwarded-For": new_ip()})
            answer = await http.post(
                "/login",
                headers={"X-Forwarded-For": new_ip()},
                data={
                    "identifier": account.username,
                    "password": "guess",
                    "csrf_token": csrf_of(form.text),
                    "next": "/",
                },
            )
            statuses.append(answer.status_code)
    async with gateway.state.runtime.pool.acquire() as conn:
        seen = await conn.fetch(
            "SELECT DISTINCT ip FROM login_attempts WHERE user_id = $1", account.id
        )
        await conn.execute("DELETE FROM login_attempts WHERE ip = '127.0.0.1'")
    assert statuses == [200] * OWN + [429] * 2
    assert [r["ip"] for r in seen] == ["127.0.0.1"]
