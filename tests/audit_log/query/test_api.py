"""The entries API: a dpo or admin token from the SSO, filters with keyset pagination, CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests.audit_log.support import Api, LogUnderTest, entry
from vigie_shared.kit.clock import utcnow

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_api_requires_a_dpo_or_admin_token(api: Api) -> None:
    http, issuer = api
    assert (await http.get("/entries")).status_code == 401
    learner = await http.get("/entries", headers=issuer.token("u-1", ["learner"]))
    assert learner.status_code == 403
    assert learner.headers["content-type"] == "application/problem+json"
    assert (await http.get("/entries", headers=issuer.token("u-dpo", ["dpo"]))).status_code == 200
    assert (await http.get("/entries", headers=issuer.token("u-adm", ["admin"]))).status_code == 200


async def test_filters_and_keyset_pages_walk_every_match_once(log: LogUnderTest, api: Api) -> None:
    http, issuer = api
    start = utcnow() - timedelta(hours=1)
    await log.append(
        *(
            entry(
                i,
                subject="u-lea" if i % 3 == 0 else "u-max",
                actor="service:accounting" if i % 2 else None,
                time=start + timedelta(minutes=i),
            )
            for i in range(30)
        )
    )
    headers = issuer.token("u-dpo", ["dpo"])
    seen: list[int] = []
    after = -1
    while True:
        page = (
            await http.get(
                "/entries",
                params={
                    "subject": "u-lea",
                    "actor": "service:accounting",
                    "limit": 2,
                    "after": after,
                },
                headers=headers,
            )
        ).json()
        seen += [e["index"] for e in page["entries"]]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert seen == [3, 9, 15, 21, 27]
    window = await http.get(
        "/entries",
        params={
            "since": (start + timedelta(minutes=10)).isoformat(),
            "until": (start + timedelta(minutes=13)).isoformat(),
            "source": "/vigie/sso_gateway",
        },
        headers=headers,
    )
    assert [e["index"] for e in window.json()["entries"]] == [10, 11, 12]


async def test_csv_export_lists_the_matching_entries(log: LogUnderTest, api: Api) -> None:
    http, issuer = api
    await log.append(*(entry(i, subject="u-lea") for i in range(3)), entry(9, subject="u-max"))
    response = await http.get(
        "/entries.csv", params={"subject": "u-lea"}, headers=issuer.token("u-dpo", ["dpo"])
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["index"] for row in rows] == ["0", "1", "2"]
    assert {row["subject"] for row in rows} == {"u-lea"}
    negotiated = await http.get(
        "/entries",
        params={"subject": "u-max"},
        headers={**issuer.token("u-dpo", ["dpo"]), "Accept": "text/csv"},
    )
    assert [r["index"] for r in csv.DictReader(io.StringIO(negotiated.text))] == ["3"]
