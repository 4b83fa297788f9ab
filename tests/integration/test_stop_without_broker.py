"""A service whose broker went away stops whole: nothing of it runs on afterwards.

aiokafka lets a cancellation out of a consumer's ``stop()`` when its fetcher is closed while it
backs off from a broker that is gone. FastStream stops a broker's subscribers in one anyio task
group, which that cancellation made cancel the other subscribers' stops midway: the audit log's
ingest consumer then kept heartbeating, fetching and refreshing metadata against the dead broker
for the rest of the process (here, of the test session, where its errors filled later tests'
logs)."""

from __future__ import annotations

import asyncio

import pytest

from audit_log.app import create_app as audit_app
from audit_log.config import Settings as AuditSettings
from tests.fixtures.stack import Broker
from tests.integration.test_services import client, settings_for

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.broker,
    pytest.mark.both_brokers,
]


def _described(task: asyncio.Task[object]) -> str:
    coro = task.get_coro()
    return getattr(coro, "__qualname__", repr(coro))


async def test_a_service_stopped_after_its_broker_died_leaves_no_task_running(
    database_url: str, private_broker: Broker
) -> None:
    before = asyncio.all_tasks()
    app = audit_app(settings_for(AuditSettings, database_url, private_broker.bootstrap))
    async with app.router.lifespan_context(app), client(app) as http:
        assert (await http.get("/readyz")).status_code == 200
        private_broker.kill()
        assert (await http.get("/readyz")).status_code == 503
    await asyncio.sleep(1)  # what a stop cancelled has finished by now
    left = asyncio.all_tasks() - before - {asyncio.current_task()}
    assert sorted(_described(task) for task in left) == []
