"""Refresh tokens of FAPI clients: rotated, and a retry with the token just sent succeeds while
the one its lost answer carried was never used (FAPI 2.0 Security Profile §5.3.2.1); once that
one is used, the old token is a replay and the grant is revoked (RFC 9700 §4.14.2)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import ECKey, RSAKey

from sso_gateway import crypto
from sso_gateway.oauth.grants.base import REFRESH_TOKEN_PREFIX
from sso_gateway.oauth.repository import grant_repository
from sso_gateway.sessions.service import sessions
from tests.kit.test_dpop import ProofKey
from tests.sso_gateway.oauth.test_private_key_jwt import (
    assertion,
    authenticated,
    ec_key,
    fapi_client,
    keyed_client,
    public_jwks,
)
from tests.sso_gateway.support import ISSUER, Platform, browser, make_user
from vigie_shared.kit.clock import utcnow

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def granted(sso: FastAPI, platform: Platform) -> str:
    """A refresh token of ``platform`` for a new person's live session, as a code exchange
    leaves it."""
    settings = sso.state.provider.settings
    account = await make_user(sso)
    token = crypto.new_secret(REFRESH_TOKEN_PREFIX)
    async with sso.state.runtime.pool.acquire() as conn:
        session_id, _ = await sessions.open(conn, settings, user_id=account.id, ip=None)
        await grant_repository.insert_refresh_token(
            conn,
            token_hash=crypto.keyed_hash(settings.secret_key, token),
            family_id=f"f-{uuid.uuid4().hex}",
            client_id=platform.client_id,
            user_id=account.id,
            session_id=session_id,
            scope="openid",
            auth_time=utcnow(),
            expires_at=utcnow() + timedelta(days=1),
        )
    return token


async def refresh(
    http: httpx.AsyncClient, platform: Platform, key: ECKey, holder: ProofKey, token: str
) -> httpx.Response:
    """A refresh as a FAPI client sends it: private_key_jwt and a DPoP proof."""
    return await http.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token,
            **authenticated(assertion(platform.client_id, key)),
        },
        headers={"DPoP": holder.proof("POST", f"{ISSUER}/token")},
    )


def rotated(answer: httpx.Response, sent: str) -> str:
    assert answer.status_code == 200, answer.text
    new: str = answer.json()["refresh_token"]
    assert new != sent
    return new


async def test_a_fapi_client_may_retry_with_the_token_it_sent_until_the_new_one_is_used(
    sso: FastAPI,
) -> None:
    key, holder = ec_key(), ProofKey()
    platform = await fapi_client(sso, key)
    first = await granted(sso, platform)
    async with browser(sso) as http:
        lost = rotated(await refresh(http, platform, key, holder, first), first)
        # The answer carrying ``lost`` never reached the client: it sends ``first`` again.
        second = rotated(await refresh(http, platform, key, holder, first), first)
        assert second != lost
        superseded = await refresh(http, platform, key, holder, lost)
        assert superseded.json()["error"] == "invalid_grant", "the lost token is revoked"
        third = rotated(await refresh(http, platform, key, holder, second), second)
        # ``third`` used: ``second`` presented now is a replay, and the whole grant ends.
        rotated(await refresh(http, platform, key, holder, third), third)
        replay = await refresh(http, platform, key, holder, second)
        assert replay.json()["error"] == "invalid_grant"
        after = await refresh(http, platform, key, holder, third)
    assert after.json()["error"] == "invalid_grant", "a replay revokes the grant"


async def test_other_clients_get_no_retry_a_reused_token_revokes_the_grant(
    sso: FastAPI,
) -> None:
    key, holder = ec_key(), ProofKey()
    platform = await keyed_client(sso, jwks=public_jwks(key))
    first = await granted(sso, platform)
    async with browser(sso) as http:
        lost = rotated(await refresh(http, platform, key, holder, first), first)
        again = await refresh(http, platform, key, holder, first)
        assert again.json()["error"] == "invalid_grant"
        after = await refresh(http, platform, key, holder, lost)
    assert after.json()["error"] == "invalid_grant"


async def test_a_fapi_clients_dpop_proof_is_not_signed_rs256(sso: FastAPI) -> None:
    # FAPI 2.0 Security Profile §5.4.1: PS256, ES256 or EdDSA; RS256 is for other clients.
    key = ec_key()
    platform = await fapi_client(sso, key)
    rsa = ProofKey(RSAKey.generate_key(2048, private=True), "RS256")
    async with browser(sso) as http:
        refused = await refresh(http, platform, key, rsa, await granted(sso, platform))
        accepted = await refresh(
            http, platform, key, ProofKey(alg="ES256"), await granted(sso, platform)
        )
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_dpop_proof"
    assert "RS256" in refused.json()["error_description"]
    assert accepted.status_code == 200, accepted.text
