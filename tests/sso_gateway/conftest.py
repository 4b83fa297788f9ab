"""The gateway on the real PostgreSQL and broker, driven over HTTP in-process, with a browser
(an httpx client keeping cookies) and relying parties written with Authlib's OAuth client."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pytest_asyncio
from fastapi import FastAPI

from sso_gateway.admin.resource import admin_resource
from sso_gateway.app import create_app
from sso_gateway.clients.schemas import ClientCreate
from sso_gateway.clients.service import client
from sso_gateway.config import Settings
from sso_gateway.users.schemas import UserCreate
from sso_gateway.users.service import user

ISSUER = "http://127.0.0.1:8000"
PASSWORD = "correct horse battery staple"
ADMIN_RESOURCE = admin_resource(ISSUER)
"""The admin API's resource indicator (RFC 8707): the audience its tokens must name."""


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sso(database_url: str, kafka: str) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=kafka,
        env="development",
        issuer=ISSUER,
        login_max_failures_per_ip=1000,
        # Tests deliver back-channel logouts themselves, to a mocked outside world.
        backchannel_poll_seconds=0,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def browser(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Account:
    id: str
    username: str
    email: str
    password: str


async def make_user(app: FastAPI, roles: list[str] | None = None) -> Account:
    username = unique("learner")
    email = f"{username}@example.org"
    async with app.state.runtime.pool.acquire() as conn:
        created = await user.create(
            conn,
            UserCreate(
                username=username,
                email=email,
                display_name="Léa Dupont",
                password=PASSWORD,
                roles=roles or ["learner"],
            ),
        )
    return Account(created.id, username, email, PASSWORD)


@dataclass
class Platform:
    client_id: str
    client_secret: str | None
    redirect_uri: str
    post_logout_redirect_uri: str


async def make_client(app: FastAPI, **overrides: Any) -> Platform:
    client_id = unique("platform")
    redirect_uri = f"https://{client_id}.example.org/callback"
    post_logout = f"https://{client_id}.example.org/bye"
    data: dict[str, Any] = {
        "client_id": client_id,
        "name": "Test platform",
        "redirect_uris": [redirect_uri],
        "post_logout_redirect_uris": [post_logout],
    }
    data.update(overrides)
    async with app.state.runtime.pool.acquire() as conn:
        created = await client.add(
            conn, ClientCreate(**data), secret_key=app.state.provider.settings.secret_key
        )
    return Platform(client_id, created.client_secret, redirect_uri, post_logout)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


async def login_through_form(
    http: httpx.AsyncClient, authorize_url: str, account: Account
) -> httpx.Response:
    """A browser: follow /authorize to the login form, fill it in, come back; returns the
    final response of the gateway (a redirect to the platform)."""
    response = await http.get(authorize_url)
    assert response.status_code == 302, response.text
    login_url = response.headers["location"]
    assert urlsplit(login_url).path == "/login"
    login_url = urljoin(str(http.base_url), login_url)
    form = await http.get(login_url)
    assert form.status_code == 200
    next_url = parse_qs(urlsplit(login_url).query)["next"][0]
    submitted = await http.post(
        "/login",
        data={
            "identifier": account.username,
            "password": account.password,
            "csrf_token": csrf_of(form.text),
            "next": next_url,
            "lang": "fr",
        },
    )
    assert submitted.status_code == 303, submitted.text
    return await http.get(urljoin(str(http.base_url), submitted.headers["location"]))


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def events_about(app: FastAPI, subject: str) -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of the events waiting in (or relayed from) the outbox for ``subject``."""
    import json

    async with app.state.runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT headers, value FROM outbox WHERE key = $1 ORDER BY id", subject.encode()
        )
    return [
        (dict((n, v) for n, v in row["headers"])["ce_type"], json.loads(row["value"]))
        for row in rows
    ]


async def person_token(
    app: FastAPI,
    account: Account,
    *,
    resource: str | None = None,
    platform: Platform | None = None,
) -> dict[str, Any]:
    """What a platform gets for ``account`` through the real login and code flow (PKCE S256):
    the token response. With ``resource``, the authorization request names it (RFC 8707 §2.1),
    from ``platform`` or else a new client registered for that resource."""
    if platform is None:
        platform = await make_client(app, audiences=[resource] if resource else [])
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = {
        "response_type": "code",
        "client_id": platform.client_id,
        "redirect_uri": platform.redirect_uri,
        "scope": "openid profile",
        "state": "st-1",
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    if resource:
        params["resource"] = resource
    async with browser(app) as http:
        landed = await login_through_form(http, "/authorize?" + urlencode(params), account)
        code = query_of(landed.headers["location"])["code"]
        response = await http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": platform.redirect_uri,
                "code_verifier": verifier,
            },
            auth=httpx.BasicAuth(platform.client_id, platform.client_secret or ""),
        )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def admin_api_token(app: FastAPI, roles: list[str]) -> str:
    """An access token for the admin API (audience ``ADMIN_RESOURCE``, asked for explicitly)
    of a new person with ``roles``."""
    account = await make_user(app, roles=roles)
    token: str = (await person_token(app, account, resource=ADMIN_RESOURCE))["access_token"]
    return token
