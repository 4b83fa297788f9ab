"""The app: the plain routes that serve /token, /jwks and discovery, which every platform calls
at every token expiry or key rotation, still documented and measured."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.sso_gateway.support import basic, browser, make_client

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_token_jwks_and_discovery_are_served_by_the_plain_routes_and_documented(
    sso: FastAPI,
) -> None:
    platform = await make_client(sso, grant_types=["client_credentials"])
    async with browser(sso) as http:
        token = await http.post(
            "/token", data={"grant_type": "client_credentials"}, auth=basic(platform)
        )
        jwks = await http.get("/jwks")
        discovery = await http.get("/.well-known/openid-configuration")
        wrong_method = await http.get("/token")
        metrics = (await http.get("/metrics")).text
    assert token.status_code == 200, token.text
    assert token.headers["cache-control"] == "no-store"
    assert jwks.json()["keys"]
    assert discovery.json()["token_endpoint"].endswith("/token")
    assert wrong_method.status_code == 405
    assert 'route="/token"' in metrics
    plain = [getattr(r, "name", "") for r in sso.router.routes[:3]]
    assert plain == ["plain:/token", "plain:/jwks", "plain:/.well-known/openid-configuration"]
    paths = sso.openapi()["paths"]
    assert "post" in paths["/token"]
    assert "get" in paths["/jwks"]
