"""The event backbone on a three-node Apache Kafka cluster (replication factor 3,
``min.insync.replicas=2``, idempotent ``acks=all`` producers) while its nodes and consumers
fail: the project's own outbox relay and EventConsumer with its inbox, each in a process of its
own (tests/kit/backbone_worker.py), the consumer's effect a plain INSERT with no unique
constraint, so that an event applied twice shows as two rows.

After each fault, every event produced (every outbox row of the test's schema) is applied
exactly once, a malformed record sent mid-flow is dead-lettered without holding its partition
back, and each test prints its counts. The cluster is the session's: the topic holds earlier
tests' events too, so counts are taken over this test's own event ids.

``make soak`` also runs the Apache Kafka soak: for ``VIGIE_SOAK_SECONDS`` (900 by default),
nodes of the cluster SIGKILLed or stopped and restarted at random under a steady flow, in an
order ``VIGIE_SOAK_SEED`` replays.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.fixtures.backbone import SUBJECTS, Worker, produce
from tests.fixtures.effects import effects_pool
from vigie_shared import topics
from vigie_shared.events import SERVICE_SOURCES, UserCreated, new_event
from vigie_shared.kit.cloudevents import KafkaRecord, encode
from vigie_shared.kit.kafka import Producer, ensure_topics
from vigie_shared.kit.kafka_server import ApacheKafka, ApacheKafkaCluster

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker, pytest.mark.cluster]

TOPIC = topics.IDENTITY
PARTITIONS = 3
BATCH = 150


@dataclass
class Counts:
    """``produced``: this test's outbox rows; ``applied``: how many of them have an effect;
    ``lost``: produced without effect; ``lost_where``: how many of those the relay has not
    published, and how many it published to each partition (where a loss happened);
    ``duplicated``: applied more than once; ``log_duplicates``: written more than once to the
    topic's log."""

    produced: int
    applied: int
    lost: list[str]
    lost_where: dict[str, int]
    duplicated: list[str]
    log_duplicates: list[str]

    def line(self, label: str) -> str:
        return (
            f"{label}: produced={self.produced} applied={self.applied} lost={len(self.lost)}"
            f" {self.lost[:5]} {self.lost_where} duplicated={len(self.duplicated)}"
            f" {self.duplicated[:5]}"
            f" written twice to the log={len(self.log_duplicates)} {self.log_duplicates[:5]}"
        )


@pytest_asyncio.fixture(loop_scope="session")
async def cluster(kafka_cluster: ApacheKafkaCluster) -> ApacheKafkaCluster:
    await ensure_topics(
        kafka_cluster.bootstrap, [TOPIC], partitions=PARTITIONS, replication=3, min_insync=2
    )
    return kafka_cluster


@pytest_asyncio.fixture(loop_scope="session")
async def pool(database_url: str, schema: str) -> AsyncIterator[asyncpg.Pool]:
    async with effects_pool(database_url, schema) as effects:
        yield effects


@pytest.fixture
def workers(
    cluster: ApacheKafkaCluster, database_url: str, schema: str
) -> Iterator[tuple[Worker, Worker, Worker]]:
    """The relay and two instances of one consumer (same group), none started yet. They
    bootstrap from the first node alone: FastStream's KafkaBroker takes a bootstrap string as a
    single address, commas and all; the tests kill other nodes than this one."""
    bootstrap = cluster.nodes[0].bootstrap
    relay = Worker("relay", database_url, schema, bootstrap)
    group = f"g-{schema}"
    first = Worker("consumer", database_url, schema, bootstrap, group)
    second = Worker("consumer", database_url, schema, bootstrap, group)
    yield relay, first, second
    for worker in (relay, first, second):
        worker.stop()


def victim(cluster: ApacheKafkaCluster) -> tuple[int, ApacheKafka]:
    """A partition of the topic and its leader, a node the workers do not bootstrap from."""
    for partition in range(PARTITIONS):
        leader = cluster.leader_of(TOPIC, partition)
        if leader is not cluster.nodes[0]:
            return partition, leader
    raise LookupError("the first node leads every partition")


async def send_poison(bootstrap: str) -> tuple[int, int]:
    """A record with CloudEvents headers and a body that is not JSON, keyed like the test's
    events; returns its partition and offset."""
    good = encode(
        new_event(
            UserCreated(user_id=SUBJECTS[0], email="p@t.fr", display_name="seq-poison"),
            subject=SUBJECTS[0],
            source=SERVICE_SOURCES["sso_gateway"],
        )
    )
    headers = [
        (k, f"poison-{uuid.uuid4()}".encode() if k == "ce_id" else v) for k, v in good.headers
    ]
    producer = Producer(bootstrap, client_id="poison")
    await producer.start()
    try:
        sent = await producer.send_and_wait(KafkaRecord(TOPIC, good.key, b"{oops", headers))
    finally:
        await producer.stop()
    return sent.partition, sent.offset


async def ids_in_log(bootstrap: str, wanted: set[str]) -> Counter[str]:
    """How many times each of ``wanted`` is in the topic's log, read from its start to its end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    seen: Counter[str] = Counter()
    try:
        partitions = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + 60
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, "the topic's log could not be read to its end"
            for records in (await consumer.getmany(*partitions, timeout_ms=500)).values():
                for record in records:
                    event_id = dict(record.headers or ()).get("ce_id", b"").decode()
                    if event_id in wanted:
                        seen[event_id] += 1
    finally:
        await consumer.stop()
    return seen


async def counts(pool: asyncpg.Pool, bootstrap: str) -> Counts:
    produced = {row["event_id"] for row in await pool.fetch("SELECT event_id FROM outbox")}
    applied = Counter(
        {
            row["event_id"]: row["n"]
            for row in await pool.fetch(
                "SELECT event_id, count(*) AS n FROM effects WHERE event_id = ANY($1::text[])"
                " GROUP BY event_id",
                list(produced),
            )
        }
    )
    in_log = await ids_in_log(bootstrap, produced)
    lost = sorted(produced - set(applied))
    lost_where = Counter(
        "unpublished" if row["partition"] is None else f"partition {row['partition']}"
        for row in await pool.fetch(
            "SELECT partition FROM outbox WHERE event_id = ANY($1::text[])", lost
        )
    )
    return Counts(
        produced=len(produced),
        applied=len(applied),
        lost=lost,
        lost_where=dict(sorted(lost_where.items())),
        duplicated=sorted(i for i, n in applied.items() if n > 1),
        log_duplicates=sorted(i for i, n in in_log.items() if n > 1),
    )


async def wait_until_applied(pool: asyncpg.Pool, timeout: float = 90.0) -> None:
    """Until every outbox row is relayed and has its effect (or ``timeout``: the counts then
    say what is missing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        missing = await pool.fetchval(
            "SELECT count(*) FROM outbox o WHERE NOT EXISTS"
            " (SELECT 1 FROM effects e WHERE e.event_id = o.event_id)"
        )
        if missing == 0:
            await asyncio.sleep(1.0)  # let any late duplicate show itself
            return
        await asyncio.sleep(0.3)


async def check(
    pool: asyncpg.Pool,
    cluster: ApacheKafkaCluster,
    poison: tuple[int, int],
    label: str,
    expected: int = 3 * BATCH,
) -> None:
    await wait_until_applied(pool)
    found = await counts(pool, cluster.bootstrap)
    partition, offset = poison
    dead = await pool.fetchval(
        "SELECT count(*) FROM dead_letters"
        " WHERE topic = $1 AND partition = $2 AND kafka_offset = $3",
        TOPIC,
        partition,
        offset,
    )
    print(f"\n{found.line(label)} poison dead-lettered={dead}", flush=True)
    assert found.produced == expected
    assert found.lost == [], f"lost {len(found.lost)} event(s)"
    assert found.duplicated == [], f"{len(found.duplicated)} event(s) applied twice"
    assert found.log_duplicates == [], f"{len(found.log_duplicates)} event(s) written twice"
    assert dead == 1, "the malformed record was not dead-lettered once"


async def test_partition_leader_sigkilled_mid_flow_then_rejoining_loses_and_doubles_nothing(
    cluster: ApacheKafkaCluster, pool: asyncpg.Pool, workers: tuple[Worker, Worker, Worker]
) -> None:
    relay, consumer, _ = workers
    relay.start()
    consumer.start()
    await produce(pool, 0, BATCH)
    partition, leader = victim(cluster)
    leader.kill()
    poison = await send_poison(cluster.bootstrap)
    await produce(pool, BATCH, BATCH)  # while the partition elects a new leader
    rejoining = asyncio.create_task(asyncio.to_thread(leader.start))
    await produce(pool, 2 * BATCH, BATCH)
    await rejoining
    assert cluster.live() == {node.node_id for node in cluster.nodes}
    label = f"leader {leader.node_id} of partition {partition} SIGKILLed and rejoined"
    await check(pool, cluster, poison, label)


async def test_consumer_group_rebalance_while_events_flow_loses_and_doubles_nothing(
    cluster: ApacheKafkaCluster, pool: asyncpg.Pool, workers: tuple[Worker, Worker, Worker]
) -> None:
    relay, first, second = workers
    relay.start()
    first.start()
    await produce(pool, 0, BATCH)
    second.start()  # the group rebalances: partitions move to the newcomer mid-flow
    poison = await send_poison(cluster.bootstrap)
    await produce(pool, BATCH, BATCH)
    first.kill()  # and again: its partitions go to the survivor, uncommitted offsets replayed
    await produce(pool, 2 * BATCH, BATCH)
    await check(pool, cluster, poison, "second consumer joined, first SIGKILLed")


async def test_broker_restarted_under_the_relays_in_flight_batches_writes_each_event_once(
    cluster: ApacheKafkaCluster, pool: asyncpg.Pool, workers: tuple[Worker, Worker, Worker]
) -> None:
    relay, consumer, _ = workers
    consumer.start()
    relay.start()
    flowing = asyncio.create_task(produce(pool, 0, 3 * BATCH))
    while await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL") < 50:
        await asyncio.sleep(0.05)
    _, leader = victim(cluster)
    # SIGKILL mid-stream: batches the leader may have written and replicated go unacknowledged,
    # and the producer retries them to the next leader, which must recognise them.
    leader.kill()
    pending = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    poison = await send_poison(cluster.bootstrap)
    await asyncio.to_thread(leader.start)
    await flowing
    label = f"node {leader.node_id} SIGKILLed with {pending} events in the relay's hands"
    await check(pool, cluster, poison, label)


@pytest.mark.soak
async def test_soak_random_node_kills_and_restarts_lose_and_double_nothing(
    cluster: ApacheKafkaCluster, pool: asyncpg.Pool, workers: tuple[Worker, Worker, Worker]
) -> None:
    seed = int(os.environ.get("VIGIE_SOAK_SEED", random.randrange(1 << 32)))
    seconds = float(os.environ.get("VIGIE_SOAK_SECONDS", "900"))
    print(f"\nsoak seed {seed} (VIGIE_SOAK_SEED={seed} replays this order)", flush=True)
    draw = random.Random(seed)
    relay, first, second = workers
    relay.start()
    first.start()
    second.start()
    produced = 0
    faults = 0
    poison = await send_poison(cluster.bootstrap)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        # The workers bootstrap from the first node: the others take the faults.
        node = draw.choice(cluster.nodes[1:])
        crash = draw.random() < 0.5
        flowing = asyncio.create_task(produce(pool, produced, BATCH))
        await asyncio.sleep(draw.uniform(0.0, 2.0))
        if crash:
            node.kill()
        else:
            await asyncio.to_thread(node.stop)
        await asyncio.sleep(draw.uniform(0.0, 12.0))
        await asyncio.to_thread(node.start)
        await flowing
        produced += BATCH
        faults += 1
        print(
            f"fault {faults}: node {node.node_id} {'SIGKILL' if crash else 'SIGTERM'}", flush=True
        )
    await check(pool, cluster, poison, f"soak of {faults} node faults", expected=produced)
