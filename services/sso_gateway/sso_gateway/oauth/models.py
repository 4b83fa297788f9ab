"""What Authlib's server sees: clients, codes, tokens and users as plain objects, loaded from
the database before (or by a bridged call during) a grant."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oidc.core import AuthorizationCodeMixin
from joserfc.jwk import KeySet

from sso_gateway import crypto
from sso_gateway.clients.records import ClientRecord
from sso_gateway.clients.schemas import PRIVATE_KEY_JWT

SCOPES = ("openid", "profile", "email", "offline_access")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass
class OAuthClient(ClientMixin):
    client_id: str
    name: str
    redirect_uris: list[str]
    secret_hash: str | None
    public: bool
    grant_types: list[str]
    post_logout_redirect_uris: list[str]
    backchannel_logout_uri: str | None
    audiences: list[str]
    signing_alg: str
    secret_key: str = field(repr=False)
    training_platform: bool = True
    scopes: list[str] = field(default_factory=list)
    registered_auth_method: str | None = None
    """The method it registered; None for a client registered before clients chose one, which
    keeps either secret method (Basic or post)."""
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    require_par: bool = False
    """RFC 9126 §6 require_pushed_authorization_requests."""
    dpop_bound: bool = False
    """RFC 9449 §5.2 dpop_bound_access_tokens."""
    fapi: bool = False

    @classmethod
    def of(cls, stored: ClientRecord, secret_key: str) -> OAuthClient:
        return cls(
            client_id=stored.client_id,
            name=stored.name,
            redirect_uris=list(stored.redirect_uris),
            secret_hash=stored.secret_hash,
            public=stored.public,
            grant_types=list(stored.grant_types),
            post_logout_redirect_uris=list(stored.post_logout_redirect_uris),
            backchannel_logout_uri=stored.backchannel_logout_uri,
            audiences=list(stored.audiences),
            signing_alg=stored.signing_alg,
            secret_key=secret_key,
            training_platform=stored.training_platform,
            scopes=list(stored.scopes),
            registered_auth_method=stored.token_endpoint_auth_method,
            jwks=stored.jwks,
            jwks_uri=stored.jwks_uri,
            require_par=stored.require_pushed_authorization_requests,
            dpop_bound=stored.dpop_bound_access_tokens,
            fapi=stored.fapi,
        )

    @property
    def client_metadata(self) -> dict[str, Any]:
        return {"post_logout_redirect_uris": self.post_logout_redirect_uris}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # RFC 6749 §3.1.2.3: without redirect_uri, only a single registered URI is unambiguous.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        return " ".join(s for s in scope.split() if s in SCOPES or s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # RFC 9700 §4.1.3: exact string matching, no patterns.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return crypto.matches(self.secret_key, client_secret, self.secret_hash)

    @cached_property
    def public_keys(self) -> KeySet | None:
        """Its ``jwks`` registered by value, imported once per cached copy of the client
        (validated at registration: ``ClientCreate``)."""
        return None if self.jwks is None else KeySet.import_key_set(self.jwks)  # type: ignore[arg-type]

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """RFC 7591 §2: a client authenticates only as it registered, at every endpoint. A FAPI
        client never by a secret (FAPI 2.0 Security Profile §5.3.2.1: private_key_jwt or mTLS,
        and mTLS is not offered), whatever its row says."""
        if self.public:
            return method == "none"
        if self.fapi:
            return method == PRIVATE_KEY_JWT
        if self.registered_auth_method is None:
            return method in SECRET_METHODS
        return method == self.registered_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class GrantUser:
    """The resource owner of a grant, with the browser session it authenticated in."""

    id: str
    email: str
    display_name: str
    username: str | None
    roles: list[str]
    session_id: str
    auth_time: int

    def get_user_id(self) -> str:
        return self.id


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    client_id: str
    user_id: str
    session_id: str
    family_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: datetime
    resource: str | None = None
    """The RFC 8707 resource named at /authorize; None: the client itself."""

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.auth_time.timestamp())

    def get_acr(self) -> str | None:
        return None

    def get_amr(self) -> list[str] | None:
        return ["pwd"]


@dataclass
class RefreshToken(TokenMixin):
    family_id: str
    client_id: str
    user_id: str
    session_id: str
    scope: str
    auth_time: datetime
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None
    resource: str | None = None
    """The grant's RFC 8707 resource (from its authorization code); None: the client itself."""

    def check_client(self, client: OAuthClient) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.expires_at - self.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.expires_at <= datetime.now(self.expires_at.tzinfo)

    def is_revoked(self) -> bool:
        return self.revoked_at is not None or self.used_at is not None

    def get_user(self) -> str:
        return self.user_id

    def get_client(self) -> str:
        return self.client_id


@dataclass
class AccessTokenInfo(TokenMixin):
    """A JWT access token we issued, decoded, with its revocation state."""

    claims: dict[str, Any]
    revoked: bool

    def check_client(self, client: OAuthClient) -> bool:
        return bool(self.claims.get("client_id") == client.client_id)

    def get_scope(self) -> str:
        return str(self.claims.get("scope", ""))

    def get_expires_in(self) -> int:
        return int(self.claims["exp"]) - int(self.claims["iat"])

    def is_expired(self) -> bool:
        return int(self.claims["exp"]) <= int(time.time())

    def is_revoked(self) -> bool:
        return self.revoked
