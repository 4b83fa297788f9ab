"""A code exchanged twice at once (RFC 6749 §4.1.2): the second exchange revokes what the first
got, even when the first's pair is written after that revocation."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from secrets import token_urlsafe

import pytest
from fastapi import FastAPI

from sso_gateway import crypto
from sso_gateway.oauth import revocation
from sso_gateway.oauth.records import TokenPair
from sso_gateway.oauth.repository import grant_repository
from tests.sso_gateway.oauth.support import pool_of
from tests.sso_gateway.support import (
    authorize_url,
    basic,
    browser,
    login_through_form,
    make_client,
    make_user,
    query_of,
    redeem,
    refresh,
    unique,
)
from vigie_shared.kit.clock import utcnow

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_code_exchanged_twice_at_once_leaves_no_live_grant(sso: FastAPI) -> None:
    """Whichever comes first, no refresh token the two exchanges were answered with works."""
    platform = await make_client(sso)
    account = await make_user(sso)
    async with browser(sso) as http:
        verifier = token_urlsafe(48)
        url = authorize_url(platform, verifier)
        landed = await login_through_form(http, url, account)
        code = query_of(landed.headers["location"])["code"]
        answers = await asyncio.gather(
            *(
                http.post("/token", data=redeem(platform, code, verifier), auth=basic(platform))
                for _ in range(2)
            )
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses in ([200, 400], [400, 400]), [a.text for a in answers]
        assert all(a.json()["error"] == "invalid_grant" for a in answers if a.status_code == 400)
        issued = [a.json()["refresh_token"] for a in answers if a.status_code == 200]
        again = [await refresh(http, platform, token) for token in issued]
    assert [a.status_code for a in again] == [400] * len(issued), [a.text for a in again]


async def test_a_pair_is_not_written_for_a_code_whose_grant_was_revoked_meanwhile(
    sso: FastAPI,
) -> None:
    """The order the test above cannot choose: the code redeemed, its grant revoked (its
    reuse found), then the first exchange's pair written."""
    platform = await make_client(sso)
    account = await make_user(sso)
    secret_key = sso.state.provider.settings.secret_key
    hashes = []
    for _ in range(2):
        async with browser(sso) as http:
            verifier = token_urlsafe(48)
            landed = await login_through_form(http, authorize_url(platform, verifier), account)
        code = query_of(landed.headers["location"])["code"]
        hashes.append(crypto.keyed_hash(secret_key, code))
    async with pool_of(sso).acquire() as conn:
        pairs = []
        for code_hash in hashes:
            redeemed = await grant_repository.consume_code(conn, code_hash, platform.client_id)
            assert redeemed is not None
            pairs.append(
                TokenPair(
                    jti=unique("jti"),
                    access_expires_at=utcnow() + timedelta(minutes=5),
                    token_hash=unique("new-hash"),
                    family_id=redeemed.family_id,
                    client_id=platform.client_id,
                    user_id=account.id,
                    session_id=redeemed.session_id,
                    scope=redeemed.scope,
                    auth_time=utcnow(),
                    expires_at=utcnow() + timedelta(days=1),
                    replaces=code_hash,
                )
            )
        await revocation.revoke_family(conn, pairs[0].family_id, "code_reused")
        # The other code's grant stands: its pair is written.
        assert await grant_repository.insert_token_pairs(conn, pairs) == [False, True]
        assert await grant_repository.get_refresh_token(conn, pairs[0].token_hash) is None
        assert await grant_repository.get_refresh_token(conn, pairs[1].token_hash) is not None
