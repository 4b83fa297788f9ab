"""DPoP at the gateway (RFC 9449): bound tokens from the token endpoint (§5), their use at
UserInfo (§7), introspection (§6.2), refresh tokens of public clients bound to the key (§5.8),
replay refused across requests (§11.1) and server nonces (§8)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from authlib.common.security import generate_token
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey

from sso_gateway.oauth import dpop
from sso_gateway.oauth.repository import grant_repository
from tests.kit.test_dpop import ProofKey
from tests.sso_gateway.support import (
    ADMIN_RESOURCE,
    ISSUER,
    Platform,
    authorize_url,
    basic,
    browser,
    get_code,
    introspect,
    login_through_form,
    make_client,
    make_user,
    query_of,
    redeem,
)
from vigie_shared.kit.dpop import NonceRequired, Proof

pytestmark = pytest.mark.asyncio(loop_scope="session")

TOKEN_URL = f"{ISSUER}/token"
USERINFO_URL = f"{ISSUER}/userinfo"


def _auth(platform: Platform) -> httpx.Auth:
    """A public client authenticates with nothing but its client_id in the form."""
    return basic(platform) if platform.client_secret else httpx.Auth()


def _form(platform: Platform, data: dict[str, str]) -> dict[str, str]:
    return data if platform.client_secret else {**data, "client_id": platform.client_id}


async def _code_tokens(sso: FastAPI, platform: Platform, holder: ProofKey | None) -> httpx.Response:
    verifier = generate_token(48)
    code = await get_code(sso, platform, verifier)
    headers = {"DPoP": holder.proof("POST", TOKEN_URL)} if holder else {}
    async with browser(sso) as http:
        return await http.post(
            "/token",
            data=_form(platform, redeem(platform, code, verifier)),
            auth=_auth(platform),
            headers=headers,
        )


async def _refresh(
    http: httpx.AsyncClient, platform: Platform, token: str, holder: ProofKey | None
) -> httpx.Response:
    headers = {"DPoP": holder.proof("POST", TOKEN_URL)} if holder else {}
    return await http.post(
        "/token",
        data=_form(platform, {"grant_type": "refresh_token", "refresh_token": token}),
        auth=_auth(platform),
        headers=headers,
    )


async def _claims(http: httpx.AsyncClient, token: str) -> dict[str, Any]:
    jwks = KeySet.import_key_set((await http.get("/jwks")).json())
    return dict(jwt.decode(token, jwks, algorithms=["ES256", "RS256"]).claims)


async def _client_credentials(
    http: httpx.AsyncClient, service: Platform, headers: dict[str, str]
) -> httpx.Response:
    return await http.post(
        "/token", data={"grant_type": "client_credentials"}, auth=basic(service), headers=headers
    )


async def test_a_public_client_gets_a_bound_token_and_uses_it_at_userinfo(sso: FastAPI) -> None:
    platform, holder, other = await make_client(sso, public=True), ProofKey(), ProofKey()
    response = await _code_tokens(sso, platform, holder)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    token = body["access_token"]
    async with browser(sso) as http:
        assert (await _claims(http, token))["cnf"] == {"jkt": holder.jkt}
        ok = await http.get(
            "/userinfo",
            headers={
                "Authorization": f"DPoP {token}",
                "DPoP": holder.proof("GET", USERINFO_URL, token=token),
            },
        )
        as_bearer = await http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
        other_key = await http.get(
            "/userinfo",
            headers={
                "Authorization": f"DPoP {token}",
                "DPoP": other.proof("GET", USERINFO_URL, token=token),
            },
        )
        no_proof = await http.get("/userinfo", headers={"Authorization": f"DPoP {token}"})
        no_ath = await http.get(
            "/userinfo",
            headers={"Authorization": f"DPoP {token}", "DPoP": holder.proof("GET", USERINFO_URL)},
        )
    assert ok.status_code == 200, ok.headers
    assert "sub" in ok.json()
    # §7.2: a bound token is not a bearer token.
    assert as_bearer.status_code == 401
    assert as_bearer.headers["www-authenticate"].startswith('DPoP error="invalid_token"')
    assert 'algs="ES256 PS256 RS256 EdDSA"' in as_bearer.headers["www-authenticate"]
    for refused in (other_key, no_proof, no_ath):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"')


async def test_a_proof_is_used_once_at_userinfo(sso: FastAPI) -> None:
    platform, holder = await make_client(sso, public=True), ProofKey()
    token = (await _code_tokens(sso, platform, holder)).json()["access_token"]
    headers = {
        "Authorization": f"DPoP {token}",
        "DPoP": holder.proof("GET", USERINFO_URL, token=token),
    }
    async with browser(sso) as http:
        first = await http.get("/userinfo", headers=headers)
        again = await http.get("/userinfo", headers=headers)
    assert first.status_code == 200
    assert again.status_code == 401
    assert 'error="invalid_dpop_proof"' in again.headers["www-authenticate"]


async def test_a_public_clients_refresh_token_stays_bound_across_rotation(sso: FastAPI) -> None:
    platform, holder, other = await make_client(sso, public=True), ProofKey(), ProofKey()
    first = (await _code_tokens(sso, platform, holder)).json()
    async with browser(sso) as http:
        with_other_key = await _refresh(http, platform, first["refresh_token"], other)
        without_proof = await _refresh(http, platform, first["refresh_token"], None)
        # Refused before rotation: the holder still has its token.
        second = await _refresh(http, platform, first["refresh_token"], holder)
        assert second.status_code == 200, second.text
        rotated = second.json()
        assert rotated["token_type"] == "DPoP"
        assert (await _claims(http, rotated["access_token"]))["cnf"] == {"jkt": holder.jkt}
        # The rotated token carries the binding on.
        stolen = await _refresh(http, platform, rotated["refresh_token"], other)
        third = await _refresh(http, platform, rotated["refresh_token"], holder)
    for refused in (with_other_key, without_proof, stolen):
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_dpop_proof"
    assert third.status_code == 200


async def test_a_confidential_clients_refresh_token_is_not_bound(sso: FastAPI) -> None:
    platform, holder = await make_client(sso), ProofKey()
    first = (await _code_tokens(sso, platform, holder)).json()
    assert first["token_type"] == "DPoP"
    async with browser(sso) as http:
        # It authenticates to refresh: no proof needed, and the new access token is a bearer one.
        refreshed = await _refresh(http, platform, first["refresh_token"], None)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["token_type"] == "Bearer"


async def test_client_credentials_with_dpop_and_introspection_shows_the_binding(
    sso: FastAPI,
) -> None:
    service, holder = await make_client(sso, grant_types=["client_credentials"]), ProofKey()
    async with browser(sso) as http:
        bound = await _client_credentials(http, service, {"DPoP": holder.proof("POST", TOKEN_URL)})
        plain = await _client_credentials(http, service, {})
        assert bound.status_code == 200, bound.text
        assert bound.json()["token_type"] == "DPoP"
        introspected = await introspect(http, service, bound.json()["access_token"])
        plain_introspected = await introspect(http, service, plain.json()["access_token"])
    assert introspected["cnf"] == {"jkt": holder.jkt}
    assert introspected["token_type"] == "DPoP"
    assert plain.json()["token_type"] == "Bearer"
    assert "cnf" not in plain_introspected
    assert plain_introspected["token_type"] == "Bearer"


async def test_a_dpop_bound_client_without_a_proof_is_refused(sso: FastAPI) -> None:
    service = await make_client(
        sso, grant_types=["client_credentials"], dpop_bound_access_tokens=True
    )
    async with browser(sso) as http:
        refused = await _client_credentials(http, service, {})
        ok = await _client_credentials(http, service, {"DPoP": ProofKey().proof("POST", TOKEN_URL)})
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_dpop_proof"
    assert ok.status_code == 200


def _hs256_proof(holder: ProofKey) -> str:
    """A proof MACed with a secret, its header naming the client's public key."""
    secret = OctKey.generate_key(256)
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": holder.key.as_dict(private=False)}
    claims = {"jti": generate_token(16), "htm": "POST", "htu": TOKEN_URL, "iat": int(time.time())}
    return jwt.encode(header, claims, secret, algorithms=["HS256"])


@pytest.mark.parametrize(
    "case",
    ["replayed", "wrong-htu", "wrong-htm", "stale-iat", "future-iat", "private-jwk", "alg-hs256"],
)
async def test_a_bad_proof_at_the_token_endpoint_is_invalid_dpop_proof(
    sso: FastAPI, case: str
) -> None:
    service, holder = await make_client(sso, grant_types=["client_credentials"]), ProofKey()
    now = int(time.time())
    proofs = {
        "replayed": holder.proof("POST", TOKEN_URL),
        "wrong-htu": holder.proof("POST", USERINFO_URL),
        "wrong-htm": holder.proof("GET", TOKEN_URL),
        "stale-iat": holder.proof("POST", TOKEN_URL, iat=now - 400),
        "future-iat": holder.proof("POST", TOKEN_URL, iat=now + 400),
        "private-jwk": holder.proof(
            "POST", TOKEN_URL, header={"jwk": holder.key.as_dict(private=True)}
        ),
        "alg-hs256": _hs256_proof(holder),
    }
    async with browser(sso) as http:
        if case == "replayed":
            first = await _client_credentials(http, service, {"DPoP": proofs[case]})
            assert first.status_code == 200, first.text
        refused = await _client_credentials(http, service, {"DPoP": proofs[case]})
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_dpop_proof"
    assert refused.headers["cache-control"] == "no-store"


async def test_a_required_nonce_is_asked_for_then_accepted_and_renewed(
    sso: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = sso.state.provider
    settings = provider.settings.model_copy(update={"dpop_require_nonce": True})
    monkeypatch.setattr(provider, "settings", settings)
    service, holder = await make_client(sso, grant_types=["client_credentials"]), ProofKey()
    previous_slot = dpop.current_nonce(settings, time.time() - settings.dpop_proof_max_age_seconds)
    async with browser(sso) as http:
        asked = await _client_credentials(http, service, {"DPoP": holder.proof("POST", TOKEN_URL)})
        nonce = asked.headers["dpop-nonce"]
        forged = await _client_credentials(
            http, service, {"DPoP": holder.proof("POST", TOKEN_URL, nonce=nonce + "x")}
        )
        ok = await _client_credentials(
            http, service, {"DPoP": holder.proof("POST", TOKEN_URL, nonce=nonce)}
        )
        renewed = await _client_credentials(
            http, service, {"DPoP": holder.proof("POST", TOKEN_URL, nonce=previous_slot)}
        )
    assert asked.status_code == 400
    assert asked.json()["error"] == "use_dpop_nonce"
    assert forged.json()["error"] == "use_dpop_nonce"
    assert ok.status_code == 200, ok.text
    assert "dpop-nonce" not in ok.headers
    # §8.2: the slot turned; the answer hands out the new nonce.
    assert renewed.status_code == 200
    assert renewed.headers["dpop-nonce"] == nonce


async def test_nonces_are_good_for_their_slot_and_the_next_only(sso: FastAPI) -> None:
    settings = sso.state.provider.settings
    window = settings.dpop_proof_max_age_seconds
    nonce = dpop.current_nonce(settings, now=1000 * window)
    dpop.check_nonce(settings, nonce, now=1000 * window + 1)
    dpop.check_nonce(settings, nonce, now=1001 * window + 1)
    with pytest.raises(NonceRequired):
        dpop.check_nonce(settings, nonce, now=1002 * window + 1)


async def test_proofs_past_their_window_are_purged(sso: FastAPI) -> None:
    settings = sso.state.provider.settings
    pool = sso.state.runtime.pool
    old = Proof(jkt="k", jti=generate_token(16), iat=int(time.time()) - 3600, nonce=None)
    live = Proof(jkt="k", jti=generate_token(16), iat=int(time.time()), nonce=None)
    proofs = sso.state.provider.dpop_proofs
    assert await proofs.first_use(settings, old)
    assert await proofs.first_use(settings, live)
    assert not await proofs.first_use(settings, live)
    assert await dpop.purge(pool) >= 1
    async with pool.acquire() as conn:
        left = await conn.fetchval(
            "SELECT count(*) FROM dpop_proofs WHERE expires_at <= $1", datetime.now(UTC)
        )
        assert left == 0
        assert await grant_repository.delete_expired_dpop_proofs(conn) == 0
    # The live one is still remembered.
    assert not await proofs.first_use(settings, live)


async def test_the_admin_api_admits_a_bound_token_with_its_proof_only(sso: FastAPI) -> None:
    platform = await make_client(sso, public=True, audiences=[ADMIN_RESOURCE])
    holder, account = ProofKey(), await make_user(sso, roles=["admin"])
    verifier = generate_token(48)
    url = f"{ISSUER}/admin/backchannel-logout/undelivered"
    async with browser(sso) as http:
        authorize = authorize_url(platform, verifier, resource=ADMIN_RESOURCE)
        landed = await login_through_form(http, authorize, account)
        code = query_of(landed.headers["location"])["code"]
        issued = await http.post(
            "/token",
            data=_form(platform, redeem(platform, code, verifier)),
            headers={"DPoP": holder.proof("POST", TOKEN_URL)},
        )
        token = issued.json()["access_token"]
        ok = await http.get(
            url,
            headers={
                "Authorization": f"DPoP {token}",
                "DPoP": holder.proof("GET", url, token=token),
            },
        )
        as_bearer = await http.get(url, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200, ok.text
    assert as_bearer.status_code == 401
    assert as_bearer.headers["www-authenticate"].startswith('DPoP error="invalid_token"')


async def test_one_proof_sent_twice_at_once_is_accepted_once(sso: FastAPI) -> None:
    settings, proofs = sso.state.provider.settings, sso.state.provider.dpop_proofs
    proof = Proof(jkt="k", jti=generate_token(16), iat=int(time.time()), nonce=None)
    # Both land in one batch (one statement): the first request wins, the second is a replay.
    results = await asyncio.gather(*(proofs.first_use(settings, proof) for _ in range(3)))
    assert sorted(results) == [False, False, True]
