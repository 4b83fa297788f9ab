"""Signing keys: encrypted at rest, rotated with overlap (published before signing; kept until
every token they signed has expired)."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from joserfc import jws

from sso_gateway.keys.service import keys
from tests.sso_gateway.support import basic, browser, introspect, make_client

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def service_token(app: FastAPI, platform: object) -> str:
    async with browser(app) as http:
        response = await http.post(
            "/token",
            data={"grant_type": "client_credentials"},
            auth=basic(platform),  # type: ignore[arg-type]
        )
    token: str = response.json()["access_token"]
    return token


def kid_of(token: str) -> str:
    return str(jws.extract_compact(token.encode()).protected["kid"])


async def published_kids(app: FastAPI) -> set[str]:
    async with browser(app) as http:
        return {k["kid"] for k in (await http.get("/jwks")).json()["keys"]}


async def test_private_keys_are_encrypted_at_rest(sso: FastAPI) -> None:
    async with sso.state.runtime.pool.acquire() as conn:
        rows = await conn.fetch("SELECT private_enc, public_jwk FROM signing_keys")
    assert rows
    for row in rows:
        assert b'"d"' not in bytes(row["private_enc"])
        assert "d" not in row["public_jwk"]


async def test_rotation_publishes_first_then_signs_and_keeps_the_old_key_until_expiry(
    sso: FastAPI,
) -> None:
    provider = sso.state.provider
    pool = sso.state.runtime.pool
    service = await make_client(sso, grant_types=["client_credentials"])
    before = await service_token(sso, service)
    old_kid = kid_of(before)

    async with pool.acquire() as conn:
        new_kids = await keys.rotate(
            conn, provider.settings.secret_key, publish_delay=600, token_ttl=900
        )
    await provider.keyring.refresh(pool, force=True)
    new_es = next(k for k in new_kids if k.startswith("es256"))
    # Published at once, but not signing yet: relying parties' caches get it first.
    assert new_es in await published_kids(sso)
    assert kid_of(await service_token(sso, service)) == old_kid

    # The publication delay elapses.
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE signing_keys SET activates_at = now() - interval '1 s' WHERE kid = ANY($1)",
            new_kids,
        )
        await conn.execute(
            "UPDATE signing_keys SET retires_at = now() - interval '1 s'"
            " WHERE retires_at IS NOT NULL AND drop_after > now()"
        )
    await provider.keyring.refresh(pool, force=True)
    after = await service_token(sso, service)
    assert kid_of(after) == new_es
    # A token from the old key still verifies while it lives.
    assert old_kid in await published_kids(sso)
    async with browser(sso) as http:
        assert (await introspect(http, service, before))["active"] is True

    # Every token of the old key has expired: it leaves the JWKS.
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE signing_keys SET drop_after = now() - interval '1 s' WHERE kid = $1", old_kid
        )
    await provider.keyring.refresh(pool, force=True)
    assert old_kid not in await published_kids(sso)
    assert new_es in await published_kids(sso)
    async with browser(sso) as http:
        assert (await introspect(http, service, after))["active"] is True
        assert json.dumps(await introspect(http, service, before)) == '{"active": false}'


async def test_a_key_reload_reuses_keys_already_decrypted_and_serves_the_same_jwks(
    sso: FastAPI,
) -> None:
    keyring = sso.state.provider.keyring
    pool = sso.state.runtime.pool
    await keyring.refresh(pool, force=True)
    rsa, ec = keyring.signing_key("RS256").key, keyring.signing_key("ES256").key
    await keyring.refresh(pool, force=True)
    # An RSA import is milliseconds of CPU on the event loop: a reload does not redo it.
    assert keyring.signing_key("RS256").key is rsa
    assert keyring.signing_key("ES256").key is ec
    async with browser(sso) as http:
        served = await http.get("/jwks")
    assert served.headers["content-type"] == "application/json"
    assert served.json() == keyring.jwks()
    assert {k["kid"] for k in served.json()["keys"]} >= {
        keyring.signing_key("RS256").kid,
        keyring.signing_key("ES256").kid,
    }
