from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

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


class ClientCreated(BaseModel):
    client_id: str
    client_secret: str | None = Field(
        None, description="Shown once; only a keyed hash of it is stored."
    )
