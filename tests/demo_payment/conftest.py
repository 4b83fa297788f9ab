"""The demo payment portal beside a real gateway, both over real HTTP on free ports, on a
broker and a database of the module's own: the gateway's billing consumer group has a fixed
name, and on the session's broker a gateway of another test (on another database) would take
half the partitions, and with them half this module's reminders and payments."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from sso_gateway.app import create_app as sso_app
from sso_gateway.clients.schemas import ClientCreate
from sso_gateway.clients.service import client
from sso_gateway.config import Settings as SsoSettings
from sso_gateway.demo import payment_client
from sso_gateway.users.schemas import UserCreate
from sso_gateway.users.service import user
from tests.fixtures.serving import eventually, own_database, serving
from tests.fixtures.stack import Broker, new_broker
from vigie_shared import topics
from vigie_shared.demo.payment.app import create_app as payment_app
from vigie_shared.demo.payment.config import PaymentSettings
from vigie_shared.demo.payment.reminders import remind
from vigie_shared.events import DebtSettled
from vigie_shared.kit.cloudevents import decode
from vigie_shared.kit.embedded import free_port

PASSWORD = "mot de passe de test assez long"


@dataclass(frozen=True)
class Platform:
    client_id: str
    client_secret: str
    redirect_uri: str
    callbacks: list[str]
    """Every URL the gateway sent the browser back to (a code, or an error)."""


def platform_app(callbacks: list[str]) -> FastAPI:
    """A training platform's callback on loopback: what it received, for the test to redeem."""
    app = FastAPI()

    @app.get("/callback", response_class=PlainTextResponse)
    async def callback(request: Request) -> str:
        callbacks.append(str(request.url))
        return "Moodle"

    return app


@dataclass(frozen=True)
class Learner:
    id: str
    username: str
    debt_id: str


@dataclass
class PaymentStack:
    sso: FastAPI
    portal: FastAPI
    issuer: str
    portal_url: str
    bootstrap: str
    platform: Platform


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, broker_kind: str) -> Iterator[Broker]:
    started = new_broker(broker_kind, Path(tmp_path_factory.mktemp("pay-broker")), "payment")
    started.start()
    yield started
    started.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(admin_dsn: str, broker: Broker) -> AsyncIterator[PaymentStack]:
    sso_port, portal_port, platform_port = free_port(), free_port(), free_port()
    platform_callback = f"http://127.0.0.1:{platform_port}/callback"
    callbacks: list[str] = []
    issuer, portal_url = f"http://127.0.0.1:{sso_port}", f"http://127.0.0.1:{portal_port}"
    async with (
        own_database(admin_dsn, f"vigie_payment_{os.getpid()}") as dsn,
        AsyncExitStack() as running,
    ):
        settings = SsoSettings(
            database_url=dsn,
            kafka_bootstrap=broker.bootstrap,
            issuer=issuer,
            backchannel_poll_seconds=0,
            login_max_failures_per_ip=1000,
        )
        sso = sso_app(settings)
        await running.enter_async_context(sso.router.lifespan_context(sso))
        await running.enter_async_context(serving(sso, sso_port))
        async with sso.state.runtime.pool.acquire() as conn:
            # The portal's client as the demo registers it, for where it listens.
            portal_client = await client.add(
                conn, payment_client(portal_url), secret_key=settings.secret_key
            )
            moodle = await client.add(
                conn,
                ClientCreate(
                    client_id="moodle-test",
                    name="Moodle Lycée",
                    training_platform=True,
                    redirect_uris=[platform_callback],
                ),
                secret_key=settings.secret_key,
            )
        assert portal_client.client_secret
        assert moodle.client_secret
        portal = payment_app(
            PaymentSettings(
                kafka_bootstrap=broker.bootstrap,
                issuer=issuer,
                public_url=portal_url,
                oidc_client_secret=portal_client.client_secret,
            )
        )
        await running.enter_async_context(portal.router.lifespan_context(portal))
        await running.enter_async_context(serving(portal, portal_port))
        await running.enter_async_context(serving(platform_app(callbacks), platform_port))
        yield PaymentStack(
            sso=sso,
            portal=portal,
            issuer=issuer,
            portal_url=portal_url,
            bootstrap=broker.bootstrap,
            platform=Platform(moodle.client_id, moodle.client_secret, platform_callback, callbacks),
        )


async def new_learner(stack: PaymentStack) -> tuple[str, str]:
    """A learner account at the gateway, with the demo password: its id and username."""
    username = f"camille-{uuid.uuid4().hex[:8]}"
    async with stack.sso.state.runtime.pool.acquire() as conn:
        created = await user.create(
            conn,
            UserCreate(
                username=username,
                email=f"{username}@example.org",
                display_name="Camille Martin",
                password=PASSWORD,
                roles=["learner"],
            ),
        )
    return created.id, username


async def suspended_learner(stack: PaymentStack, amount: str = "42.00") -> Learner:
    """A learner reminded of a debt whose grace is over: the gateway suspends them on reading
    the reminder, and the portal's ledger lists the debt."""
    learner_id, username = await new_learner(stack)
    # The portal's own demo reminder: dated a day past its eight days of grace.
    debt_id = await remind(stack.bootstrap, learner_id, amount=Decimal(amount))

    async def suspended() -> bool:
        async with stack.sso.state.runtime.pool.acquire() as conn:
            answer: bool = await stack.sso.state.access.is_suspended(conn, learner_id)
            return answer

    assert await eventually(suspended, until=bool), "the gateway did not suspend the learner"
    listed = await eventually(
        lambda: asyncio.sleep(0, stack.portal.state.ledger.debt(debt_id)),
        until=lambda debt: debt is not None,
    )
    assert listed is not None, "the portal's ledger did not read the reminder"
    return Learner(learner_id, username, debt_id)


async def settlements_of(bootstrap: str, debt_id: str) -> list[DebtSettled]:
    """Every ``vigie.billing.debt.settled`` of ``debt_id`` on the topic, read to its end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [
            TopicPartition(topics.BILLING, n)
            for n in sorted(consumer.partitions_for_topic(topics.BILLING) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[DebtSettled] = []
        pending = {tp for tp, end in ends.items() if end > 0}
        deadline = asyncio.get_running_loop().time() + 20
        while pending and asyncio.get_running_loop().time() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=300)).items():
                for record in records:
                    data = decode(record.headers, record.value).data
                    if isinstance(data, DebtSettled) and data.debt_id == debt_id:
                        found.append(data)
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        assert not pending, f"could not read {topics.BILLING} to its end"
        return found
    finally:
        await consumer.stop()
