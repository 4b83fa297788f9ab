"""Two replicas of every service on the embedded stack give single effects.

Six apps, each with its own Runtime (pool, producer, relay, consumers, schedulers), share one
database of the test's own, the schemas and the consumer groups of a private broker. Under a
workload that makes replicas race — past-due reminders that both grace schedulers and both
billing consumers could act on, verifications sent to both DPO replicas at once, periodic
checkpoint signers on both audit logs — every effect happens once, and the consumer groups
split the partitions between the replicas.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiokafka import TopicPartition
from fastapi import FastAPI

from audit_log.app import create_app as audit_app
from audit_log.config import Settings as AuditSettings
from dpo_requests.app import create_app as dpo_app
from dpo_requests.config import Settings as DpoSettings
from sso_gateway.app import create_app as sso_app
from sso_gateway.config import Settings as SsoSettings
from tests.faults.ledger import (
    audit_counts,
    doubled_checkpoints,
    events_by_key,
    task_answers,
    until,
    verify_tree,
)
from tests.fixtures.issuer import FakeIssuer
from tests.fixtures.stack import Broker, with_database
from vigie_shared.events import DebtReminded, DebtSettled, EventData, PaymentChannel, new_event
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.consumer import Outcome
from vigie_shared.kit.kafka import Producer

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.broker,
    pytest.mark.both_brokers,
]

LEARNERS = 24
PAYING = 10
REQUESTS = 8
SYSTEMS = {"sso_gateway", "audit_log"}


@pytest_asyncio.fixture(loop_scope="session")
async def own_database(admin_dsn: str) -> AsyncIterator[str]:
    """A database of this test's own: every row in it was produced by the replicas below."""
    name = f"vigie_replicas_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(admin_dsn, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


class Replicas:
    def __init__(self, dsn: str, bootstrap: str) -> None:
        common: dict[str, Any] = {
            "database_url": dsn,
            "kafka_bootstrap": bootstrap,
            "env": "development",
        }
        self.issuer = FakeIssuer()
        self.apps: dict[str, list[FastAPI]] = {
            "sso_gateway": [
                sso_app(SsoSettings(**common, grace_sweep_seconds=0.3)) for _ in range(2)
            ],
            "dpo_requests": [
                dpo_app(
                    DpoSettings(**common, scheduler_interval_seconds=0.3),
                    token_verifier=self.issuer.verifier(),
                )
                for _ in range(2)
            ],
            "audit_log": [
                audit_app(AuditSettings(**common, checkpoint_interval_seconds=0.3))
                for _ in range(2)
            ],
        }

    def http(self, app: FastAPI) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dpo")


async def serve(app: FastAPI, ready: asyncio.Event, stop: asyncio.Event) -> None:
    async with app.router.lifespan_context(app):
        ready.set()
        await stop.wait()


@pytest_asyncio.fixture(loop_scope="session")
async def replicas(own_database: str, private_broker: Broker) -> AsyncIterator[Replicas]:
    """All six start at once, as a deployment's pods do: they race to migrate the schemas, to
    create the signing keys and to join the consumer groups."""
    stack = Replicas(own_database, private_broker.bootstrap)
    stop = asyncio.Event()
    apps = [app for apps in stack.apps.values() for app in apps]
    ready = [asyncio.Event() for _ in apps]
    tasks = [
        asyncio.create_task(serve(app, flag, stop)) for app, flag in zip(apps, ready, strict=True)
    ]
    started: asyncio.Future[Any] = asyncio.gather(*(flag.wait() for flag in ready))
    try:
        done, _ = await asyncio.wait(
            [*tasks, started], timeout=90, return_when=asyncio.FIRST_COMPLETED
        )
        for task in tasks:
            if task in done:
                task.result()  # a replica that failed to start raises here
        assert all(flag.is_set() for flag in ready), "replicas not started after 90 s"
        yield stack
    finally:
        started.cancel()
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


async def publish(bootstrap: str, events: list[tuple[str, EventData]]) -> list[str]:
    """The accounting system's events; returns their ids."""
    producer = Producer(bootstrap, client_id="accounting-test")
    await producer.start()
    try:
        ids = []
        for learner, data in events:
            event = new_event(data, subject=learner, source="/accounting/test")
            await producer.send_and_wait(encode(event))
            ids.append(event.id)
        return ids
    finally:
        await producer.stop()


def assigned(app: FastAPI, group: str) -> set[TopicPartition]:
    """The partitions the group's coordinator gave this replica's consumer."""
    (subscriber,) = [
        s for s in app.state.runtime.broker.subscribers if getattr(s, "group_id", None) == group
    ]
    partitions: set[TopicPartition] = set(subscriber.consumer.assignment())
    return partitions


def consumed(app: FastAPI, purpose: str) -> int:
    consumer = next(c for c in app.state.runtime.consumers if c.name.endswith(f".{purpose}"))
    return int(consumer.counts[Outcome.PROCESSED] + consumer.counts[Outcome.DUPLICATE])


async def test_two_replicas_of_each_service_give_single_effects(
    replicas: Replicas, own_database: str, private_broker: Broker
) -> None:
    run = uuid.uuid4().hex[:6]
    learners = [f"rep-{run}-{n:02d}" for n in range(LEARNERS)]
    reminded = utcnow().replace(microsecond=0)
    reminders: list[tuple[str, EventData]] = [
        (
            learner,
            DebtReminded(
                debt_id=f"debt-{learner}",
                learner_id=learner,
                channel=PaymentChannel.CARD,
                amount=Decimal("120.00"),
                reminded_at=reminded.replace(year=reminded.year - 1),
                grace_days=8,
            ),
        )
        for learner in learners
    ]
    outside = await publish(private_broker.bootstrap, reminders)

    db = await asyncpg.connect(own_database)
    try:
        suspended = await until(
            lambda: events_by_key(db, "sso", "vigie.access.suspended"),
            lambda found: set(found) >= set(learners),
            timeout=60,
            what="every learner past grace suspended",
        )
        payers = learners[:PAYING]
        outside += await publish(
            private_broker.bootstrap,
            [
                (
                    learner,
                    DebtSettled(
                        debt_id=f"debt-{learner}",
                        learner_id=learner,
                        amount=Decimal("120.00"),
                        settled_at=utcnow(),
                    ),
                )
                for learner in payers
            ],
        )
        restored = await until(
            lambda: events_by_key(db, "sso", "vigie.access.restored"),
            lambda found: set(found) >= set(payers),
            timeout=60,
            what="every learner who paid restored",
        )

        await until(
            lambda: db.fetch("SELECT name FROM dpo.data_systems"),
            lambda rows: {r["name"] for r in rows} >= SYSTEMS,
            timeout=30,
            what="both data systems announced",
        )
        dpo_a, dpo_b = replicas.apps["dpo_requests"]
        officer = replicas.issuer.headers("dpo-1", "dpo")
        async with replicas.http(dpo_a) as http_a, replicas.http(dpo_b) as http_b:
            request_ids = []
            for n in range(REQUESTS):
                http = (http_a, http_b)[n % 2]
                created = await http.post(
                    "/requests",
                    json={"request_type": "access"},
                    headers=replicas.issuer.headers(f"rep-{run}-dpo-{n}", "learner"),
                )
                assert created.status_code == 201, created.text
                request_ids.append(created.json()["id"])
            # Each verification reaches both replicas at once: one wins, the other sees a
            # request already in progress.
            answers = await asyncio.gather(
                *(
                    http.post(f"/requests/{rid}/verify", json={"method": "sso"}, headers=officer)
                    for rid in request_ids
                    for http in (http_a, http_b)
                )
            )
        assert sorted(a.status_code for a in answers) == [200] * REQUESTS + [409] * REQUESTS

        await until(
            lambda: db.fetchval(
                "SELECT count(*) FROM dpo.requests WHERE id = ANY($1::text[])"
                " AND status = 'completed'",
                request_ids,
            ),
            lambda done: done == REQUESTS,
            timeout=60,
            what="every request completed by its data systems",
        )
        tasks = await db.fetch(
            "SELECT id, request_id, system, status FROM dpo.tasks WHERE request_id = ANY($1)",
            request_ids,
        )
        counts = await until(
            lambda: audit_counts(db, outside),
            lambda c: not c.lost,
            timeout=60,
            what="every event stored by the audit log",
        )
        # Quiet now: nothing in flight may add a late second effect.
        await asyncio.sleep(1.5)
        suspended = await events_by_key(db, "sso", "vigie.access.suspended")
        restored = await events_by_key(db, "sso", "vigie.access.restored")
        rows = await db.fetch(
            "SELECT learner_id, suspended FROM sso.access_states WHERE learner_id = ANY($1)",
            learners,
        )
        requested = await events_by_key(db, "dpo", "vigie.dpo.task.requested")
        answered = await task_answers(db)
        completed = await events_by_key(db, "dpo", "vigie.dpo.request.completed", "request_id")
        counts = await audit_counts(db, outside)
        doubled = await doubled_checkpoints(db)
        checkpoints = await db.fetchval("SELECT count(*) FROM audit.checkpoints")
    finally:
        await db.close()
    ok, tree_size, checked, finding = await verify_tree(own_database)

    split = {
        "sso_gateway billing": [consumed(app, "access") for app in replicas.apps["sso_gateway"]],
        "dpo_requests task results": [
            consumed(app, "task-results") for app in replicas.apps["dpo_requests"]
        ],
        "audit_log ingest": [app.state.ingest.stored for app in replicas.apps["audit_log"]],
    }
    print(
        f"\nreplicas: {LEARNERS} learners suspended once each"
        f" ({sum(suspended[x] for x in learners)} access.suspended),"
        f" {PAYING} restored once ({sum(restored[x] for x in learners)} access.restored),"
        f" {len(rows)} access rows; {REQUESTS} requests verified,"
        f" {len(tasks)} tasks, {sum(requested[r] for r in request_ids)} task.requested,"
        f" {sum(answered[t['id']] for t in tasks)} answers;"
        f" audit log {counts.line()}, tree {tree_size} verified with {checked} checkpoint(s),"
        f" {doubled} doubled of {checkpoints}; work split {split}"
    )
    assert all(suspended[learner] == 1 for learner in learners), suspended
    assert all(restored[learner] == 1 for learner in payers), restored
    assert sum(restored[learner] for learner in learners) == PAYING
    assert {r["learner_id"]: r["suspended"] for r in rows} == {
        learner: learner not in payers for learner in learners
    }
    assert len(tasks) == REQUESTS * len(SYSTEMS)
    assert {(t["request_id"], t["system"]) for t in tasks} == {
        (rid, system) for rid in request_ids for system in SYSTEMS
    }
    assert all(t["status"] == "completed" for t in tasks)
    assert all(requested[rid] == len(SYSTEMS) for rid in request_ids), requested
    assert all(answered[t["id"]] == 1 for t in tasks), answered
    assert all(completed[rid] == 1 for rid in request_ids), completed
    assert counts.duplicates == 0
    assert not counts.lost
    assert counts.stored == counts.sent
    assert ok, finding
    assert checked == checkpoints
    assert doubled == 0
    # Each group split its partitions between the two replicas. Whether a replica then also
    # received a record depends on where the keys of this run hash: eight requests' task results
    # all land outside one replica's partition about once in twenty-five runs.
    groups = {
        "sso_gateway": "sso_gateway.access",
        "dpo_requests": "dpo_requests.task-results",
        "audit_log": "audit_log.ingest",
    }
    for service, group in groups.items():
        first, second = (assigned(app, group) for app in replicas.apps[service])
        assert first, f"{group}: replica 1 owns no partition"
        assert second, f"{group}: replica 2 owns no partition"
        assert not first & second, f"{group}: a partition owned twice: {first & second}"
    for name, (first, second) in split.items():
        assert first + second > 0, f"{name}: nothing consumed"
    # Where the keys are many (24 learners; every event), both replicas do take a share.
    assert all(n > 0 for n in split["sso_gateway billing"]), split
    assert all(n > 0 for n in split["audit_log ingest"]), split
