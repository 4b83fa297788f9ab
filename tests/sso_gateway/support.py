"""What the gateway's tests share: people and platforms registered in the gateway, a browser (an
httpx client keeping cookies) that signs in through the form, the requests of a relying party
(authorization, code redemption, refresh, introspection; one written with Authlib's OAuth
client), the outbox's events, and the platforms' back-channel logout endpoints (the outside
world, mocked)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from html import unescape
from secrets import token_urlsafe as generate_token
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from fastapi import FastAPI

from sso_gateway.admin.resource import admin_resource
from sso_gateway.backchannel.service import backchannel
from sso_gateway.clients.schemas import ClientCreate
from sso_gateway.clients.service import client
from sso_gateway.users.schemas import UserCreate
from sso_gateway.users.service import user
from vigie_shared.events import DpoTaskRequested, TaskAction
from vigie_shared.kit.clock import utcnow

ISSUER = "http://127.0.0.1:8000"
PASSWORD = "correct horse battery staple"
ADMIN_RESOURCE = admin_resource(ISSUER)
"""The admin API's resource indicator (RFC 8707): the audience its tokens must name."""


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


async def submit(http: httpx.AsyncClient, identifier: str, password: str) -> httpx.Response:
    """The login form, filled in and sent, with no platform waiting."""
    form = await http.get("/login")
    return await http.post(
        "/login",
        data={
            "identifier": identifier,
            "password": password,
            "csrf_token": csrf_of(form.text),
            "next": "/",
        },
    )


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
    async with app.state.runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT headers, value FROM outbox WHERE key = $1 ORDER BY id", subject.encode()
        )
    return [
        (dict((n, v) for n, v in row["headers"])["ce_type"], json.loads(row["value"]))
        for row in rows
    ]


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def authorize_url(platform: Platform, verifier: str, **overrides: str) -> str:
    """An authorization request of ``platform`` (code, PKCE S256); an override of ``""``
    leaves that parameter out."""
    params = {
        "response_type": "code",
        "client_id": platform.client_id,
        "redirect_uri": platform.redirect_uri,
        "scope": "openid profile",
        "state": "st-1",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return "/authorize?" + urlencode({k: v for k, v in params.items() if v != ""})


async def get_code(app: FastAPI, platform: Platform, verifier: str) -> str:
    account = await make_user(app)
    async with browser(app) as http:
        landed = await login_through_form(http, authorize_url(platform, verifier), account)
    return query_of(landed.headers["location"])["code"]


def redeem(platform: Platform, code: str, verifier: str, **overrides: str) -> dict[str, str]:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": platform.redirect_uri,
        "code_verifier": verifier,
    }
    data.update(overrides)
    return data


def basic(platform: Platform, secret: str | None = None) -> httpx.BasicAuth:
    return httpx.BasicAuth(platform.client_id, secret or platform.client_secret or "")


async def tokens_for(app: FastAPI, platform: Platform) -> dict[str, str]:
    verifier = generate_token(48)
    code = await get_code(app, platform, verifier)
    async with browser(app) as http:
        response = await http.post(
            "/token", data=redeem(platform, code, verifier), auth=basic(platform)
        )
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


async def refresh(http: httpx.AsyncClient, platform: Platform, token: str) -> httpx.Response:
    return await http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=basic(platform),
    )


async def introspect(http: httpx.AsyncClient, platform: Platform, token: str) -> dict[str, object]:
    response = await http.post("/introspect", data={"token": token}, auth=basic(platform))
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


async def signed_in(
    app: FastAPI, http: httpx.AsyncClient, platform: Platform, account: Account, **authorize: str
) -> dict[str, str]:
    """The token response after ``account`` signs in to ``platform`` in the browser ``http``;
    ``authorize``: more authorization request parameters (e.g. ``resource``, RFC 8707)."""
    verifier = generate_token(48)
    url = authorize_url(platform, verifier, **authorize)
    landed = await http.get(url)
    if landed.headers["location"].startswith("/login"):
        landed = await login_through_form(http, url, account)
    code = query_of(landed.headers["location"])["code"]
    response = await http.post(
        "/token", data=redeem(platform, code, verifier), auth=basic(platform)
    )
    tokens: dict[str, str] = response.json()
    return tokens


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
    verifier = generate_token(48)
    authorize = {"resource": resource} if resource else {}
    async with browser(app) as http:
        url = authorize_url(platform, verifier, **authorize)
        landed = await login_through_form(http, url, account)
        code = query_of(landed.headers["location"])["code"]
        response = await http.post(
            "/token", data=redeem(platform, code, verifier), auth=basic(platform)
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


def relying_party(app: FastAPI, platform: Platform, **kwargs: object) -> AsyncOAuth2Client:
    """A relying party written only with Authlib's OAuth client (an ordinary OIDC client
    library), talking to ``app`` in-process."""
    return AsyncOAuth2Client(
        client_id=platform.client_id,
        client_secret=platform.client_secret,
        scope="openid profile email",
        redirect_uri=platform.redirect_uri,
        code_challenge_method="S256",
        transport=httpx.ASGITransport(app=app),
        **kwargs,
    )


class Platforms:
    """The outside world: platforms' back-channel logout endpoints."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[str, str]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        token = parse_qs(request.content.decode())["logout_token"][0]
        self.received.append((str(request.url), token))
        return httpx.Response(self.status)


async def deliver(app: FastAPI, platforms: Platforms) -> int:
    """The back-channel logouts due, sent to ``platforms``: how many were delivered."""
    provider = app.state.provider
    async with httpx.AsyncClient(transport=httpx.MockTransport(platforms.handler)) as http:
        delivered: int = await backchannel.deliver_due(
            provider.pool, provider.keyring, http, provider.settings
        )
        return delivered


async def suspend_by_hand(sso: FastAPI, account: Account) -> None:
    """An accountant's decision: ``account``'s access to training platforms is suspended."""
    async with sso.state.runtime.pool.acquire() as conn:
        await sso.state.access.decide_manually(
            conn,
            account.id,
            suspend=True,
            reason="unpaid debt, reminder unanswered",
            actor_id="accountant-1",
            now=utcnow(),
        )


def return_link(page: str) -> str:
    """The refusal page's way back to the platform."""
    match = re.search(r'<a id="return-to-platform" href="([^"]+)"', page)
    assert match, page
    return unescape(match.group(1))


def task(action: TaskAction, subject_id: str, **extra: Any) -> DpoTaskRequested:
    """A DPO's task for the gateway as a data system."""
    return DpoTaskRequested(
        task_id=f"t-{uuid.uuid4().hex[:8]}",
        request_id=f"r-{uuid.uuid4().hex[:8]}",
        system="sso_gateway",
        action=action,
        subject_id=subject_id,
        **extra,
    )
