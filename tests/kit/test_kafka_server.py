"""Apache Kafka from the pinned jars (kit/kafka_server.py): its log survives a crash and a
restart, its files are its user's alone, and the kit's producer is idempotent on it (and only
there: Tansu grants no producer ids)."""

from __future__ import annotations

import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaClient, AIOKafkaConsumer, TopicPartition
from aiokafka.client import CoordinationType
from aiokafka.errors import TopicAuthorizationFailedError

from tests.fixtures.kafka import on_topic, read_all
from tests.fixtures.stack import APACHE_KAFKA, ARTIFACTS
from tests.kit.support import user_event
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.embedded import free_port
from vigie_shared.kit.kafka import KafkaCredentials, Producer, ensure_topics
from vigie_shared.kit.kafka_acls import Grant
from vigie_shared.kit.kafka_admin import coordinator_probes, java_string_hash
from vigie_shared.kit.kafka_jars import kafka_unavailable_reason
from vigie_shared.kit.kafka_server import ApacheKafka

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

needs_kafka = pytest.mark.skipif(
    kafka_unavailable_reason() is not None, reason=f"Apache Kafka: {kafka_unavailable_reason()}"
)


@pytest.fixture(scope="module")
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApacheKafka]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    broker = ApacheKafka(
        data_dir=tmp_path_factory.mktemp("kafka-server") / "data",
        port=free_port(),
        log_file=ARTIFACTS / "test_kafka_server.log",
        pid_file=tmp_path_factory.mktemp("kafka-pid") / "kafka.pid",
    )
    with broker:
        yield broker


@needs_kafka
async def test_a_started_broker_coordinates_any_group_at_the_first_ask(
    own_kafka: ApacheKafka,
) -> None:
    """First in this module, so that the broker is as ``start`` left it: a consumer of a fresh
    broker would otherwise be told COORDINATOR_NOT_AVAILABLE while ``__consumer_offsets`` loads."""
    client = AIOKafkaClient(bootstrap_servers=own_kafka.bootstrap)
    await client.bootstrap()
    try:
        for n in range(40):
            await client.coordinator_lookup(CoordinationType.GROUP, f"group-{uuid.uuid4()}-{n}")
    finally:
        await client.close()


def test_the_probes_name_one_group_on_each_partition_of_the_offsets_topic() -> None:
    # Values of Java's String.hashCode(); the second is Integer.MIN_VALUE, which Kafka's
    # Utils.abs maps to 0.
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("polygenelubricants") == -(1 << 31)
    probes = coordinator_probes(10)
    assert len(probes) == 10
    assert sorted(abs(java_string_hash(p)) % 10 for p in probes) == list(range(10))


@needs_kafka
async def test_a_broker_killed_outright_restarts_with_its_records_and_group_offsets(
    own_kafka: ApacheKafka,
) -> None:
    topic = f"test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(own_kafka.bootstrap, [topic], partitions=1, with_dlq=False)
    producer = Producer(own_kafka.bootstrap, client_id="test")
    await producer.start()
    try:
        for n in range(10):
            await producer.send_and_wait(on_topic(encode(user_event(f"u-{n}")), topic))
    finally:
        await producer.stop()
    group = f"g-{topic}"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=own_kafka.bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.commit({TopicPartition(topic, 0): 4})
    finally:
        await consumer.stop()

    own_kafka.kill()
    own_kafka.start()

    assert len(await read_all(own_kafka.bootstrap, topic, 10)) == 10
    consumer = AIOKafkaConsumer(
        bootstrap_servers=own_kafka.bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        assert await consumer.committed(TopicPartition(topic, 0)) == 4
    finally:
        await consumer.stop()


@needs_kafka
def test_the_data_directory_and_pid_file_are_the_users_alone(own_kafka: ApacheKafka) -> None:
    open_to_others = [
        str(path)
        for path in [own_kafka.data_dir, *own_kafka.data_dir.rglob("*")]
        if stat.S_IMODE(path.stat().st_mode) & 0o077
    ]
    assert open_to_others == []
    assert own_kafka._pid_file is not None
    assert own_kafka._pid_file.read_text() == str(own_kafka.pid)
    assert stat.S_IMODE(own_kafka._pid_file.stat().st_mode) == 0o600


@pytest.mark.both_brokers
async def test_the_kits_producer_is_idempotent_where_the_broker_grants_producer_ids(
    kafka: str, broker_kind: str
) -> None:
    producer = Producer(kafka, client_id="test")
    await producer.start()
    try:
        assert producer.idempotent is (broker_kind == APACHE_KAFKA)
    finally:
        await producer.stop()


def test_without_java_the_reason_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = kafka_unavailable_reason()
    assert reason is not None
    assert "java" in reason.lower()


@pytest.mark.both_brokers
async def test_a_services_own_kafka_clients_are_idempotent_where_the_broker_allows(
    kafka: str, broker_kind: str, database_url: str
) -> None:
    """Every producer a service starts (the relay's and FastStream's) waits for every in-sync
    replica, and is idempotent on Apache Kafka; a bootstrap list of several hosts is taken as
    several hosts."""
    from audit_log.app import create_app
    from audit_log.config import Settings

    app = create_app(
        Settings(database_url=database_url, kafka_bootstrap=f"{kafka},{kafka}", env="development")
    )
    async with app.router.lifespan_context(app):
        options = app.state.runtime.broker._connection_kwargs
        assert options["bootstrap_servers"] == [kafka, kafka]
        assert options["acks"] == "all"
        assert options["enable_idempotence"] is (broker_kind == APACHE_KAFKA)


@needs_kafka
async def test_a_node_with_users_keeps_them_and_their_acls_across_a_restart(
    tmp_path: Path,
) -> None:
    """Credentials are formatted into the metadata log once and the node's own super-user
    password is kept beside it: a second start must authenticate its own traffic and the same
    clients, and refuse what it refused."""
    topic = f"test.{uuid.uuid4().hex[:8]}"
    writer = KafkaCredentials("writer", "writer-password")
    broker = ApacheKafka(
        data_dir=tmp_path / "data",
        port=free_port(),
        log_file=ARTIFACTS / "test_kafka_server_users.log",
        users={writer.username: writer.password},
        acls=[
            Grant("writer", "topic", topic, "Write"),
            Grant("writer", "topic", topic, "Create"),
        ],
    )
    with broker:
        await ensure_topics(broker.bootstrap, [topic], partitions=1, with_dlq=False, login=writer)
    assert broker.admin is not None
    assert (tmp_path / "data" / "admin.password").read_text().strip() == broker.admin.password
    with broker:
        producer = Producer(broker.bootstrap, client_id="test", login=writer)
        await producer.start()
        try:
            await producer.send_and_wait(on_topic(encode(user_event("u-1")), topic))
            with pytest.raises(TopicAuthorizationFailedError):
                await producer.send_and_wait(on_topic(encode(user_event("u-2")), f"{topic}.x"))
        finally:
            await producer.stop()


def test_acls_without_users_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ACLs without users"):
        ApacheKafka(data_dir=tmp_path, acls=[Grant("writer", "topic", "t", "Write")])
