"""What every grant shares: the resource a request names (RFC 8707), the resource owner of a
grant and their suspension, and how a grant hands its request to the provider to issue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import AccessDeniedError

from sso_gateway.access.repository import access_repository
from sso_gateway.oauth.hooks import ProviderHooks
from sso_gateway.oauth.models import (
    GrantUser,
    OAuthClient,
)
from sso_gateway.oauth.requests import Request
from sso_gateway.sessions.records import BrowserSession
from sso_gateway.users.repository import user_repository
from sso_gateway.users.schemas import UserPublic
from vigie_shared.kit.db import Conn

REFRESH_TOKEN_PREFIX = "vigie_rt_"  # noqa: S105 (a prefix, not a secret)
ALGORITHMS = ["ES256", "RS256"]


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the requested resource is not one this client may get tokens for."""

    error = "invalid_target"


def as_datetime(value: int) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def names_a_resource(request: Request) -> bool:
    datalist = request.payload.datalist
    return bool(datalist.get("resource") or datalist.get("audience"))


def requested_resource(request: Request, client: OAuthClient | None = None) -> str | None:
    """RFC 8707 §2: the resource a request names (``resource``, or ``audience`` as some client
    libraries spell it), checked against those registered for the client (its own id is always
    one); None when it names none. One per request: a token has one audience here.
    ``client``: the authenticated client, when Authlib has not put it on the request yet."""
    client = client or request.client
    wanted = request.payload.datalist.get("resource") or request.payload.datalist.get("audience")
    if not wanted:
        return None
    if len(wanted) > 1:
        raise InvalidTargetError("One resource per token.")
    if wanted[0] not in client.audiences and wanted[0] != client.client_id:
        raise InvalidTargetError("This client may not request that resource.")
    resource: str = wanted[0]
    return resource


def grant_user(session: BrowserSession) -> GrantUser:
    return GrantUser(
        id=session.user_id,
        email=session.email,
        display_name=session.display_name,
        username=session.username,
        roles=session.roles,
        session_id=session.id,
        auth_time=int(session.auth_time.timestamp()),
    )


class Issuing:
    """Grants pass their request to the provider, which needs it (audience, family)."""

    request: Request
    server: ProviderHooks
    GRANT_TYPE: str

    def family_id(self) -> str | None:
        return None

    def granted_resource(self) -> str | None:
        """The RFC 8707 resource the grant was authorized for (None: the client itself)."""
        return None

    def generate_token(
        self,
        user: GrantUser | None = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        client: OAuthClient = self.request.client
        # RFC 6749 §3.3: what the client is registered for, whatever it asked (Authlib's
        # client credentials grant passes the requested scope through unfiltered).
        return self.server.issue(
            self.request,
            grant_type or self.GRANT_TYPE,
            user,
            client.get_allowed_scope(scope),
            include_refresh_token,
            self.family_id(),
            self.granted_resource(),
        )


def load_grant_user(
    server: ProviderHooks,
    client: OAuthClient | None,
    user_id: str,
    *,
    session_id: str,
    auth_time: int,
) -> GrantUser | None:
    """The resource owner of a code or refresh token: None if the account is gone (erased),
    refused if their access to this platform is suspended."""
    training = client is not None and client.training_platform

    async def load(conn: Conn) -> tuple[UserPublic | None, bool]:
        # Both in one load: Authlib runs once more for them, not twice.
        account = await user_repository.get(conn, user_id)
        suspended = (
            account is not None and training and await access_repository.is_suspended(conn, user_id)
        )
        return account, suspended

    account, suspended = server.load(f"user:{user_id}:{training}", load)
    return grant_owner(client, account, suspended, session_id=session_id, auth_time=auth_time)


def grant_owner(
    client: OAuthClient | None,
    account: UserPublic | None,
    suspended: bool,
    *,
    session_id: str,
    auth_time: int,
) -> GrantUser | None:
    """``load_grant_user`` once the account and whether its access is suspended are read
    (``suspended`` matters only on a training platform, ``refuse_if_suspended``)."""
    if account is None:
        return None
    if suspended and client is not None and client.training_platform:
        raise suspended_error()
    return GrantUser(
        id=account.id,
        email=account.email,
        display_name=account.display_name,
        username=account.username,
        roles=list(account.roles),
        session_id=session_id,
        auth_time=auth_time,
    )


def refuse_if_suspended(server: ProviderHooks, user_id: str, client: OAuthClient | None) -> None:
    """A learner whose access is suspended (unpaid debt, or an accountant's decision) gets no
    token for a training platform; other platforms (payment, GDPR requests) stay reachable so
    that they can still pay and exercise their rights. RFC 6749 §4.1.2.1 ``access_denied``."""
    if client is None or not client.training_platform:
        return
    if server.call(lambda conn: access_repository.is_suspended(conn, user_id)):
        raise suspended_error()


def suspended_error() -> AccessDeniedError:
    return AccessDeniedError(description="Access to training platforms is suspended (unpaid debt).")
