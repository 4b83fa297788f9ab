"""The accounting office's campaign end to end on the real broker (issue 4, "Done means"):
the simulator plays the accounting system, the gateway decides suspensions, the audit log
records everything and its report gives back the campaign's figures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import datetime, timedelta

import pytest
import pytest_asyncio
from fastapi import FastAPI

from audit_log.app import create_app as audit_app
from audit_log.config import Settings as AuditSettings
from sso_gateway.app import create_app as sso_app
from sso_gateway.config import Settings as SsoSettings
from vigie_shared.events import PaymentChannel
from vigie_shared.kit.clock import PARIS
from vigie_shared.simulate import campaign, publish

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

START = datetime(2023, 11, 1, tzinfo=PARIS)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url: str, kafka: str) -> AsyncIterator[dict[str, FastAPI]]:
    apps = {
        "sso": sso_app(
            SsoSettings(database_url=database_url, kafka_bootstrap=kafka, grace_sweep_seconds=1)
        ),
        "audit": audit_app(AuditSettings(database_url=database_url, kafka_bootstrap=kafka)),
    }
    async with AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield apps


async def count_events(app: FastAPI, event_type: str, learners: list[str]) -> int:
    value: int = await app.state.runtime.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE headers @> $1::jsonb AND convert_from(key, 'UTF8')"
        " = ANY($2::text[])",
        [["ce_type", event_type]],
        learners,
    )
    return value


async def test_simulated_cpa_campaign_is_reported_with_its_exact_figures(
    stack: dict[str, FastAPI], kafka: str
) -> None:
    plan = campaign(
        reminders=30,
        pay_after_reminder=8,
        exempt=7,
        pay_after_suspension=7,
        channel=PaymentChannel.CPA,
        start=START,
        seed=7,
    )
    learners = sorted({learner for learner, _ in plan.first})
    await publish(kafka, plan.first)
    deadline = time.monotonic() + 60
    while await count_events(stack["sso"], "vigie.access.suspended", learners) < 15:
        assert time.monotonic() < deadline, "the gateway did not suspend the 15 learners"
        await asyncio.sleep(0.3)
    await publish(kafka, plan.later_settlements())
    while await count_events(stack["sso"], "vigie.access.restored", learners) < 7:
        assert time.monotonic() < deadline, "the gateway did not restore the 7 who paid"
        await asyncio.sleep(0.3)

    audit = stack["audit"].state.audit
    report = None
    while time.monotonic() < deadline:
        async with stack["audit"].state.runtime.pool.acquire() as conn:
            report = await audit.reports.suspension_campaign(
                conn, START, START + timedelta(days=61)
            )
        cpa = [c for c in report.channels if c.channel == "CPA"]
        if cpa and cpa[0].paid_after_suspension == 7:
            break
        await asyncio.sleep(0.5)
    assert report is not None
    figures = next(c for c in report.channels if c.channel == "CPA")
    assert figures.reminded == 30
    assert figures.paid_before_suspension == 8
    assert figures.exempted == 7
    assert figures.suspended == 15
    assert figures.paid_after_suspension == 7
    assert figures.paid_within_grace_rate == round(8 / 30, 4)
    assert figures.recovery_after_suspension_rate == round(7 / 15, 4)
    assert await count_events(stack["sso"], "vigie.access.suspended", learners) == 15
