"""The gateway's Prometheus series: tokens issued by grant and client, refused logins by a
reason that never tells an unknown account from a bad password."""

from __future__ import annotations

from secrets import token_urlsafe as generate_token

import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from tests.sso_gateway.support import (
    basic,
    browser,
    get_code,
    make_client,
    make_user,
    redeem,
    refresh,
    submit,
    unique,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def scrape(app: FastAPI) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``/metrics``, read as Prometheus would."""
    async with browser(app) as http:
        text = (await http.get("/metrics")).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def tokens(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], grant: str, client: str
) -> float:
    key = frozenset({("grant_type", grant), ("client", client)})
    return samples.get(("vigie_sso_tokens_issued_total", key), 0.0)


def failures(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], reason: str) -> float:
    return samples.get(("vigie_sso_logins_failed_total", frozenset({("reason", reason)})), 0.0)


async def test_tokens_issued_are_counted_by_grant_type_and_client(sso: FastAPI) -> None:
    platform = await make_client(sso)
    service = await make_client(sso, grant_types=["client_credentials"])
    verifier = generate_token(48)
    code = await get_code(sso, platform, verifier)
    async with browser(sso) as http:
        issued = await http.post(
            "/token", data=redeem(platform, code, verifier), auth=basic(platform)
        )
        assert issued.status_code == 200
        rotated = await refresh(http, platform, issued.json()["refresh_token"])
        assert rotated.status_code == 200
        for _ in range(3):
            granted = await http.post(
                "/token", data={"grant_type": "client_credentials"}, auth=basic(service)
            )
            assert granted.status_code == 200
        refused = await http.post(
            "/token", data={"grant_type": "client_credentials"}, auth=basic(service, "wrong")
        )
        assert refused.status_code == 401
    samples = await scrape(sso)
    assert tokens(samples, "authorization_code", platform.client_id) == 1
    assert tokens(samples, "refresh_token", platform.client_id) == 1
    # The refused grant issued nothing, so it is not counted.
    assert tokens(samples, "client_credentials", service.client_id) == 3


async def test_refused_logins_are_counted_without_telling_unknown_accounts_apart(
    sso: FastAPI,
) -> None:
    account = await make_user(sso)
    before = await scrape(sso)
    async with browser(sso) as http:
        assert (await submit(http, account.username, "wrong password")).status_code == 200
        assert (await submit(http, unique("nobody"), "any password")).status_code == 200
        forged = await http.post(
            "/login", data={"identifier": account.username, "password": "x", "csrf_token": "no"}
        )
        assert forged.status_code == 403
        stranger = unique("stranger")
        for _ in range(sso.state.provider.settings.login_max_failures_per_account):
            await submit(http, stranger, "guess")
        assert (await submit(http, stranger, "guess")).status_code == 429
    after = await scrape(sso)
    moved = {
        reason: failures(after, reason) - failures(before, reason)
        for reason in ("invalid_credentials", "throttled", "csrf")
    }
    limit = sso.state.provider.settings.login_max_failures_per_account
    assert moved == {"invalid_credentials": 2 + limit, "throttled": 1, "csrf": 1}
    reasons = {
        dict(labels)["reason"]
        for (name, labels) in after
        if name == "vigie_sso_logins_failed_total"
    }
    assert reasons <= {"invalid_credentials", "throttled", "csrf"}
