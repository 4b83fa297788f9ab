"""The portal as an OpenID Connect relying party of the gateway (a confidential client).

Authorization code flow with PKCE ``S256`` (RFC 7636; RFC 9700 §2.1.1) through Authlib's
client, ``client_secret_basic`` at the token endpoint; the ID token is verified with joserfc
against the issuer's JWKS (OIDC Core §3.1.3.7: signature, ``iss``, ``aud``, ``exp``, and the
``nonce`` of this login, §3.1.2.1). The portal needs the person's identity only, not an API:
the access token is not used."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from vigie_shared.demo_payment.config import PaymentSettings
from vigie_shared.kit.oidc import ALGORITHMS

SCOPE = "openid profile"


class LoginFailed(Exception):
    """The code flow did not end in a verified identity."""


@dataclass(frozen=True)
class LoginStart:
    url: str
    pending: dict[str, str]
    """What the callback needs back: state, PKCE verifier, nonce."""


@dataclass(frozen=True)
class Identity:
    subject: str
    name: str


class RelyingParty:
    def __init__(self, settings: PaymentSettings, *, discovery_ttl: float = 300.0) -> None:
        self._settings = settings
        self.issuer = settings.issuer.rstrip("/")
        self._discovery: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._ttl = discovery_ttl
        self._lock = asyncio.Lock()

    @property
    def configured(self) -> bool:
        return bool(self._settings.oidc_client_secret)

    async def _metadata(self) -> dict[str, Any]:
        """OIDC Discovery 1.0 §4, cached; the document must name our issuer (§4.3)."""
        async with self._lock:
            if self._discovery is None or time.monotonic() - self._fetched_at > self._ttl:
                try:
                    async with httpx.AsyncClient(timeout=5.0) as http:
                        got = await http.get(f"{self.issuer}/.well-known/openid-configuration")
                        got.raise_for_status()
                        document: dict[str, Any] = got.json()
                except (httpx.HTTPError, ValueError) as exc:
                    raise LoginFailed(f"the gateway cannot be reached: {exc}") from exc
                if str(document.get("issuer", "")).rstrip("/") != self.issuer:
                    raise LoginFailed("the discovery document names another issuer")
                self._discovery, self._fetched_at = document, time.monotonic()
            return self._discovery

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self._settings.oidc_client_id,
            client_secret=self._settings.oidc_client_secret,
            scope=SCOPE,
            redirect_uri=self._settings.redirect_uri,
            code_challenge_method="S256",
            timeout=10.0,
        )

    async def start(self, *, lang: str) -> LoginStart:
        endpoint = (await self._metadata())["authorization_endpoint"]
        verifier, nonce = generate_token(48), generate_token(24)
        async with self._client() as client:
            url, state = client.create_authorization_url(
                endpoint, code_verifier=verifier, nonce=nonce, ui_locales=lang
            )
        return LoginStart(url=url, pending={"state": state, "verifier": verifier, "nonce": nonce})

    async def finish(self, *, callback_url: str, pending: dict[str, str]) -> Identity:
        metadata = await self._metadata()
        try:
            async with self._client() as client:
                token = await client.fetch_token(
                    metadata["token_endpoint"],
                    authorization_response=callback_url,
                    code_verifier=pending["verifier"],
                    state=pending["state"],
                )
            async with httpx.AsyncClient(timeout=5.0) as http:
                keys = KeySet.import_key_set((await http.get(metadata["jwks_uri"])).json())
        except Exception as exc:  # Authlib raises its own OAuth errors, and httpx's
            raise LoginFailed(f"the code could not be exchanged: {exc}") from exc
        try:
            decoded = jwt.decode(str(token.get("id_token", "")), keys, algorithms=list(ALGORITHMS))
            jwt.JWTClaimsRegistry(
                leeway=30,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self._settings.oidc_client_id},
                exp={"essential": True},
                sub={"essential": True},
                nonce={"essential": True, "value": pending["nonce"]},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise LoginFailed(f"the ID token could not be verified: {exc}") from exc
        claims = decoded.claims
        subject = str(claims["sub"])
        return Identity(
            subject=subject,
            name=str(claims.get("name") or claims.get("preferred_username") or subject),
        )
