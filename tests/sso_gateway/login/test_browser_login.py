"""A learner logs in through the form in real headless Chromium and lands on a test platform that
verified the ID token. The platform is a small relying party of its own, written with Authlib's
client and joserfc, over real HTTP."""

from __future__ import annotations

import html
from typing import Any

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import KeySet

from sso_gateway.app import create_app
from sso_gateway.clients.schemas import ClientCreate
from sso_gateway.clients.service import client
from sso_gateway.config import Settings
from tests.fixtures.serving import serving
from tests.sso_gateway.support import make_user
from vigie_shared.kit.embedded import free_port

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


def platform_app(issuer: str, client_id: str, secret: str, redirect_uri: str) -> FastAPI:
    """What a platform team would write: code flow with PKCE, ID token verified with the
    issuer's JWKS, then a page greeting the user."""
    app = FastAPI()
    pending: dict[str, tuple[str, str]] = {}

    def oauth() -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=client_id,
            client_secret=secret,
            scope="openid profile email",
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        )

    @app.get("/")
    async def start() -> RedirectResponse:
        verifier, nonce = generate_token(48), generate_token(16)
        async with oauth() as rp:
            url, state = rp.create_authorization_url(
                f"{issuer}/authorize", code_verifier=verifier, nonce=nonce
            )
        pending[state] = (verifier, nonce)
        return RedirectResponse(url, 302)

    @app.get("/callback", response_class=HTMLResponse)
    async def callback(request: Request, state: str) -> str:
        verifier, nonce = pending.pop(state)
        async with oauth() as rp, httpx.AsyncClient() as http:
            token = await rp.fetch_token(
                f"{issuer}/token", authorization_response=str(request.url), code_verifier=verifier
            )
            keys = KeySet.import_key_set((await http.get(f"{issuer}/jwks")).json())
        id_token = jwt.decode(token["id_token"], keys, algorithms=["ES256", "RS256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": client_id},
            nonce={"essential": True, "value": nonce},
        ).validate(id_token.claims)
        name, sub = html.escape(id_token.claims["name"]), html.escape(id_token.claims["sub"])
        return f"<h1>Bienvenue {name}</h1><p id='sub'>{sub}</p>"

    return app


async def test_learner_logs_in_with_chromium_and_lands_on_the_platform(
    page: Any, database_url: str, kafka: str
) -> None:
    sso_port, platform_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{sso_port}"
    settings = Settings(
        database_url=database_url, kafka_bootstrap=kafka, issuer=issuer, backchannel_poll_seconds=0
    )
    sso = create_app(settings)
    async with sso.router.lifespan_context(sso), serving(sso, sso_port):
        account = await make_user(sso)
        redirect_uri = f"http://127.0.0.1:{platform_port}/callback"
        client_id = f"platform-{generate_token(8).lower()}"
        async with sso.state.runtime.pool.acquire() as conn:
            created = await client.add(
                conn,
                ClientCreate(
                    client_id=client_id, name="Plateforme de test", redirect_uris=[redirect_uri]
                ),
                secret_key=settings.secret_key,
            )
        assert created.client_secret is not None
        platform = platform_app(issuer, client_id, created.client_secret, redirect_uri)
        async with serving(platform, platform_port):
            await page.goto(f"http://127.0.0.1:{platform_port}/")
            await page.get_by_label("Identifiant ou adresse électronique").fill(account.username)
            await page.get_by_label("Mot de passe").fill(account.password)
            await page.get_by_role("button", name="Se connecter").click()
            await page.wait_for_url(f"{redirect_uri}*")
            heading = await page.locator("h1").inner_text()
            subject = await page.locator("#sub").inner_text()
    assert heading == "Bienvenue Léa Dupont"
    assert subject == account.id
