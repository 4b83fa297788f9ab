"""Hostile form bodies and hostile-but-signed tokens at the gateway's OAuth endpoints: invalid
UTF-8 (raw or percent-encoded) is the client's error, 400, never a 500 (WHATWG URL,
application/x-www-form-urlencoded parsing); a token signed with the gateway's own key but
without ``exp`` is inactive at introspection (RFC 7662 §2.2), not a crash."""

from __future__ import annotations

import time
import uuid

import pytest
from fastapi import FastAPI
from joserfc import jwt

from tests.sso_gateway.support import ISSUER, basic, browser, introspect, make_client

pytestmark = pytest.mark.asyncio(loop_scope="session")

FORM = {"content-type": "application/x-www-form-urlencoded"}
BODIES = {
    "raw": b"token=\xff\xfe&token_type_hint=x",
    "percent-encoded": b"token=%ff%fe&token_type_hint=x",
    "in-a-name": b"\xc3\x28=1",
}


@pytest.mark.parametrize("endpoint", ["/token", "/introspect", "/revoke", "/logout"])
@pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))
async def test_invalid_utf8_in_an_oauth_form_body_is_400_problem(
    sso: FastAPI, endpoint: str, body: bytes
) -> None:
    platform = await make_client(sso)
    async with browser(sso) as http:
        answer = await http.post(endpoint, content=body, headers=FORM, auth=basic(platform))
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


async def test_a_token_signed_by_the_gateway_without_exp_is_inactive_at_introspection(
    sso: FastAPI,
) -> None:
    platform = await make_client(sso)
    key = sso.state.provider.keyring.signing_key("ES256")
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "client_id": platform.client_id,
        "sub": platform.client_id,
        "aud": platform.client_id,
        "scope": "",
    }
    forged = jwt.encode({"alg": key.alg, "typ": "at+jwt", "kid": key.kid}, claims, key.key)
    async with browser(sso) as http:
        answer = await introspect(http, platform, forged)
    assert answer == {"active": False}
