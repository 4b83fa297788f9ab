"""What the Shared Signals tests share: receivers registered in the gateway with their tokens,
a receiver's push endpoint served over real HTTP on loopback, and a SET check written only with
joserfc against the published JWKS (none of the gateway's own code)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from sso_gateway.signals.delivery import delivery
from tests.fixtures.serving import serving
from tests.sso_gateway.support import ISSUER, Platform, browser, make_client
from vigie_shared.kit.embedded import free_port

CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"
SESSION_REVOKED = CAEP + "session-revoked"
CREDENTIAL_CHANGE = CAEP + "credential-change"
ACCOUNT_DISABLED = RISC + "account-disabled"
ACCOUNT_ENABLED = RISC + "account-enabled"
ACCOUNT_PURGED = RISC + "account-purged"
VERIFICATION = "https://schemas.openid.net/secevent/ssf/event-type/verification"
ALL_EVENTS = [SESSION_REVOKED, CREDENTIAL_CHANGE, ACCOUNT_DISABLED, ACCOUNT_ENABLED, ACCOUNT_PURGED]
PUSH = "urn:ietf:rfc:8935"
POLL = "urn:ietf:rfc:8936"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Receiver:
    """A receiver registered at the gateway, with an access token for the SSF API."""

    platform: Platform
    token: str

    @property
    def client_id(self) -> str:
        return self.platform.client_id

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


async def client_token(sso: FastAPI, platform: Platform, scope: str) -> httpx.Response:
    async with browser(sso) as http:
        return await http.post(
            "/token",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=httpx.BasicAuth(platform.client_id, platform.client_secret or ""),
        )


async def make_receiver(
    sso: FastAPI,
    *,
    scopes: tuple[str, ...] = ("ssf.manage", "ssf.read"),
    signing_alg: str = "ES256",
    asked: str | None = None,
) -> Receiver:
    platform = await make_client(
        sso,
        grant_types=["client_credentials"],
        redirect_uris=[],
        post_logout_redirect_uris=[],
        scopes=list(scopes),
        signing_alg=signing_alg,
    )
    issued = await client_token(sso, platform, asked or " ".join(scopes))
    assert issued.status_code == 200, issued.text
    return Receiver(platform, issued.json()["access_token"])


async def create_stream(sso: FastAPI, receiver: Receiver, **config: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"events_requested": ALL_EVENTS, "delivery": {"method": POLL}}
    body.update(config)
    async with browser(sso) as http:
        response = await http.post("/ssf/stream", json=body, headers=receiver.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def poll(
    sso: FastAPI, receiver: Receiver, stream: dict[str, Any], **body: Any
) -> dict[str, Any]:
    body.setdefault("returnImmediately", True)
    async with browser(sso) as http:
        response = await http.post(
            stream["delivery"]["endpoint_url"].removeprefix(ISSUER),
            json=body,
            headers=receiver.headers,
        )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def push_due(sso: FastAPI) -> int:
    """One pass of the push worker, as the running gateway's ``Runtime.every`` runs it."""
    provider = sso.state.provider
    delivered: int = await delivery.deliver_due(provider.pool, provider.keyring, provider.settings)
    return delivered


async def verify_set(sso: FastAPI, token: str, audience: str) -> dict[str, Any]:
    """A receiver's check of one SET, with joserfc only: signature against the published
    JWKS, explicit type (RFC 8417 §2.3), and the claims SSF 1.0 §4 requires."""
    async with browser(sso) as http:
        jwks = (await http.get("/jwks")).json()
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["ES256", "RS256"])
    assert decoded.header["typ"] == "secevent+jwt"
    JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": audience},
        jti={"essential": True},
        iat={"essential": True},
        txn={"essential": True},
    ).validate(decoded.claims)
    claims = dict(decoded.claims)
    assert "sub" not in claims  # SSF §4.1.2: sub_id, never sub
    assert isinstance(claims["sub_id"], dict)
    assert len(claims["events"]) == 1
    return claims


def event_of(claims: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (event_type, payload), *_ = claims["events"].items()
    return event_type, payload


@dataclass
class PushEndpoint:
    """A receiver's RFC 8935 endpoint on loopback: answers each POST with the next of
    ``statuses`` (202 once they run out), keeping what it accepted."""

    statuses: list[int] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    seen: list[dict[str, str | None]] = field(default_factory=list)
    url: str = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/events")
        async def events(request: Request) -> Response:
            body = (await request.body()).decode()
            self.seen.append(
                {
                    "content_type": request.headers.get("content-type"),
                    "authorization": request.headers.get("authorization"),
                }
            )
            status = self.statuses.pop(0) if self.statuses else 202
            if status == 400:
                return JSONResponse(
                    {"err": "invalid_audience", "description": "not meant for us"}, 400
                )
            if status == 202:
                self.accepted.append(body)
            return Response(status_code=status)

        return app


@contextlib.asynccontextmanager
async def push_endpoint(statuses: list[int] | None = None) -> AsyncIterator[PushEndpoint]:
    endpoint = PushEndpoint(statuses=list(statuses or []))
    port = free_port()
    endpoint.url = f"http://127.0.0.1:{port}/events"
    async with serving(endpoint.app(), port):
        yield endpoint
