"""A relying party written only with a standard OIDC client library (Authlib's Starlette
client: discovery, code + PKCE, ID token validation, userinfo, refresh, logout URL) against the
gateway served by uvicorn over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
import uvicorn
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.integrations.starlette_client import OAuth
from fastapi import FastAPI

from sso_gateway.app import create_app
from sso_gateway.config import Settings
from tests.sso_gateway.support import login_through_form, make_client, make_user, query_of
from vigie_shared.kit.embedded import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def served(database_url: str, kafka: str) -> AsyncIterator[tuple[str, FastAPI]]:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    app = create_app(
        Settings(
            database_url=database_url,
            kafka_bootstrap=kafka,
            env="development",
            issuer=issuer,
            backchannel_poll_seconds=0,
        )
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield issuer, app
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_standard_client_library_does_discovery_code_pkce_refresh_and_userinfo(
    served: tuple[str, FastAPI],
) -> None:
    issuer, app = served
    account = await make_user(app)
    platform = await make_client(app)
    oauth = OAuth()
    rp = oauth.register(
        "vigie",
        client_id=platform.client_id,
        client_secret=platform.client_secret,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
    )
    auth = await rp.create_authorization_url(platform.redirect_uri)
    assert auth["url"].startswith(f"{issuer}/authorize?")
    async with httpx.AsyncClient(base_url=issuer) as browser:
        landed = await login_through_form(browser, auth["url"], account)
        # The person's browser keeps its SSO cookie for the logout at the end.
        signed_in = httpx.Cookies(browser.cookies)
    callback = query_of(landed.headers["location"])
    assert callback["state"] == auth["state"]

    token = await rp.fetch_access_token(
        redirect_uri=platform.redirect_uri,
        code=callback["code"],
        code_verifier=auth["code_verifier"],
    )
    # The library's own ID token checks: signature from jwks_uri, iss, aud, nonce, at_hash.
    claims = await rp.parse_id_token(token, nonce=auth["nonce"])
    assert claims["sub"] == account.id
    assert claims["email"] == account.email
    info = await rp.userinfo(token=token)
    assert info["sub"] == account.id

    metadata = await rp.load_server_metadata()
    async with AsyncOAuth2Client(
        client_id=platform.client_id, client_secret=platform.client_secret, token=token
    ) as session:
        refreshed = await session.refresh_token(metadata["token_endpoint"])
        assert refreshed["access_token"] != token["access_token"]
        again = await session.get(metadata["userinfo_endpoint"])
        assert again.json()["sub"] == account.id

    logout = await rp.create_logout_url(
        post_logout_redirect_uri=platform.post_logout_redirect_uri,
        id_token_hint=token["id_token"],
    )
    # RP-Initiated Logout 1.0 §2: ended without asking, as the hint names this browser's session.
    async with httpx.AsyncClient(cookies=signed_in) as browser:
        response = await browser.get(logout["url"])
    assert response.status_code == 302
    assert response.headers["location"].startswith(platform.post_logout_redirect_uri)
