"""Relying-party side of the SSO: log a person in at the gateway as a confidential client.

Authorization code flow with PKCE ``S256`` (RFC 7636; RFC 9700 §2.1.1) through Authlib's
client, ``client_secret_basic`` at the token endpoint; the ID token is verified with joserfc
against the issuer's JWKS (OIDC Core §3.1.3.7: signature, ``iss``, ``aud``, ``exp``, ``sub``,
and the ``nonce`` of this login, §3.1.2.1). What the login opens (a cookie, a server-side
session) and what else it checks (the roles of the access token) is the caller's: this module
hands back the verified claims and the tokens. The resource-server side is ``kit.oidc``."""

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

from vigie_shared.kit.oidc import ALGORITHMS


class LoginFailed(Exception):
    """The code flow did not end in a verified identity."""


@dataclass(frozen=True)
class LoginStart:
    url: str
    state: dict[str, str]
    """The login state the callback needs back (kept in a cookie by the caller): the OAuth
    ``state``, the PKCE verifier and the nonce, and whatever the caller adds to them."""


@dataclass(frozen=True)
class SignedIn:
    """A login the issuer vouched for: the ID token's verified claims, and the raw tokens."""

    claims: dict[str, Any]
    id_token: str
    access_token: str

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    @property
    def name(self) -> str:
        """What to call the person (OIDC Core §5.1 ``name``, else ``preferred_username``)."""
        return str(self.claims.get("name") or self.claims.get("preferred_username") or self.subject)


class RelyingParty:
    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        redirect_uri: str,
        scope: str,
        discovery_ttl: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``transport``: how the issuer is reached (the network unless a test says otherwise)."""
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self._scope = scope
        self._discovery: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._ttl = discovery_ttl
        self._lock = asyncio.Lock()
        self._transport = transport

    @property
    def configured(self) -> bool:
        return bool(self._client_secret)

    async def discovery(self) -> dict[str, Any]:
        """OIDC Discovery 1.0 §4, cached; the document must name our issuer (§4.3)."""
        async with self._lock:
            if self._discovery is None or time.monotonic() - self._fetched_at > self._ttl:
                try:
                    async with httpx.AsyncClient(timeout=5.0, transport=self._transport) as http:
                        got = await http.get(f"{self.issuer}/.well-known/openid-configuration")
                        got.raise_for_status()
                        document: dict[str, Any] = got.json()
                except (httpx.HTTPError, ValueError) as exc:
                    raise LoginFailed(f"the issuer cannot be reached: {exc}") from exc
                if str(document.get("issuer", "")).rstrip("/") != self.issuer:
                    raise LoginFailed("the discovery document names another issuer")
                self._discovery, self._fetched_at = document, time.monotonic()
            return self._discovery

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self._client_secret,
            scope=self._scope,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=10.0,
            transport=self._transport,
        )

    async def start(self, *, lang: str) -> LoginStart:
        """The authorization request to send the person to (``ui_locales``: OIDC Core §3.1.2.1),
        and what to keep until the callback."""
        endpoint = (await self.discovery())["authorization_endpoint"]
        verifier, nonce = generate_token(48), generate_token(24)
        async with self._client() as client:
            url, state = client.create_authorization_url(
                endpoint, code_verifier=verifier, nonce=nonce, ui_locales=lang
            )
        return LoginStart(url=url, state={"state": state, "verifier": verifier, "nonce": nonce})

    async def finish(self, *, callback_url: str, pending: dict[str, str]) -> SignedIn:
        """Exchange the callback's code (with the PKCE verifier and the state kept by
        :meth:`start`) and verify the ID token it brings."""
        metadata = await self.discovery()
        try:
            async with self._client() as client:
                token = await client.fetch_token(
                    metadata["token_endpoint"],
                    authorization_response=callback_url,
                    code_verifier=pending["verifier"],
                    state=pending["state"],
                )
            async with httpx.AsyncClient(timeout=5.0, transport=self._transport) as http:
                keys = KeySet.import_key_set((await http.get(metadata["jwks_uri"])).json())
        except Exception as exc:  # Authlib raises its own OAuth errors, and httpx's
            raise LoginFailed(f"the code could not be exchanged: {exc}") from exc
        id_token = str(token.get("id_token", ""))
        try:
            decoded = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
            jwt.JWTClaimsRegistry(
                leeway=30,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                exp={"essential": True},
                sub={"essential": True},
                nonce={"essential": True, "value": pending["nonce"]},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise LoginFailed(f"the ID token could not be verified: {exc}") from exc
        return SignedIn(
            claims=dict(decoded.claims),
            id_token=id_token,
            access_token=str(token.get("access_token", "")),
        )

    async def logout_url(self, *, id_token: str | None, post_logout: str) -> str | None:
        """RP-Initiated Logout 1.0 §2: end the SSO session too, and come back to
        ``post_logout``; None when the issuer offers no such endpoint or cannot be reached."""
        try:
            endpoint = (await self.discovery()).get("end_session_endpoint")
        except LoginFailed:
            return None
        if not endpoint:
            return None
        params = {"post_logout_redirect_uri": post_logout, "client_id": self.client_id}
        if id_token:
            params["id_token_hint"] = id_token
        return str(httpx.URL(str(endpoint), params=params))
