"""Only the accounting system may write billing events, and each service only its own topics.

The attack: a ``vigie.billing.debt.reminded`` forged by any client of the broker suspended a
real learner, a forged ``debt.settled`` restored them. Consumers' ``ce_source`` check names the
producer a record claims, which a forger chooses; on Apache Kafka the broker itself refuses the
write, each client authenticating with SASL/SCRAM-SHA-512 as its own principal and the
``StandardAuthorizer`` allowing it only what kit/kafka_acls.py grants. Tansu has no ACLs: these
tests run on an Apache Kafka node of their own, started with the users and that table."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError

from sso_gateway.app import create_app
from sso_gateway.config import Settings
from tests.fixtures.serving import own_database
from tests.fixtures.stack import ARTIFACTS
from tests.kit.support import user_event
from tests.sso_gateway.conftest import ISSUER, make_user
from vigie_shared import topics
from vigie_shared.events import DebtReminded, PaymentChannel, new_event
from vigie_shared.kit.cloudevents import KafkaRecord, encode
from vigie_shared.kit.embedded import free_port
from vigie_shared.kit.kafka import KafkaCredentials, Producer, client_security, ensure_topics
from vigie_shared.kit.kafka_acls import ACCOUNTING, grants, principals
from vigie_shared.kit.kafka_server import ApacheKafka, kafka_unavailable_reason

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.broker,
    pytest.mark.skipif(
        kafka_unavailable_reason() is not None,
        reason=f"Apache Kafka: {kafka_unavailable_reason()}",
    ),
]

PASSWORDS = {name: secrets.token_urlsafe(18) for name in principals()}


def login(name: str) -> KafkaCredentials:
    return KafkaCredentials(name, PASSWORDS[name])


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApacheKafka]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    broker = ApacheKafka(
        data_dir=tmp_path_factory.mktemp("kafka-acls") / "data",
        port=free_port(),
        log_file=ARTIFACTS / "test_kafka_acls.log",
        users=PASSWORDS,
        acls=grants(),
    )
    with broker:
        yield broker


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def bootstrap(secured: ApacheKafka) -> AsyncIterator[str]:
    # The topics exist, as after any service's first start.
    await ensure_topics(secured.bootstrap, topics.ALL, login=login("sso-gateway"))
    yield secured.bootstrap


def debt_reminded(learner: str) -> KafkaRecord:
    event = new_event(
        DebtReminded(
            debt_id=f"d-{uuid.uuid4().hex[:8]}",
            learner_id=learner,
            channel=PaymentChannel.CARD,
            amount=Decimal("120.50"),
            reminded_at=datetime.now(UTC),
        ),
        subject=learner,
        source="/accounting/erp",
    )
    return encode(event)


async def producer_as(bootstrap: str, name: str | None) -> AIOKafkaProducer:
    security: dict[str, Any] = client_security(login(name)) if name else {}
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", request_timeout_ms=10_000, **security
    )
    return await started(producer)


async def started(producer: AIOKafkaProducer) -> AIOKafkaProducer:
    """``producer``, started; closed if the broker refuses it."""
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer


async def test_a_client_without_credentials_is_refused(bootstrap: str) -> None:
    with pytest.raises(KafkaConnectionError):
        await producer_as(bootstrap, None)


async def test_a_client_with_a_wrong_password_is_refused(bootstrap: str) -> None:
    # The same user with its password gets in: the refusal below is the password's.
    await (await producer_as(bootstrap, ACCOUNTING)).stop()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        **client_security(KafkaCredentials(ACCOUNTING, "not-the-password")),
    )
    with pytest.raises(KafkaConnectionError):
        await started(producer)


async def test_dpo_requests_cannot_forge_a_billing_event(bootstrap: str) -> None:
    producer = await producer_as(bootstrap, "dpo-requests")
    try:
        record = debt_reminded(f"u-{uuid.uuid4().hex[:8]}")
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(
                record.topic, record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()


async def test_audit_log_cannot_write_access_events(bootstrap: str) -> None:
    producer = await producer_as(bootstrap, "audit-log")
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(topics.ACCESS, b"{}", key=b"u-forged")
    finally:
        await producer.stop()


async def test_accounting_writes_billing_events_and_the_gateway_reads_them_in_its_group(
    bootstrap: str,
) -> None:
    learner = f"u-{uuid.uuid4().hex[:8]}"
    producer = await producer_as(bootstrap, ACCOUNTING)
    try:
        record = debt_reminded(learner)
        sent = await producer.send_and_wait(
            record.topic, record.value, key=record.key, headers=record.headers
        )
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topics.BILLING,
        bootstrap_servers=bootstrap,
        group_id=f"sso_gateway.test-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        **client_security(login("sso-gateway")),
    )
    await consumer.start()
    try:
        keys: list[bytes | None] = []
        for _ in range(40):
            batches = await consumer.getmany(timeout_ms=500)
            keys += [r.key for rs in batches.values() for r in rs if r.offset == sent.offset]
            if learner.encode() in keys:
                break
        assert learner.encode() in keys
        await consumer.commit()
    finally:
        await consumer.stop()


async def test_the_gateway_relays_its_outbox_with_its_own_credentials(
    bootstrap: str, admin_dsn: str
) -> None:
    # A database of its own: the session's gateway schema holds every earlier test's outbox,
    # which a relay meeting this new broker would first publish again (it finds none of its
    # rows there), and the event under test would wait behind them.
    async with own_database(admin_dsn, f"vigie_acl_{uuid.uuid4().hex[:8]}") as database_url:
        await _relay_and_read(bootstrap, database_url)


async def _relay_and_read(bootstrap: str, database_url: str) -> None:
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=bootstrap,
        kafka_username="sso-gateway",
        kafka_password=PASSWORDS["sso-gateway"],
        env="development",
        issuer=ISSUER,
        backchannel_poll_seconds=0,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        account = await make_user(app)
        # Read as audit_log reads it.
        consumer = AIOKafkaConsumer(
            topics.IDENTITY,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            **client_security(login("audit-log")),
        )
        await consumer.start()
        try:
            subjects: set[bytes | None] = set()
            for _ in range(60):
                batches = await consumer.getmany(timeout_ms=500)
                subjects |= {r.key for rs in batches.values() for r in rs}
                if account.id.encode() in subjects:
                    break
            assert account.id.encode() in subjects
        finally:
            await consumer.stop()


async def test_the_kit_producer_is_refused_a_topic_its_service_does_not_own(
    bootstrap: str,
) -> None:
    producer = Producer(bootstrap, client_id="test-gateway", login=login("sso-gateway"))
    await producer.start()
    try:
        assert producer.idempotent
        forged = replace(encode(user_event("u-x")), topic=topics.DPO_TASKS)
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(forged)
    finally:
        await producer.stop()
