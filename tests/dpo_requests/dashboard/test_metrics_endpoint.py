"""The service's own ``/metrics``: the scheduler's sweep keeps the register's gauges current."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.dpo_requests.support import Dpo
from tests.fixtures.serving import eventually

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


def gauges(text: str) -> dict[str, float]:
    found = re.findall(r'^(vigie_dpo_requests(?:\{status="\w+"\}|_overdue)) (\S+)$', text, re.M)
    return {name: float(value) for name, value in found}


async def test_metrics_expose_requests_by_status_and_the_overdue(dpo: Dpo) -> None:
    for days_ago in (45, 50, 2):
        registered = await dpo.http.post(
            "/requests/registered",
            json={
                "request_type": "access",
                "requester": f"courrier-{days_ago}@example.org",
                "channel": "post",
                "received_at": (datetime.now(UTC) - timedelta(days=days_ago)).isoformat(),
            },
            headers=dpo.officer(),
        )
        assert registered.status_code == 201, registered.text

    async def scrape() -> dict[str, float]:
        return gauges((await dpo.http.get("/metrics")).text)

    # The scheduler sweeps every 0.2 s here; other modules' services set the same gauges.
    seen = await eventually(
        scrape,
        until=lambda g: (
            g.get("vigie_dpo_requests_overdue") == 2
            and g.get('vigie_dpo_requests{status="received"}') == 3
        ),
    )
    assert seen["vigie_dpo_requests_overdue"] == 2
    assert seen['vigie_dpo_requests{status="received"}'] == 3
    assert seen['vigie_dpo_requests{status="withdrawn"}'] == 0
