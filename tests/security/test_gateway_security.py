"""The gateway against RFC 9700 (OAuth 2.0 Security BCP) and the OWASP cheat sheets: what
``tests/sso_gateway`` does not already cover."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import statistics
import time
from secrets import token_urlsafe as generate_token
from typing import Any

import httpx
import pytest
from argon2 import Parameters, PasswordHasher, extract_parameters
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from sso_gateway.access.service import AccessService
from sso_gateway.data_rights.service import data_system
from sso_gateway.users import service as users_service
from tests.security.conftest import Services, b64url, unsigned_claims
from tests.sso_gateway.support import (
    ISSUER,
    authorize_url,
    basic,
    browser,
    csrf_of,
    introspect,
    login_through_form,
    make_client,
    make_user,
    query_of,
    redeem,
    signed_in,
    task,
)
from vigie_shared.events import TaskAction
from vigie_shared.kit.clock import utcnow

pytestmark = pytest.mark.asyncio(loop_scope="session")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def userinfo(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.get("/userinfo", headers=bearer(token))


async def test_state_and_nonce_are_carried_back_unchanged(sso: FastAPI) -> None:
    account, platform = await make_user(sso), await make_client(sso)
    verifier, state, nonce = generate_token(48), generate_token(24), generate_token(24)
    async with browser(sso) as http:
        url = authorize_url(platform, verifier, state=state, nonce=nonce)
        landed = await login_through_form(http, url, account)
        back = query_of(landed.headers["location"])
        tokens = (
            await http.post(
                "/token", data=redeem(platform, back["code"], verifier), auth=basic(platform)
            )
        ).json()
        keys = KeySet.import_key_set((await http.get("/jwks")).json())
    # RFC 6749 §4.1.2: the exact state; OIDC Core §3.1.3.7: the ID token's nonce.
    assert back["state"] == state
    id_token = jwt.decode(tokens["id_token"], keys, algorithms=["ES256", "RS256"])
    assert id_token.claims["nonce"] == nonce
    assert id_token.claims["aud"] == platform.client_id


async def test_tokens_of_a_suspended_learner_are_refused_at_introspection_and_userinfo(
    sso: FastAPI,
) -> None:
    account, platform = await make_user(sso), await make_client(sso)
    async with browser(sso) as http:
        tokens = await signed_in(sso, http, platform, account)
        assert (await introspect(http, platform, tokens["access_token"]))["active"] is True
        assert (await userinfo(http, tokens["access_token"])).status_code == 200
        access: AccessService = sso.state.access
        async with sso.state.runtime.pool.acquire() as conn:
            await access.decide_manually(
                conn,
                account.id,
                suspend=True,
                reason="chèque rejeté",
                actor_id="accountant-1",
                now=utcnow(),
            )
        for token in (tokens["access_token"], tokens["refresh_token"]):
            assert await introspect(http, platform, token) == {"active": False}
        refused = await userinfo(http, tokens["access_token"])
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]


async def test_tokens_of_an_erased_learner_are_refused_at_introspection_and_userinfo(
    sso: FastAPI,
) -> None:
    account, platform = await make_user(sso), await make_client(sso)
    async with browser(sso) as http:
        tokens = await signed_in(sso, http, platform, account)
        assert (await introspect(http, platform, tokens["access_token"]))["active"] is True
        erasure = task(TaskAction.ERASE, account.id)
        async with sso.state.runtime.pool.acquire() as conn, conn.transaction():
            await data_system(sso.state.provider.settings).answer(
                conn, erasure, source="/vigie/sso_gateway"
            )
        for token in (tokens["access_token"], tokens["refresh_token"]):
            assert await introspect(http, platform, token) == {"active": False}
        assert (await userinfo(http, tokens["access_token"])).status_code == 401


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def forgeries(genuine: str, jwks: dict[str, Any]) -> dict[str, str]:
    """Look-alikes of ``genuine`` (same claims, one of our key ids): unsigned, and HMAC-signed
    with the public key as the secret in each form an attacker could fetch it (RFC 8725 §2.1,
    §3.1: the algorithm confusion attacks)."""
    claims = unsigned_claims(genuine)
    header = json.loads(base64.urlsafe_b64decode(genuine.split(".")[0] + "=="))
    forged: dict[str, str] = {}
    for alg in ("none", "None", "NONE"):
        head = {**header, "alg": alg}
        forged[f"alg-{alg}"] = (
            f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(claims).encode())}."
        )
    for jwk in jwks["keys"]:
        public = (ECKey if jwk["kty"] == "EC" else RSAKey).import_key(jwk)
        pem = public.as_pem(private=False)
        head = {**header, "alg": "HS256", "kid": jwk["kid"]}
        forged[f"hs256-pem-{jwk['kid']}"] = hs256(head, claims, pem)
        forged[f"hs256-jwk-{jwk['kid']}"] = hs256(head, claims, json.dumps(jwk).encode())
    return forged


async def test_alg_none_and_hs256_with_the_public_key_are_refused_by_the_gateway(
    sso: FastAPI,
) -> None:
    account, platform = await make_user(sso), await make_client(sso)
    async with browser(sso) as http:
        tokens = await signed_in(sso, http, platform, account)
        jwks = (await http.get("/jwks")).json()
        # The genuine token works, so a refusal below is the forgery's.
        assert (await userinfo(http, tokens["access_token"])).status_code == 200
        assert (await introspect(http, platform, tokens["access_token"]))["active"] is True
        for name, forged in forgeries(tokens["access_token"], jwks).items():
            info = await userinfo(http, forged)
            assert info.status_code == 401, name
            assert await introspect(http, platform, forged) == {"active": False}, name


@pytest.mark.broker
async def test_alg_none_and_hs256_with_the_public_key_are_refused_by_resource_servers(
    services: Services,
) -> None:
    jwks = services.issuer.jwks()
    cases = [
        (services.dpo, "/requests", services.dpo_headers("u-forger", "dpo")),
        (services.audit, "/entries", services.audit_headers("u-forger", "dpo")),
    ]
    for app, path, genuine_headers in cases:
        genuine = genuine_headers["Authorization"].removeprefix("Bearer ")
        async with services.client(app) as http:
            assert (await http.get(path, headers=genuine_headers)).status_code == 200
            for name, forged in forgeries(genuine, jwks).items():
                refused = await http.get(path, headers=bearer(forged))
                assert refused.status_code == 401, (path, name)
                assert refused.headers["content-type"] == "application/problem+json"


class CountingHasher:
    """The gateway's argon2 hasher, recording the parameters of every hash it verifies."""

    def __init__(self, real: PasswordHasher) -> None:
        self.real = real
        self.verified: list[Parameters] = []

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append(extract_parameters(password_hash))
        return self.real.verify(password_hash, password)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def test_no_user_enumeration_by_response_time(
    sso: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wrong password for an existing account vs an unknown one: argon2id, which is nearly all
    of a failed login's time, runs once either way and at the same cost (against a dummy hash
    for an unknown account). Counted, not timed: response times on a shared machine measure
    its load as much as the login (the medians are printed). Fresh identifiers each time, so
    that throttling (which answers without hashing) never kicks in."""
    counting = CountingHasher(users_service.password_hasher)
    monkeypatch.setattr(users_service, "password_hasher", counting)
    tries = 5
    existing = [await make_user(sso) for _ in range(tries)]

    async def attempt(http: httpx.AsyncClient, identifier: str) -> tuple[float, list[Parameters]]:
        form = await http.get("/login")
        counting.verified.clear()
        started = time.perf_counter()
        response = await http.post(
            "/login",
            data={
                "identifier": identifier,
                "password": "not the password",
                "csrf_token": csrf_of(form.text),
                "next": "/",
            },
        )
        elapsed = time.perf_counter() - started
        assert response.status_code == 200
        return elapsed, list(counting.verified)

    known: list[float] = []
    unknown: list[float] = []
    async with browser(sso) as http:
        for account in existing:
            elapsed, verified_known = await attempt(http, account.username)
            known.append(elapsed)
            elapsed, verified_unknown = await attempt(
                http, f"nobody-{generate_token(8)}@example.org"
            )
            unknown.append(elapsed)
            # One argon2id verification each, with the same memory, time and lanes.
            assert len(verified_known) == 1
            assert verified_unknown == verified_known
    known_median, unknown_median = statistics.median(known), statistics.median(unknown)
    print(
        f"login failure median: existing {known_median:.4f}s, unknown {unknown_median:.4f}s;"
        f" argon2id {verified_known[0]}"
    )


async def test_no_user_enumeration_by_message(sso: FastAPI) -> None:
    account = await make_user(sso)

    async def failure(http: httpx.AsyncClient, identifier: str) -> str:
        form = await http.get("/login")
        token = csrf_of(form.text)
        response = await http.post(
            "/login",
            data={"identifier": identifier, "password": "nope", "csrf_token": token, "next": "/"},
        )
        return response.text.replace(token, "CSRF").replace(identifier, "WHO")

    async with browser(sso) as http:
        assert await failure(http, account.username) == await failure(
            http, f"nobody-{generate_token(8)}"
        )


async def test_logout_confirmation_without_a_valid_csrf_token_does_not_log_out(
    sso: FastAPI,
) -> None:
    account, platform = await make_user(sso), await make_client(sso)
    async with browser(sso) as http:
        await signed_in(sso, http, platform, account)
        page = await http.get("/logout")
        for forged in ({}, {"csrf_token": "x" * 43}, {"csrf_token": csrf_of(page.text)[:-1]}):
            answer = await http.post("/logout", data=forged)
            assert answer.status_code == 200
            assert "Voulez-vous vous déconnecter" in answer.text
            # Still signed in: the authorization endpoint answers without the login form.
            still = await http.get(authorize_url(platform, generate_token(48)))
            assert not still.headers["location"].startswith("/login")
        # Signed double submit: a token without the CSRF cookie it was made for is worthless.
        async with browser(sso) as attacker:
            attacker.cookies.update({"vigie_sso": http.cookies["vigie_sso"]})
            cross = await attacker.post("/logout", data={"csrf_token": csrf_of(page.text)})
        assert "Voulez-vous vous déconnecter" in cross.text
        still = await http.get(authorize_url(platform, generate_token(48)))
    assert not still.headers["location"].startswith("/login")


def assert_page_headers(response: httpx.Response, referrer: str = "no-referrer") -> None:
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == referrer


async def test_pages_carry_csp_nosniff_referrer_policy_and_no_store(sso: FastAPI) -> None:
    account, platform = await make_user(sso), await make_client(sso)
    async with browser(sso) as http:
        login = await http.get("/login")
        await signed_in(sso, http, platform, account)
        signed = await http.get("/")  # shows the learner's name: personal data
        logout = await http.get("/logout")
        error = await http.get(authorize_url(platform, "v" * 43, redirect_uri="https://x.test/"))
    for page in (login, signed, logout, error):
        assert page.headers["content-type"].startswith("text/html")
        # Pages tell other sites nothing, and keep their origin on their own form posts.
        assert_page_headers(page, referrer="same-origin")
        assert "no-store" in page.headers["cache-control"]
    assert "Léa Dupont" in signed.text


async def test_token_responses_are_not_cached(sso: FastAPI) -> None:
    """RFC 6749 §5.1: ``Cache-Control: no-store`` and ``Pragma: no-cache`` on token responses;
    the same for everything else that carries a token or personal data."""
    account, platform = await make_user(sso), await make_client(sso)
    verifier = generate_token(48)
    async with browser(sso) as http:
        landed = await login_through_form(http, authorize_url(platform, verifier), account)
        code = query_of(landed.headers["location"])["code"]
        issued = await http.post(
            "/token", data=redeem(platform, code, verifier), auth=basic(platform)
        )
        refreshed = await http.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": issued.json()["refresh_token"]},
            auth=basic(platform),
        )
        failed = await http.post(
            "/token", data=redeem(platform, code, verifier), auth=basic(platform)
        )
        access = refreshed.json()["access_token"]
        info = await userinfo(http, access)
        introspected = await http.post("/introspect", data={"token": access}, auth=basic(platform))
    assert issued.status_code == refreshed.status_code == 200
    assert failed.status_code == 400
    for response in (issued, refreshed, failed, info, introspected):
        assert "no-store" in response.headers["cache-control"], response.request.url
        assert response.headers["pragma"] == "no-cache", response.request.url
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_discovery_document_names_the_issuer_it_is_served_by(sso: FastAPI) -> None:
    async with browser(sso) as http:
        discovery = (await http.get("/.well-known/openid-configuration")).json()
    # RFC 8414 §3.3 / OIDC Discovery §4.3: a mix-up defence relies on the exact issuer.
    assert discovery["issuer"] == ISSUER
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert "implicit" not in discovery["grant_types_supported"]
    assert "password" not in discovery["grant_types_supported"]
    assert discovery["response_types_supported"] == ["code"]


@pytest.mark.broker
async def test_resource_servers_answer_personal_data_with_security_headers_and_no_store(
    services: Services,
) -> None:
    checks = [
        (services.dpo, "/requests", services.dpo_headers("u-head", "learner")),
        (services.audit, "/entries", services.audit_headers("u-head", "dpo")),
    ]
    for app, path, headers in checks:
        async with services.client(app) as http:
            response = await http.get(path, headers=headers)
        assert response.status_code == 200, response.text
        assert_page_headers(response)
        assert "no-store" in response.headers["cache-control"]
