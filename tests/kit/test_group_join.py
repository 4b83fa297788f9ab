"""A service whose consumer group cannot form fails its start naming the group, instead of
hanging in aiokafka's wait for an assignment (which has no limit).

The group is held the way a real one gets stuck on Apache Kafka: a member that joined and then
stopped answering without leaving (here SIGSTOPped, as a frozen VM or a process paused by a
debugger is) keeps the coordinator waiting for it to rejoin until its session expires (10 s
here, above the 3 s the service is given; the service's stop then waits for its pending join
to be answered, which that expiry brings)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from tests.fixtures.stack import APACHE_KAFKA, SessionBrokers
from vigie_shared.kit.kafka import ensure_topics
from vigie_shared.kit.kafka_jars import kafka_unavailable_reason
from vigie_shared.kit.runtime import ConsumerGroupsNotFormed, Runtime, ServiceSpec
from vigie_shared.kit.settings import ServiceSettings

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

MEMBER = textwrap.dedent(
    """
    import asyncio, sys
    from aiokafka import AIOKafkaConsumer

    async def main() -> None:
        bootstrap, topic, group = sys.argv[1:]
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, group_id=group, client_id="held-member",
            session_timeout_ms=10_000, heartbeat_interval_ms=3_000,
        )
        await consumer.start()
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        print("assigned", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


@dataclass(frozen=True)
class Member:
    topic: str
    group: str
    process: asyncio.subprocess.Process


@pytest.fixture
def apache_kafka(session_brokers: SessionBrokers) -> str:
    reason = kafka_unavailable_reason()
    if reason is not None:
        pytest.skip(f"Apache Kafka: {reason}")
    return session_brokers.bootstrap(APACHE_KAFKA)


@pytest_asyncio.fixture(loop_scope="session")
async def member(apache_kafka: str) -> AsyncIterator[Member]:
    """A process of its own that joins the group ``svc-<id>.held`` on a topic and says
    ``assigned`` once it has the partition."""
    name = f"svc-{uuid.uuid4().hex[:6]}"
    topic, group = f"test.{name}", f"{name}.held"
    await ensure_topics(apache_kafka, [topic], partitions=1)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", MEMBER, apache_kafka, topic, group, stdout=asyncio.subprocess.PIPE
    )
    try:
        yield Member(topic, group, process)
    finally:
        process.kill()
        await process.wait()


async def test_a_group_held_by_a_stopped_member_fails_the_start_naming_it(
    apache_kafka: str, database_url: str, schema: str, member: Member
) -> None:
    topic, group = member.topic, member.group
    assert member.process.stdout is not None
    line = await asyncio.wait_for(member.process.stdout.readline(), 60)
    assert line.strip() == b"assigned"
    os.kill(member.process.pid, signal.SIGSTOP)

    spec = ServiceSpec(
        name=group.removesuffix(".held"),
        schema=schema,
        default_port=0,
        migrations=None,
        module="none",
        settings_factory=ServiceSettings,
    )
    runtime = Runtime(
        spec,
        ServiceSettings(
            database_url=database_url,
            kafka_bootstrap=apache_kafka,
            kafka_group_join_timeout_seconds=3,
        ),
    )
    runtime.consumer("held", topic)
    try:
        with pytest.raises(ConsumerGroupsNotFormed) as failed:
            await asyncio.wait_for(runtime.start(), 60)
        # The failed start stopped what it had started: no relay is left running on the loop
        # (a lifespan that fails to start never runs its exit, so nothing else would stop it).
        relays = [
            task
            for task in asyncio.all_tasks()
            if task.get_name() == f"{spec.name}-relay" and not task.done()
        ]
        assert relays == []
    finally:
        await runtime.stop()  # a second stop is harmless
    print(failed.value)
    assert f"consumer group(s) {group} did not form within 3 s" in str(failed.value)
