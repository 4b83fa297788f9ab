"""What the clients repository returns: a platform's registration as stored."""

from __future__ import annotations

from dataclasses import dataclass, field


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
