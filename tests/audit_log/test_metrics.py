"""The audit log's Prometheus series: the tree size and how far the signed checkpoints lag, read
from the database at each scrape so every replica reports the same log."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from tests.audit_log.support import LogUnderTest, app_of, entry

pytestmark = pytest.mark.asyncio(loop_scope="session")

Samples = dict[str, float]


@pytest_asyncio.fixture(loop_scope="session")
async def http(log: LogUnderTest) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_of(log))
    async with httpx.AsyncClient(transport=transport, base_url="http://audit") as client:
        yield client


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name.startswith("vigie_audit_")
    }


async def test_tree_size_and_checkpoint_lag_are_exposed_on_metrics(
    log: LogUnderTest, http: httpx.AsyncClient
) -> None:
    empty = await scrape(http)
    assert empty["vigie_audit_tree_size"] == 0
    assert math.isnan(empty["vigie_audit_checkpoint_age_seconds"])

    await log.append(*(entry(n) for n in range(5)))
    grown = await scrape(http)
    assert grown["vigie_audit_tree_size"] == 5
    assert grown["vigie_audit_checkpoint_tree_size"] == 0

    async with log.pool.acquire() as conn:
        checkpoint = await log.audit.checkpoints.issue(conn)
    assert checkpoint is not None
    await log.append(entry(5), entry(6))
    signed = await scrape(http)
    assert signed["vigie_audit_tree_size"] == 7
    assert signed["vigie_audit_checkpoint_tree_size"] == 5
    assert 0 <= signed["vigie_audit_checkpoint_age_seconds"] < 60


async def test_a_scrape_still_answers_when_the_database_does_not(
    log: LogUnderTest, http: httpx.AsyncClient
) -> None:
    await log.append(entry(1), entry(2))
    assert (await scrape(http))["vigie_audit_tree_size"] == 2
    await log.pool.close()
    kept = await scrape(http)
    assert kept["vigie_audit_tree_size"] == 2
