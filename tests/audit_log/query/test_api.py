"""The auditors' API: a dpo or admin token from the SSO, every read recorded in the log itself,
filters with keyset pagination, CSV, proofs, the report."""

from __future__ import annotations

import base64
import csv
import io
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import pytest_asyncio
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from audit_log.app import create_app
from audit_log.merkle import leaf_hash, verify_consistency, verify_inclusion
from tests.audit_log.conftest import LogUnderTest, entry
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.oidc import TokenVerifier

pytestmark = pytest.mark.asyncio(loop_scope="session")

ISSUER = "http://sso.test"


class FakeIssuer:
    """The sso_gateway as a resource server sees it: discovery document and JWKS."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", parameters={"kid": "k1"}, private=True)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
        return httpx.Response(200, json=KeySet([self.key]).as_dict(private=False))

    def token(self, sub: str, roles: list[str]) -> dict[str, str]:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": "audit-log", "sub": sub, "exp": now + 300, "roles": roles}
        token = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": "k1"}, claims, self.key)
        return {"Authorization": f"Bearer {token}"}


@pytest_asyncio.fixture(loop_scope="session")
async def api(log: LogUnderTest) -> AsyncIterator[tuple[httpx.AsyncClient, FakeIssuer]]:
    issuer = FakeIssuer()
    app = create_app(log.settings)
    app.state.runtime = SimpleNamespace(pool=log.pool)
    app.state.audit = log.audit
    app.state.token_verifier = TokenVerifier(
        ISSUER, "audit-log", http=httpx.AsyncClient(transport=httpx.MockTransport(issuer.handler))
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://audit") as http:
        yield http, issuer


async def test_the_api_requires_a_dpo_or_admin_token(
    api: tuple[httpx.AsyncClient, FakeIssuer],
) -> None:
    http, issuer = api
    assert (await http.get("/entries")).status_code == 401
    learner = await http.get("/entries", headers=issuer.token("u-1", ["learner"]))
    assert learner.status_code == 403
    assert learner.headers["content-type"] == "application/problem+json"
    assert (await http.get("/entries", headers=issuer.token("u-dpo", ["dpo"]))).status_code == 200
    assert (await http.get("/entries", headers=issuer.token("u-adm", ["admin"]))).status_code == 200


async def test_every_read_is_itself_recorded_in_the_log(
    log: LogUnderTest, api: tuple[httpx.AsyncClient, FakeIssuer]
) -> None:
    http, issuer = api
    await log.append(entry(1, subject="u-lea"))
    response = await http.get(
        "/entries", params={"subject": "u-lea"}, headers=issuer.token("u-dpo", ["dpo"])
    )
    assert [e["subject"] for e in response.json()["entries"]] == ["u-lea"]
    reads = await http.get(
        "/entries", params={"type": "vigie.audit.read"}, headers=issuer.token("u-adm", ["admin"])
    )
    recorded = reads.json()["entries"]
    assert [(r["actor"], r["data"]["path"], r["data"]["query"]) for r in recorded] == [
        ("user:u-dpo", "/entries", {"subject": "u-lea"}),
        ("user:u-adm", "/entries", {"type": "vigie.audit.read"}),
    ]
    refused = await http.get("/entries", headers=issuer.token("u-1", ["learner"]))
    assert refused.status_code == 403
    assert await log.pool.fetchval("SELECT count(*) FROM log_entries WHERE subject = 'u-1'") == 0


async def test_filters_and_keyset_pages_walk_every_match_once(
    log: LogUnderTest, api: tuple[httpx.AsyncClient, FakeIssuer]
) -> None:
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


async def test_csv_export_lists_the_matching_entries(
    log: LogUnderTest, api: tuple[httpx.AsyncClient, FakeIssuer]
) -> None:
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


async def test_proofs_by_api_check_against_signed_checkpoints(
    log: LogUnderTest, api: tuple[httpx.AsyncClient, FakeIssuer]
) -> None:
    http, issuer = api
    headers = issuer.token("u-dpo", ["dpo"])
    await log.append(*(entry(i) for i in range(5)))
    first = (await http.post("/checkpoints", headers=headers)).json()
    await log.append(*(entry(i) for i in range(9)))
    second = (await http.post("/checkpoints", headers=headers)).json()
    latest = (await http.get("/checkpoints/latest", headers=headers)).json()
    assert latest == second
    keys = (await http.get("/checkpoints/keys")).json()
    assert keys["keys"] == [second["verifier_key"]]

    proof = (
        await http.get(
            "/proofs/inclusion",
            params={"index": 3, "tree_size": first["tree_size"]},
            headers=headers,
        )
    ).json()
    assert leaf_hash(base64.b64decode(proof["leaf"])) == base64.b64decode(proof["leaf_hash"])
    assert verify_inclusion(
        base64.b64decode(proof["leaf_hash"]),
        3,
        first["tree_size"],
        [base64.b64decode(h) for h in proof["inclusion_path"]],
        base64.b64decode(first["root_hash"]),
    )
    consistency = (
        await http.get(
            "/proofs/consistency",
            params={"first": first["tree_size"], "second": second["tree_size"]},
            headers=headers,
        )
    ).json()
    assert verify_consistency(
        first["tree_size"],
        second["tree_size"],
        base64.b64decode(first["root_hash"]),
        base64.b64decode(second["root_hash"]),
        [base64.b64decode(h) for h in consistency["consistency_path"]],
    )
    too_big = await http.get(
        "/proofs/inclusion", params={"index": 0, "tree_size": 10_000}, headers=headers
    )
    assert too_big.status_code == 400
    assert too_big.headers["content-type"] == "application/problem+json"


async def test_the_suspension_campaign_report_counts_each_channel(
    log: LogUnderTest, api: tuple[httpx.AsyncClient, FakeIssuer]
) -> None:
    http, issuer = api
    t0 = utcnow() - timedelta(days=20)

    def at(days: float) -> Any:
        return t0 + timedelta(days=days)

    def reminded(n: int, debt: str, channel: str) -> Any:
        return entry(
            n,
            type_="vigie.billing.debt.reminded",
            time=at(0),
            topic="billing.events.v1",
            facets={"debt_id": debt, "channel": channel},
        )

    def settled(n: int, debt: str, days: float) -> Any:
        return entry(
            n,
            type_="vigie.billing.debt.settled",
            time=at(days),
            topic="billing.events.v1",
            facets={"debt_id": debt},
        )

    def suspended(n: int, debt: str, days: float) -> Any:
        return entry(
            n,
            type_="vigie.access.suspended",
            time=at(days),
            topic="access.events.v1",
            facets={"debt_ids": [debt]},
        )

    await log.append(
        reminded(1, "d-1", "CPA"),
        settled(2, "d-1", 3),  # paid during the grace period
        reminded(3, "d-2", "CPA"),
        suspended(4, "d-2", 8),
        settled(5, "d-2", 10),
        reminded(6, "d-3", "CPA"),
        suspended(7, "d-3", 8),  # never paid
        reminded(8, "d-4", "card"),  # nothing yet
    )
    response = await http.get(
        "/reports/suspension-campaign",
        params={"since": at(-1).isoformat(), "until": at(1).isoformat()},
        headers=issuer.token("u-dpo", ["dpo"]),
    )
    report = response.json()
    cpa, card = report["channels"]
    assert (cpa["channel"], cpa["reminded"], cpa["paid_after_reminder"]) == ("CPA", 3, 2)
    assert (cpa["paid_before_suspension"], cpa["suspended"], cpa["paid_after_suspension"]) == (
        1,
        2,
        1,
    )
    assert (cpa["payment_rate"], cpa["suspension_rate"]) == (0.6667, 0.6667)
    assert cpa["recovery_after_suspension_rate"] == 0.5
    assert (card["channel"], card["reminded"], card["suspended"]) == ("card", 1, 0)
    assert report["total"]["reminded"] == 4
