from __future__ import annotations

from typing import Any, Literal, Self

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, Field, model_validator

AuthMethod = Literal["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]
"""RFC 7591 §2 token_endpoint_auth_method values the gateway accepts (RFC 7523 §2.2 for the
last; ``tls_client_auth`` is not offered)."""
PRIVATE_KEY_JWT: AuthMethod = "private_key_jwt"
NO_CLIENT_AUTH: AuthMethod = "none"
GrantType = Literal["authorization_code", "refresh_token", "client_credentials"]
ExtraScope = Literal["ssf.manage", "ssf.read"]
"""Scopes a client is registered for beyond the OpenID ones: a Shared Signals receiver's
(the names of the OpenID CAEP interoperability profile)."""


def _default_grants() -> list[GrantType]:
    return ["authorization_code", "refresh_token"]


class ClientCreate(BaseModel):
    client_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{1,63}$", examples=["moodle"])
    name: str = Field(min_length=1, max_length=200, examples=["Moodle"])
    redirect_uris: list[str] = Field(default_factory=list)
    training_platform: bool = Field(
        True, description="Suspensions block it; False keeps it reachable (payment, DPO pages)."
    )
    public: bool = Field(
        False, description="A public client (no secret; PKCE S256 required, RFC 9700 §2.1.1)."
    )
    grant_types: list[GrantType] = Field(default_factory=_default_grants)
    post_logout_redirect_uris: list[str] = Field(default_factory=list)
    backchannel_logout_uri: str | None = None
    client_uri: str | None = Field(
        None,
        pattern=r"^https?://[^\s]+$",
        description="Its home page, where a person opens it (RFC 7591 §2); a suspended learner "
        "is shown the reachable platforms that have one.",
    )
    audiences: list[str] = Field(
        default_factory=list,
        description="Resource indicators (RFC 8707) it may request with client_credentials.",
    )
    signing_alg: Literal["ES256", "RS256"] = "ES256"
    scopes: list[ExtraScope] = Field(
        default_factory=list,
        description="Scopes it may be granted beyond openid, profile, email, offline_access: "
        "ssf.manage and ssf.read make it a Shared Signals receiver.",
    )

    token_endpoint_auth_method: AuthMethod | None = Field(
        None,
        description="How it authenticates at the token endpoint (RFC 7591 §2). Default: none "
        "for a public client, client_secret_basic or _post otherwise; private_key_jwt for a FAPI "
        "client.",
    )
    jwks: dict[str, Any] | None = Field(
        None, description="Its public keys (a JWK Set) for private_key_jwt."
    )
    jwks_uri: str | None = Field(
        None,
        pattern=r"^https?://[^\s]+$",
        description="Where its public keys are published, for private_key_jwt.",
    )
    require_pushed_authorization_requests: bool = Field(
        False, description="Authorization requests only by PAR (RFC 9126 §6)."
    )
    dpop_bound_access_tokens: bool = Field(
        False, description="Every access token bound to a DPoP key (RFC 9449 §5.2)."
    )
    fapi: bool = Field(
        False,
        description="FAPI 2.0 Security Profile: private_key_jwt, PAR, PKCE S256, DPoP-bound "
        "tokens, ES256.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.fapi:
            # FAPI 2.0 Security Profile §5.3.2.1 (confidential clients only), §5.3.2.1-2
            # (private_key_jwt or mTLS; mTLS is not offered), §5.3.2.2 (PAR), §5.3.1.2
            # (sender-constrained tokens), §5.4.1 (PS256, ES256 or EdDSA: not RS256).
            if self.public:
                raise ValueError("a FAPI client is confidential (not public)")
            if self.token_endpoint_auth_method not in (None, "private_key_jwt"):
                raise ValueError("a FAPI client authenticates with private_key_jwt")
            if self.signing_alg == "RS256":
                raise ValueError("a FAPI client's tokens are signed with ES256, not RS256")
            self.token_endpoint_auth_method = PRIVATE_KEY_JWT
            self.require_pushed_authorization_requests = True
            self.dpop_bound_access_tokens = True
        if self.public and self.token_endpoint_auth_method not in (None, "none"):
            raise ValueError("a public client has no credentials: token_endpoint_auth_method none")
        if not self.public and self.token_endpoint_auth_method == NO_CLIENT_AUTH:
            raise ValueError("token_endpoint_auth_method none is for public clients")
        keyed = self.token_endpoint_auth_method == PRIVATE_KEY_JWT
        if keyed and (self.jwks is None) == (self.jwks_uri is None):
            # RFC 7591 §2: jwks and jwks_uri MUST NOT both be present.
            raise ValueError("private_key_jwt needs its keys: jwks or jwks_uri, one of them")
        if not keyed and (self.jwks is not None or self.jwks_uri is not None):
            raise ValueError("jwks and jwks_uri are for private_key_jwt")
        if self.jwks is not None:
            try:
                keys = KeySet.import_key_set(self.jwks)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise ValueError(f"jwks is not a JWK Set: {exc}") from exc
            if any(key.is_private for key in keys.keys):
                raise ValueError("jwks must hold public keys only")
        return self


class ClientCreated(BaseModel):
    client_id: str
    client_secret: str | None = Field(
        None, description="Shown once; only a keyed hash of it is stored."
    )
