"""Only the accounting system may write billing events, and each service only its own topics.

The attack: a ``vigie.billing.debt.reminded`` forged by any client of the broker suspended a
real learner, a forged ``debt.settled`` restored them. Consumers' ``ce_source`` check names the
producer a record claims, which a forger chooses; on Apache Kafka the broker itself refuses the
write, each client authenticating with SASL/SCRAM-SHA-512 as its own principal and the
``StandardAuthorizer`` allowing it only what kit/kafka_acls.py grants. Tansu has no ACLs: these
tests run on an Apache Kafka node of their own, started with the users and that table."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError

from sso_gateway.app import create_app
from sso_gateway.config import Settings
from tests.fixtures.dlq_cli import vigie_dlq
from tests.fixtures.serving import own_database
from tests.fixtures.stack import ARTIFACTS
from tests.kit.support import user_event
from tests.sso_gateway.support import ISSUER, make_user
from vigie_shared import topics
from vigie_shared.demo.campaign import Fate, campaign
from vigie_shared.demo.simulate import play
from vigie_shared.events import (
    SERVICE_SOURCES,
    AccessRestored,
    AccessSuspended,
    Actor,
    DebtReminded,
    DebtSettled,
    PaymentChannel,
    new_event,
)
from vigie_shared.kit import db
from vigie_shared.kit.cloudevents import KafkaRecord, MalformedEvent, decode, encode
from vigie_shared.kit.dead_letters import Failure, Letter, dead_letter_repository
from vigie_shared.kit.embedded import free_port
from vigie_shared.kit.kafka import KafkaCredentials, Producer, client_security, ensure_topics
from vigie_shared.kit.kafka_acls import ACCOUNTING, grants, principals
from vigie_shared.kit.kafka_jars import kafka_unavailable_reason
from vigie_shared.kit.kafka_server import ApacheKafka
from vigie_shared.kit.migrate import migrate

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


async def _gateway_standin(bootstrap: str, learners: set[str]) -> None:
    """What the gateway does with billing events, as the gateway's user: a reminder suspends
    (at once: the grace period is the gateway's business, not the simulator's), a settlement
    restores."""
    consumer = AIOKafkaConsumer(
        topics.BILLING,
        bootstrap_servers=bootstrap,
        group_id=f"sso_gateway.test-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        **client_security(login("sso-gateway")),
    )
    producer = await producer_as(bootstrap, "sso-gateway")
    await consumer.start()
    try:
        gateway = Actor(kind="service", id="sso_gateway")
        while True:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    try:
                        event = decode(record.headers, record.value)
                    except MalformedEvent:
                        continue
                    data = event.data
                    if getattr(data, "learner_id", None) not in learners:
                        continue
                    answer: AccessSuspended | AccessRestored
                    if isinstance(data, DebtReminded):
                        answer = AccessSuspended(
                            learner_id=data.learner_id,
                            debt_ids=[data.debt_id],
                            reason="unpaid_debt",
                            actor=gateway,
                        )
                    elif isinstance(data, DebtSettled):
                        answer = AccessRestored(
                            learner_id=data.learner_id,
                            debt_ids=[data.debt_id],
                            reason="debt_settled",
                            actor=gateway,
                        )
                    else:
                        continue
                    out = encode(
                        new_event(
                            answer,
                            subject=data.learner_id,
                            source=SERVICE_SOURCES["sso_gateway"],
                        )
                    )
                    await producer.send_and_wait(
                        out.topic, out.value, key=out.key, headers=out.headers
                    )
    finally:
        await consumer.stop()
        await producer.stop()


async def test_the_billing_simulator_plays_a_campaign_as_the_accounting_user(
    bootstrap: str,
) -> None:
    # The whole loop goes through the broker's ACLs: the reminders and the payment written as
    # `accounting`, the suspension read back as `accounting` without a consumer group.
    plan = campaign(
        reminders=3,
        pay_after_reminder=0,
        exempt=0,
        pay_after_suspension=1,
        channel=PaymentChannel.CARD,
        seed=11,
    )
    gateway = asyncio.create_task(_gateway_standin(bootstrap, plan.learners))
    try:
        outcome = await play(bootstrap, plan, wait=60, login=login(ACCOUNTING))
    finally:
        gateway.cancel()
        await asyncio.gather(gateway, return_exceptions=True)
    due = {
        d.learner_id for d in plan.debtors if d.fate in (Fate.UNPAID, Fate.PAID_AFTER_SUSPENSION)
    }
    payer = {d.learner_id for d in plan.debtors if d.fate is Fate.PAID_AFTER_SUSPENSION}
    assert outcome.suspended == due
    assert outcome.paid_after_suspension == payer
    assert outcome.restored == payer


async def test_a_dead_billing_event_is_replayed_only_by_a_writer_of_billing_events(
    bootstrap: str,
    admin_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    record = debt_reminded(f"u-{uuid.uuid4().hex[:8]}")
    letter = Letter(
        topic=record.topic,
        partition=0,
        offset=0,
        key=record.key,
        value=record.value,
        headers=list(record.headers),
        size=len(record.value or b""),
        sha256=hashlib.sha256(record.value or b"").digest(),
    )
    async with own_database(admin_dsn, f"vigie_dlq_{uuid.uuid4().hex[:8]}") as database_url:
        await migrate(database_url, "sso", None)
        pool = await db.create_pool(database_url, "sso", max_size=1)
        try:
            async with pool.acquire() as conn:
                row_id, _ = await dead_letter_repository.claim(
                    conn, "sso_gateway.billing", letter, Failure("LookupError", "x", 3, None)
                )
            monkeypatch.setenv("VIGIE_DATA_DIR", str(tmp_path))
            monkeypatch.setenv("VIGIE_DATABASE_URL", database_url)
            monkeypatch.setenv("VIGIE_KAFKA_BOOTSTRAP", bootstrap)
            # The gateway's own user consumed it, but may not write billing events.
            monkeypatch.setenv("VIGIE_KAFKA_USERNAME", "sso-gateway")
            monkeypatch.setenv("VIGIE_KAFKA_PASSWORD", PASSWORDS["sso-gateway"])
            assert await asyncio.to_thread(vigie_dlq, ["dlq", "replay", f"sso/{row_id}"]) == 1
            refusal = capsys.readouterr().err
            assert "the broker refused the user 'sso-gateway'" in refusal
            assert "Traceback" not in refusal
            async with pool.acquire() as conn:
                refused = await dead_letter_repository.get(conn, row_id)
            assert refused is not None
            assert refused.replays == 0

            monkeypatch.setenv("VIGIE_KAFKA_USERNAME", ACCOUNTING)
            monkeypatch.setenv("VIGIE_KAFKA_PASSWORD", PASSWORDS[ACCOUNTING])
            assert await asyncio.to_thread(vigie_dlq, ["dlq", "replay", f"sso/{row_id}"]) == 0
            assert "replayed sso/" in capsys.readouterr().out
            async with pool.acquire() as conn:
                replayed = await dead_letter_repository.get(conn, row_id)
            assert replayed is not None
            assert replayed.replays == 1
        finally:
            await pool.close()
    # The replay is on the topic, byte for byte, for the gateway to read in its group.
    consumer = AIOKafkaConsumer(
        topics.BILLING,
        bootstrap_servers=bootstrap,
        group_id=f"sso_gateway.test-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        **client_security(login("sso-gateway")),
    )
    await consumer.start()
    try:
        values: list[bytes | None] = []
        for _ in range(40):
            batches = await consumer.getmany(timeout_ms=500)
            values += [r.value for rs in batches.values() for r in rs]
            if record.value in values:
                break
        assert values.count(record.value) == 1
    finally:
        await consumer.stop()
