"""What the grant repository takes and returns besides the objects Authlib handles
(``models``): what a grant allows, read without using it up, a refresh token's rotation as
asked and as done (with its owner), a token pair to write, and the access tokens a revocation
ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sso_gateway.oauth.models import RefreshToken
from sso_gateway.users.schemas import UserPublic


@dataclass(frozen=True, slots=True)
class Granted:
    """What a code or refresh token grants, read without using it up, so that a token request
    it cannot satisfy is refused while the grant stays good.

    ``usable``: not used, revoked nor expired (one that is not goes on to be consumed, which is
    where reuse is detected); ``resource``: the RFC 8707 resource the grant was authorized for
    (None: the client itself); ``scope``: what it was granted; ``code_challenge`` and
    ``code_challenge_method``: a code's PKCE challenge (RFC 7636 §4.3); ``dpop_jkt``: the key
    a refresh token is bound to (RFC 9449 §5.8), None when it is not."""

    usable: bool
    resource: str | None
    scope: str
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    dpop_jkt: str | None = None


@dataclass(frozen=True, slots=True)
class Rotation:
    """What a refresh grant asks of its token before it rotates (``GrantRepository.
    rotate_refresh_tokens``): ``scope``, the scopes asked for, all to be granted (RFC 6749
    §6); ``resource``, a resource the grant must have been authorized for (RFC 8707 §2.2;
    None: no condition); ``dpop_jkt``, the key of the request's proof (RFC 9449 §5.8; None:
    no proof), which a bound token must match."""

    token_hash: str
    client_id: str
    scope: tuple[str, ...]
    resource: str | None
    dpop_jkt: str | None


@dataclass(frozen=True, slots=True)
class RotatedRefreshToken:
    """A refresh token just marked used, with its resource owner as the same statement read
    them: ``owner``, the account (neither erased nor restricted, or the token would not have
    rotated); ``suspended``, whether their access to training platforms is suspended."""

    token: RefreshToken
    owner: UserPublic
    suspended: bool


@dataclass(frozen=True, slots=True)
class RevokedAccessToken:
    """An access token revoked while still live: what resource servers are told of it
    (``vigie.sso.token.revoked``), since they check tokens locally (RFC 9068)."""

    jti: str
    expires_at: datetime
    user_id: str | None
    client_id: str


@dataclass(frozen=True, slots=True)
class TokenPair:
    """An access token and the refresh token issued with it (``token_hash``, a keyed hash:
    the token itself is never stored), as ``GrantRepository.insert_token_pairs`` writes them;
    ``dpop_jkt``, the key the refresh token is bound to (RFC 9449 §5.8); ``replaces``, what
    the grant used up for this pair, by its keyed hash: the refresh token a refresh grant
    rotated, or the code an exchange redeemed."""

    jti: str
    access_expires_at: datetime
    token_hash: str
    family_id: str
    client_id: str
    user_id: str
    session_id: str
    scope: str
    auth_time: datetime
    expires_at: datetime
    resource: str | None = None
    dpop_jkt: str | None = None
    replaces: str | None = None
