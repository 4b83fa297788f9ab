"""A token revoked at the gateway is refused by the resource servers too, through the real
broker: the gateway publishes the revocation (``vigie.sso.token.revoked`` by ``jti``,
``vigie.sso.session.revoked`` by ``sid``) through its outbox, dpo_requests and audit_log keep it
in their deny-lists (``kit.deny_list``), and their bearer check refuses the token (401).

The resource servers here trust the real gateway (its discovery document and keys, served
in-process), so the tokens are the gateway's own, issued through the login form and the code
flow. Each test performs the attack: the token keeps being presented after its revocation.
The measured latency is printed, not asserted (speed belongs in bench/)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from tests.security.conftest import Services
from tests.sso_gateway.support import (
    ISSUER,
    Platform,
    basic,
    browser,
    make_client,
    make_user,
    signed_in,
)
from vigie_shared.kit.oidc import TokenVerifier

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

DPO_RESOURCE, AUDIT_RESOURCE = "dpo-requests", "audit-log"
# Where each resource server is asked, with a DPO's token: both answer 200 to a good one.
PROBES = {DPO_RESOURCE: "/data-systems", AUDIT_RESOURCE: "/entries?limit=1"}
BOUND = 60.0
"""How long a refusal may take before the test gives up (a consumer group's first join on the
embedded broker takes seconds); the figure that matters is printed."""


@contextmanager
def trusting_the_gateway(services: Services) -> Iterator[None]:
    """dpo_requests and audit_log verify the real gateway's tokens while the block runs."""
    apps = {DPO_RESOURCE: services.dpo, AUDIT_RESOURCE: services.audit}
    saved = {name: app.state.token_verifier for name, app in apps.items()}
    for name, app in apps.items():
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=services.sso))
        app.state.token_verifier = TokenVerifier(ISSUER, name, http=http)
    try:
        yield
    finally:
        for name, app in apps.items():
            app.state.token_verifier = saved[name]


@pytest_asyncio.fixture(loop_scope="session")
async def resource_servers(services: Services) -> AsyncIterator[dict[str, FastAPI]]:
    with trusting_the_gateway(services):
        yield {DPO_RESOURCE: services.dpo, AUDIT_RESOURCE: services.audit}


async def answer(app: FastAPI, path: str, token: str) -> int:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://service.test"
    ) as http:
        response = await http.get(path, headers={"Authorization": f"Bearer {token}"})
    return response.status_code


async def refused_after(app: FastAPI, path: str, token: str, since: float) -> float | None:
    """Seconds from ``since`` until ``app`` answers 401 to ``token``; None if it never did
    within :data:`BOUND`."""
    while time.monotonic() - since < BOUND:
        if await answer(app, path, token) == 401:
            return time.monotonic() - since
        await asyncio.sleep(0.05)
    return None


async def dpo_tokens(
    sso: FastAPI, http: httpx.AsyncClient
) -> tuple[dict[str, str], dict[str, str], Platform]:
    """A DPO signed in, in browser ``http``, to a platform registered for both resource
    servers: one token response per resource (RFC 8707: one audience per token)."""
    account = await make_user(sso, roles=["dpo"])
    platform = await make_client(sso, audiences=[DPO_RESOURCE, AUDIT_RESOURCE])
    return (
        await signed_in(sso, http, platform, account, resource=DPO_RESOURCE),
        await signed_in(sso, http, platform, account, resource=AUDIT_RESOURCE),
        platform,
    )


async def test_an_access_token_revoked_at_the_gateway_is_refused_by_the_resource_servers(
    services: Services, resource_servers: dict[str, FastAPI]
) -> None:
    sso = services.sso
    async with browser(sso) as http:
        for_dpo, for_audit, platform = await dpo_tokens(sso, http)
        tokens = {DPO_RESOURCE: for_dpo["access_token"], AUDIT_RESOURCE: for_audit["access_token"]}
        for name, app in resource_servers.items():
            assert await answer(app, PROBES[name], tokens[name]) == 200
        started = time.monotonic()
        for token in tokens.values():
            revoked = await http.post("/revoke", data={"token": token}, auth=basic(platform))
            assert revoked.status_code == 200
    latencies = {
        name: await refused_after(app, PROBES[name], tokens[name], started)
        for name, app in resource_servers.items()
    }
    print(f"revoke -> 401: {latencies}")
    assert all(latency is not None for latency in latencies.values()), latencies


async def test_a_session_ended_at_logout_has_its_tokens_refused_by_the_resource_servers(
    services: Services, resource_servers: dict[str, FastAPI]
) -> None:
    sso = services.sso
    async with browser(sso) as http:
        for_dpo, for_audit, _ = await dpo_tokens(sso, http)
        tokens = {DPO_RESOURCE: for_dpo["access_token"], AUDIT_RESOURCE: for_audit["access_token"]}
        for name, app in resource_servers.items():
            assert await answer(app, PROBES[name], tokens[name]) == 200
        started = time.monotonic()
        ended = await http.get("/logout", params={"id_token_hint": for_dpo["id_token"]})
        assert ended.status_code == 200
    latencies = {
        name: await refused_after(app, PROBES[name], tokens[name], started)
        for name, app in resource_servers.items()
    }
    print(f"logout -> 401: {latencies}")
    assert all(latency is not None for latency in latencies.values()), latencies


async def test_a_reused_refresh_token_has_its_grants_tokens_refused_by_the_resource_servers(
    services: Services, resource_servers: dict[str, FastAPI]
) -> None:
    sso = services.sso
    app = resource_servers[DPO_RESOURCE]
    async with browser(sso) as http:
        for_dpo, _, platform = await dpo_tokens(sso, http)
        refresh = {"grant_type": "refresh_token", "refresh_token": for_dpo["refresh_token"]}
        rotated = await http.post("/token", data=refresh, auth=basic(platform))
        token = rotated.json()["access_token"]
        assert await answer(app, PROBES[DPO_RESOURCE], token) == 200
        started = time.monotonic()
        replayed = await http.post("/token", data=refresh, auth=basic(platform))
        assert replayed.json()["error"] == "invalid_grant"
    latency = await refused_after(app, PROBES[DPO_RESOURCE], token, started)
    print(f"refresh reuse -> 401 on dpo_requests: {latency}")
    assert latency is not None
