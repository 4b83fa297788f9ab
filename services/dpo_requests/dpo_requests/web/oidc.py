"""The pages as an OpenID Connect relying party of the sso_gateway (a confidential client).

Authorization code flow with PKCE ``S256`` (RFC 7636, RFC 9700 §2.1.1) through Authlib's
client; the ID token is verified against the issuer's JWKS (OIDC Core §3.1.3.7: ``iss``,
``aud``, ``exp``, ``nonce``), and the roles are read from the access token, itself verified as
an RFC 9068 token for this client by the kit's :class:`TokenVerifier`.
"""

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

from dpo_requests.config import Settings
from vigie_shared.kit.oidc import ALGORITHMS, InvalidToken, TokenVerifier

CALLBACK_PATH = "/pages/auth/callback"
SCOPE = "openid profile email"


class LoginFailed(Exception):
    """The code flow did not end in a verified identity (told to the person as such)."""


@dataclass(frozen=True)
class LoginStart:
    url: str
    state: dict[str, str]


@dataclass(frozen=True)
class Identity:
    subject: str
    name: str
    email: str | None
    roles: frozenset[str]
    id_token: str
    sid: str | None = None
    """The gateway's session (OIDC Front/Back-Channel Logout ``sid`` claim)."""


class RelyingParty:
    def __init__(self, settings: Settings, *, discovery_ttl: float = 300.0) -> None:
        self.settings = settings
        self.issuer = settings.issuer.rstrip("/")
        self.redirect_uri = settings.public_url.rstrip("/") + CALLBACK_PATH
        self._discovery: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._ttl = discovery_ttl
        self._lock = asyncio.Lock()
        self.access_tokens = TokenVerifier(self.issuer, settings.oidc_client_id)

    @property
    def configured(self) -> bool:
        return bool(self.settings.oidc_client_secret)

    async def discovery(self) -> dict[str, Any]:
        """OIDC Discovery 1.0 §4, cached; the document must name our issuer (§4.3)."""
        async with self._lock:
            if self._discovery is None or time.monotonic() - self._fetched_at > self._ttl:
                try:
                    async with httpx.AsyncClient(timeout=5.0) as http:
                        got = await http.get(f"{self.issuer}/.well-known/openid-configuration")
                        got.raise_for_status()
                        document: dict[str, Any] = got.json()
                except (httpx.HTTPError, ValueError) as exc:
                    raise LoginFailed(f"the SSO cannot be reached: {exc}") from exc
                if str(document.get("issuer", "")).rstrip("/") != self.issuer:
                    raise LoginFailed("the discovery document names another issuer")
                self._discovery, self._fetched_at = document, time.monotonic()
            return self._discovery

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.settings.oidc_client_id,
            client_secret=self.settings.oidc_client_secret,
            scope=SCOPE,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=10.0,
        )

    async def start(self, *, next_path: str, lang: str) -> LoginStart:
        endpoints = await self.discovery()
        verifier, nonce = generate_token(48), generate_token(24)
        async with self._client() as client:
            url, state = client.create_authorization_url(
                endpoints["authorization_endpoint"],
                code_verifier=verifier,
                nonce=nonce,
                ui_locales=lang,
            )
        return LoginStart(
            url=url,
            state={"state": state, "verifier": verifier, "nonce": nonce, "next": next_path},
        )

    async def finish(self, *, callback_url: str, pending: dict[str, str]) -> Identity:
        endpoints = await self.discovery()
        try:
            async with self._client() as client:
                token = await client.fetch_token(
                    endpoints["token_endpoint"],
                    authorization_response=callback_url,
                    code_verifier=pending["verifier"],
                    state=pending["state"],
                )
            async with httpx.AsyncClient(timeout=5.0) as http:
                keys = KeySet.import_key_set((await http.get(endpoints["jwks_uri"])).json())
        except Exception as exc:  # Authlib raises its own OAuth errors and httpx's
            raise LoginFailed(f"the code could not be exchanged: {exc}") from exc
        id_token = str(token.get("id_token", ""))
        try:
            decoded = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
            jwt.JWTClaimsRegistry(
                leeway=30,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.settings.oidc_client_id},
                exp={"essential": True},
                sub={"essential": True},
                nonce={"essential": True, "value": pending["nonce"]},
            ).validate(decoded.claims)
            access = await self.access_tokens.verify(str(token.get("access_token", "")))
        except (JoseError, ValueError, InvalidToken) as exc:
            raise LoginFailed(f"the tokens could not be verified: {exc}") from exc
        claims = decoded.claims
        if access.subject != claims["sub"]:
            raise LoginFailed("the access token names another person than the ID token")
        email = claims.get("email")
        return Identity(
            subject=str(claims["sub"]),
            name=str(claims.get("name") or claims.get("preferred_username") or claims["sub"]),
            email=str(email) if email else None,
            roles=access.roles,
            id_token=id_token,
            sid=str(claims["sid"]) if claims.get("sid") else None,
        )

    async def logout_url(self, *, id_token: str | None, post_logout: str) -> str | None:
        """RP-Initiated Logout 1.0 §2: end the SSO session too, and come back here."""
        try:
            endpoint = (await self.discovery()).get("end_session_endpoint")
        except LoginFailed:
            return None
        if not endpoint:
            return None
        params = {
            "post_logout_redirect_uri": post_logout,
            "client_id": self.settings.oidc_client_id,
        }
        if id_token:
            params["id_token_hint"] = id_token
        return str(httpx.URL(str(endpoint), params=params))
