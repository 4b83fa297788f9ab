"""The pages as an OpenID Connect relying party of the sso_gateway (a confidential client).

The login itself (authorization code with PKCE, the ID token verified against the issuer's
JWKS) is the kit's relying party (``kit.oidc_rp``). What the pages add: the roles are read from
the access token, itself verified as an RFC 9068 token for this client by the kit's
:class:`TokenVerifier`, and it must name the same person as the ID token.
"""

from __future__ import annotations

from dataclasses import dataclass

from joserfc.errors import JoseError

from dpo_requests.config import Settings
from vigie_shared.kit import oidc_rp
from vigie_shared.kit.oidc import InvalidToken, TokenVerifier
from vigie_shared.kit.oidc_rp import LoginFailed, LoginStart

__all__ = ["CALLBACK_PATH", "SCOPE", "Identity", "LoginFailed", "LoginStart", "RelyingParty"]

CALLBACK_PATH = "/pages/auth/callback"
SCOPE = "openid profile email"


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
        self.login = oidc_rp.RelyingParty(
            issuer=settings.issuer,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            redirect_uri=settings.public_url.rstrip("/") + CALLBACK_PATH,
            scope=SCOPE,
            discovery_ttl=discovery_ttl,
        )
        self.access_tokens = TokenVerifier(self.login.issuer, settings.oidc_client_id)

    @property
    def configured(self) -> bool:
        return self.login.configured

    async def start(self, *, next_path: str, lang: str) -> LoginStart:
        started = await self.login.start(lang=lang)
        return LoginStart(url=started.url, state={**started.state, "next": next_path})

    async def finish(self, *, callback_url: str, pending: dict[str, str]) -> Identity:
        signed_in = await self.login.finish(callback_url=callback_url, pending=pending)
        try:
            access = await self.access_tokens.verify(signed_in.access_token)
        except (JoseError, ValueError, InvalidToken) as exc:
            raise LoginFailed(f"the access token could not be verified: {exc}") from exc
        if access.subject != signed_in.subject:
            raise LoginFailed("the access token names another person than the ID token")
        claims = signed_in.claims
        email = claims.get("email")
        return Identity(
            subject=signed_in.subject,
            name=signed_in.name,
            email=str(email) if email else None,
            roles=access.roles,
            id_token=signed_in.id_token,
            sid=str(claims["sid"]) if claims.get("sid") else None,
        )

    async def logout_url(self, *, id_token: str | None, post_logout: str) -> str | None:
        """RP-Initiated Logout 1.0 §2: end the SSO session too, and come back here."""
        return await self.login.logout_url(id_token=id_token, post_logout=post_logout)
