"""What the clients repository returns: a platform's registration as stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """A registered platform (RFC 7591 §2 metadata, as the gateway keeps it)."""

    client_id: str
    name: str
    redirect_uris: list[str]
    training_platform: bool
    secret_hash: str | None = field(repr=False)
    """A keyed hash of the client secret; None for a public client (RFC 6749 §2.1)."""
    public: bool
    grant_types: list[str]
    post_logout_redirect_uris: list[str]
    backchannel_logout_uri: str | None
    audiences: list[str]
    """The RFC 8707 resources it may ask tokens for, besides itself."""
    signing_alg: str
    scopes: list[str]
    """Scopes it may be granted beyond the OpenID ones (the SSF API's ``ssf.manage``...)."""
    token_endpoint_auth_method: str | None
    """RFC 7591 §2; None: ``none`` for a public client, a secret (Basic or post) otherwise."""
    jwks: dict[str, Any] | None
    """Its public keys by value (a JWK Set), for ``private_key_jwt``."""
    jwks_uri: str | None
    """Its public keys by reference, for ``private_key_jwt``."""
    require_pushed_authorization_requests: bool
    """RFC 9126 §6: its authorization requests must be pushed first."""
    dpop_bound_access_tokens: bool
    """RFC 9449 §5.2: its access tokens must be DPoP-bound."""
    fapi: bool
    """FAPI 2.0 Security Profile: all of the above, enforced together."""
