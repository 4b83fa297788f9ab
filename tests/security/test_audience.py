"""Audience everywhere (RFC 9068 §4, RFC 8707): a person's token issued to one platform opens no
other resource server, whatever roles it carries. Each attack uses a real token from the real
gateway (login form, code flow, PKCE): the caller has the right role, and the token is meant for
a platform (its ``aud`` is the platform's client id). Each endpoint group refuses it with 401
problem+json and nothing changes; the same person's token asked for that resource explicitly
(``resource=`` at /authorize, from a client registered for it) is accepted.

dpo_requests and audit_log verify here against the gateway itself (its discovery document and
JWKS, over its ASGI app), not against the fake issuer of the other security tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from tests.security.conftest import Services, unique
from tests.sso_gateway.support import (
    ADMIN_RESOURCE,
    ISSUER,
    Account,
    make_client,
    make_user,
    person_token,
    query_of,
)
from vigie_shared.kit.oidc import TokenVerifier

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

DPO_RESOURCE = "dpo-requests"
AUDIT_RESOURCE = "audit-log"


@pytest_asyncio.fixture(loop_scope="session")
async def real_issuer(services: Services) -> AsyncIterator[Services]:
    """dpo_requests and audit_log trusting the real gateway for the length of one test."""
    saved = services.dpo.state.token_verifier, services.audit.state.token_verifier
    gateway = httpx.AsyncClient(transport=httpx.ASGITransport(app=services.sso), base_url=ISSUER)
    services.dpo.state.token_verifier = TokenVerifier(ISSUER, DPO_RESOURCE, http=gateway)
    services.audit.state.token_verifier = TokenVerifier(ISSUER, AUDIT_RESOURCE, http=gateway)
    try:
        yield services
    finally:
        services.dpo.state.token_verifier, services.audit.state.token_verifier = saved
        await gateway.aclose()


async def platform_token(sso: FastAPI, account: Account) -> str:
    """What any platform (here a new one, like Moodle) receives when ``account`` logs in."""
    token: str = (await person_token(sso, account))["access_token"]
    return token


async def token_for(sso: FastAPI, account: Account, resource: str) -> str:
    token: str = (await person_token(sso, account, resource=resource))["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused_for_audience(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_an_admins_platform_token_creates_no_user_at_the_admin_api(
    services: Services,
) -> None:
    sso = services.sso
    admin = await make_user(sso, roles=["admin"])
    username = unique("intruder")
    body = {
        "username": username,
        "email": f"{username}@example.org",
        "display_name": "Compte créé par une plateforme",
        "password": "a long enough password",
        "roles": ["dpo", "admin"],
    }
    async with services.client(sso) as http:
        refused = await http.post(
            "/admin/users", json=body, headers=bearer(await platform_token(sso, admin))
        )
        assert_refused_for_audience(refused)
        created = await Services.pool(sso).fetchval(
            "SELECT count(*) FROM users WHERE username = $1", username
        )
        assert created == 0
        accepted = await http.post(
            "/admin/users", json=body, headers=bearer(await token_for(sso, admin, ADMIN_RESOURCE))
        )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["roles"] == ["dpo", "admin"]


async def test_an_admins_platform_token_registers_no_client_at_the_admin_api(
    services: Services,
) -> None:
    sso = services.sso
    admin = await make_user(sso, roles=["admin"])
    client_id = unique("outside")
    body = {
        "client_id": client_id,
        "name": "Plateforme extérieure",
        "redirect_uris": ["https://attacker.example.net/callback"],
    }
    async with services.client(sso) as http:
        refused = await http.post(
            "/admin/clients", json=body, headers=bearer(await platform_token(sso, admin))
        )
        assert_refused_for_audience(refused)
        registered = await Services.pool(sso).fetchval(
            "SELECT count(*) FROM clients WHERE client_id = $1", client_id
        )
        assert registered == 0
        accepted = await http.post(
            "/admin/clients", json=body, headers=bearer(await token_for(sso, admin, ADMIN_RESOURCE))
        )
    assert accepted.status_code == 201, accepted.text


async def test_an_accountants_platform_token_neither_suspends_nor_restores_a_learner(
    services: Services,
) -> None:
    sso = services.sso
    learner = await make_user(sso)
    accountant = await make_user(sso, roles=["accounting"])
    wrong = bearer(await platform_token(sso, accountant))
    right = bearer(await token_for(sso, accountant, ADMIN_RESOURCE))
    state = f"/admin/access/{learner.id}"
    reason = {"reason": "chèque rejeté"}
    async with services.client(sso) as http:
        assert_refused_for_audience(await http.post(f"{state}/suspend", json=reason, headers=wrong))
        assert (await http.get(state, headers=right)).json()["suspended"] is False
        suspended = await http.post(f"{state}/suspend", json=reason, headers=right)
        assert suspended.status_code == 200, suspended.text
        assert suspended.json()["suspended"] is True
        assert_refused_for_audience(await http.post(f"{state}/restore", json=reason, headers=wrong))
        assert (await http.get(state, headers=right)).json()["suspended"] is True
        restored = await http.post(f"{state}/restore", json=reason, headers=right)
    assert restored.status_code == 200, restored.text
    assert restored.json()["suspended"] is False


async def test_a_dpos_platform_token_verifies_no_request_at_dpo_requests(
    real_issuer: Services,
) -> None:
    sso, dpo = real_issuer.sso, real_issuer.dpo
    learner = await make_user(sso)
    officer = await make_user(sso, roles=["dpo"])
    async with real_issuer.client(dpo) as http:
        submitted = await http.post(
            "/requests",
            json={"request_type": "access", "message": "Mes données, s'il vous plaît."},
            headers=bearer(await token_for(sso, learner, DPO_RESOURCE)),
        )
        assert submitted.status_code == 201, submitted.text
        request_id = submitted.json()["id"]
        right = bearer(await token_for(sso, officer, DPO_RESOURCE))
        before = (await http.get(f"/requests/{request_id}", headers=right)).json()["status"]
        for wrong in (
            await platform_token(sso, officer),
            # A token for another resource server of the project is no better.
            await token_for(sso, officer, AUDIT_RESOURCE),
        ):
            refused = await http.post(
                f"/requests/{request_id}/verify", json={"method": "sso"}, headers=bearer(wrong)
            )
            assert_refused_for_audience(refused)
            after = (await http.get(f"/requests/{request_id}", headers=right)).json()["status"]
            assert after == before
        verified = await http.post(
            f"/requests/{request_id}/verify", json={"method": "sso"}, headers=right
        )
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] != before


async def audit_reads_by(services: Services, user_id: str) -> int:
    count: int = await Services.pool(services.audit).fetchval(
        "SELECT count(*) FROM log_entries WHERE type = 'vigie.audit.read' AND subject = $1",
        user_id,
    )
    return count


async def test_a_dpos_platform_token_reads_nothing_from_the_audit_log(
    real_issuer: Services,
) -> None:
    sso, audit = real_issuer.sso, real_issuer.audit
    officer = await make_user(sso, roles=["dpo"])
    async with real_issuer.client(audit) as http:
        for wrong in (
            await platform_token(sso, officer),
            await token_for(sso, officer, DPO_RESOURCE),
        ):
            assert_refused_for_audience(await http.get("/entries", headers=bearer(wrong)))
            assert_refused_for_audience(await http.post("/checkpoints", headers=bearer(wrong)))
        # Nothing was read: no read of theirs is on the record.
        assert await audit_reads_by(real_issuer, officer.id) == 0
        right = bearer(await token_for(sso, officer, AUDIT_RESOURCE))
        entries = await http.get("/entries", params={"limit": 1}, headers=right)
    assert entries.status_code == 200, entries.text
    assert await audit_reads_by(real_issuer, officer.id) == 1


async def test_a_platform_cannot_obtain_a_token_for_the_admin_api(services: Services) -> None:
    """RFC 8707 §2: a client not registered for a resource gets ``invalid_target``, at
    /authorize (sent back to its verified redirect URI) and at /token."""
    sso = services.sso
    moodle = await make_client(sso)
    authorize = "/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": moodle.client_id,
            "redirect_uri": moodle.redirect_uri,
            "scope": "openid",
            "state": "st-admin",
            "code_challenge": "E9Melhoe2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
            "resource": ADMIN_RESOURCE,
        }
    )
    async with services.client(sso, ISSUER) as http:
        refused = await http.get(authorize)
        service = await make_client(sso, grant_types=["client_credentials"])
        asked = await http.post(
            "/token",
            data={"grant_type": "client_credentials", "resource": ADMIN_RESOURCE},
            auth=httpx.BasicAuth(service.client_id, service.client_secret or ""),
        )
    assert refused.status_code == 302
    location = refused.headers["location"]
    assert location.startswith(moodle.redirect_uri)
    assert query_of(location)["error"] == "invalid_target"
    assert query_of(location)["state"] == "st-admin"
    assert asked.status_code == 400
    assert asked.json()["error"] == "invalid_target"
