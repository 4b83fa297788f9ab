"""The authorization code grant (RFC 6749 §4.1), with resource indicators (RFC 8707), pushed
authorization requests (RFC 9126) and the authorization rules of the FAPI 2.0 Security
Profile (§5.3.2.2)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, grants

from sso_gateway import crypto
from sso_gateway.config import Settings
from sso_gateway.oauth import revocation
from sso_gateway.oauth.client_auth import CONFIDENTIAL_METHODS, PUBLIC_METHOD
from sso_gateway.oauth.grants.base import (
    InvalidTargetError,
    Issuing,
    as_datetime,
    load_grant_user,
    requested_resource,
)
from sso_gateway.oauth.grants.pkce import check_code_verifier
from sso_gateway.oauth.models import (
    AuthorizationCode,
    GrantUser,
    OAuthClient,
)
from sso_gateway.oauth.repository import grant_repository
from sso_gateway.oauth.requests import Request
from sso_gateway.sessions.service import sessions
from vigie_shared.kit.db import Conn

FAPI_CODE_TTL = 60
"""FAPI 2.0 Security Profile §5.3.2.2: a FAPI client's codes live 60 seconds at most."""


class InvalidRequestUriError(OAuth2Error):
    """RFC 9101 §7: the request_uri is unknown, used, expired or another client's."""

    error = "invalid_request_uri"


class RequestNotSupportedError(OAuth2Error):
    """RFC 9101 §7: request objects (JAR, the ``request`` parameter) are not supported."""

    error = "request_not_supported"


def pushed_requests_required(client: OAuthClient, settings: Settings) -> bool:
    """RFC 9126 §4 and §6: PAR is the only way in for a client registered so, for a FAPI
    client (FAPI 2.0 Security Profile §5.3.2.2), and for every client when the server says so."""
    return client.require_par or client.fapi or settings.require_pushed_authorization_requests


class AuthorizationCodeGrant(Issuing, grants.AuthorizationCodeGrant):
    # "none" is for public clients, which prove possession with PKCE instead (RFC 7636).
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [*CONFIDENTIAL_METHODS, PUBLIC_METHOD]

    def __init__(self, request: Request, server: Any) -> None:
        super().__init__(request, server)
        self.pushing = False
        """True while the request is checked at the PAR endpoint (``validate_pushed_request``)."""
        # Before the scope, PKCE and nonce checks, once the client and its redirect URI are
        # known: a request that should have been pushed is told so first.
        self.register_hook("before_validate_authorization_request_payload", _pushed_rules)

    def family_id(self) -> str | None:
        code: AuthorizationCode = self.request.authorization_code
        return code.family_id

    def granted_resource(self) -> str | None:
        code: AuthorizationCode = self.request.authorization_code
        return code.resource

    def validate_authorization_request(self) -> str:
        """RFC 8707 §2: a ``resource`` the client may not request is refused at once, with
        ``invalid_target`` sent back to the (verified) redirect URI."""
        redirect_uri: str = super().validate_authorization_request()
        try:
            requested_resource(self.request)
        except InvalidTargetError as error:
            error.redirect_uri = redirect_uri
            raise
        return redirect_uri

    def validate_pushed_request(self) -> str:
        """RFC 9126 §2.1: a pushed request is checked as /authorize checks one (client,
        exact redirect URI, response type, scope, PKCE, resource), before it is stored."""
        self.pushing = True
        return self.validate_authorization_request()

    def save_authorization_code(self, code: str, request: Request) -> None:
        user: GrantUser = request.user
        client: OAuthClient = request.client
        settings = self.server.settings
        data = request.payload.data
        resource = requested_resource(request)
        ttl = min(settings.code_ttl, FAPI_CODE_TTL) if client.fapi else settings.code_ttl

        async def save(conn: Conn) -> None:
            async with conn.transaction():
                await grant_repository.insert_code(
                    conn,
                    code_hash=crypto.keyed_hash(settings.secret_key, code),
                    client_id=client.client_id,
                    user_id=user.id,
                    session_id=user.session_id,
                    family_id=f"f-{uuid.uuid4().hex}",
                    redirect_uri=request.payload.redirect_uri or client.redirect_uris[0],
                    scope=request.scope or "",
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                    auth_time=as_datetime(user.auth_time),
                    expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
                    resource=resource,
                )
                await sessions.signed_into(conn, user.session_id, client.client_id)

        self.server.call(save)

    def query_authorization_code(self, code: str, client: OAuthClient) -> AuthorizationCode | None:
        code_hash = crypto.keyed_hash(self.server.settings.secret_key, code)
        # The pair is written only while this code's grant is not revoked (RFC 6749 §4.1.2).
        self.request.replaces = code_hash
        self.server.check_before_use(
            self.request,
            client,
            f"code-peek:{code_hash}",
            lambda conn: grant_repository.peek_code(conn, code_hash, client.client_id),
            lambda granted: check_code_verifier(self.request, granted),
        )

        async def consume(conn: Conn) -> AuthorizationCode | None:
            consumed = await grant_repository.consume_code(conn, code_hash, client.client_id)
            if consumed is not None:
                return consumed
            # RFC 6749 §4.1.2: a code used twice SHOULD revoke what it was exchanged for.
            family = await grant_repository.used_code_family(conn, code_hash)
            if family is not None:
                await revocation.revoke_family(conn, family, "code_reused")
            return None

        return self.server.load(f"code:{code_hash}", consume)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Already marked used, atomically, when it was queried."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> GrantUser | None:
        code = authorization_code
        return load_grant_user(
            self.server,
            self.request.client,
            code.user_id,
            session_id=code.session_id,
            auth_time=code.get_auth_time(),
        )


def _pushed_rules(grant: AuthorizationCodeGrant, redirect_uri: str | None) -> None:
    """What a request must be when its client or the server requires PAR (RFC 9126 §4:
    ``invalid_request``), and what a FAPI client's request must be (FAPI 2.0 Security Profile
    §5.3.2.2). The error goes back to the redirect URI already verified against the client's
    registration, exactly, as any other (RFC 6749 §4.1.2.1): an error page would tell the
    platform nothing, and a registered URI is no open redirector.

    A request at /authorize that carries ``request_uri`` was pushed: the authorization
    endpoint resolves every ``request_uri`` against the stored pushed requests before Authlib
    sees it, and hands on the pushed parameters with it."""
    request = grant.request
    client: OAuthClient = request.client
    data = request.payload.data
    pushed = grant.pushing or "request_uri" in data
    if not pushed and pushed_requests_required(client, grant.server.settings):
        raise InvalidRequestError("pushed authorization request required")
    if not client.fapi:
        return
    if data.get("response_mode", "query") != "query":
        raise InvalidRequestError("Only response_mode=query is allowed (FAPI 2.0).")
    if grant.pushing and not request.payload.redirect_uri:
        raise InvalidRequestError("redirect_uri is required in a pushed request (FAPI 2.0).")
