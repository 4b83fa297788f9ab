"""The refresh token grant (RFC 6749 §6), rotating (RFC 9700 §4.14.2)."""

from __future__ import annotations

from typing import ClassVar

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.util import scope_to_list

from sso_gateway import crypto
from sso_gateway.oauth import dpop, revocation
from sso_gateway.oauth.client_auth import CONFIDENTIAL_METHODS, PUBLIC_METHOD
from sso_gateway.oauth.grants.base import (
    InvalidTargetError,
    Issuing,
    grant_owner,
    load_grant_user,
    requested_resource,
)
from sso_gateway.oauth.models import (
    GrantUser,
    OAuthClient,
    RefreshToken,
)
from sso_gateway.oauth.records import Granted, RotatedRefreshToken, Rotation
from sso_gateway.oauth.repository import grant_repository
from sso_gateway.oauth.requests import Request
from sso_gateway.sessions.service import idle_window
from vigie_shared.kit.db import Conn
from vigie_shared.kit.secrets import same


def check_refresh_scope(request: Request, granted: Granted) -> None:
    """RFC 6749 §6: a refresh may ask for the granted scope or less, never more
    (``invalid_scope``), refused before the refresh token is rotated."""
    wanted = scope_to_list(request.payload.scope) or []
    if wanted and not set(scope_to_list(granted.scope) or []).issuperset(wanted):
        raise InvalidScopeError()


def check_refresh_binding(request: Request, granted: Granted) -> None:
    """RFC 9449 §5.8: a refresh token bound to a key is used only with a proof of that key
    (``invalid_dpop_proof``), refused before it is rotated, so the holder keeps it."""
    if granted.dpop_jkt is None:
        return
    proof = dpop.proof_of(request)
    if proof is None or not same(proof.jkt, granted.dpop_jkt):
        raise dpop.InvalidDPoPProofError("This refresh token is bound to another DPoP key.")


def check_refresh(request: Request, granted: Granted) -> None:
    check_refresh_scope(request, granted)
    check_refresh_binding(request, granted)


class RefreshTokenGrant(Issuing, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [*CONFIDENTIAL_METHODS, PUBLIC_METHOD]
    # RFC 9700 §4.14.2: refresh tokens rotate; each is good for one use.
    INCLUDE_NEW_REFRESH_TOKEN = True
    rotation: RotatedRefreshToken | None = None

    def family_id(self) -> str | None:
        token: RefreshToken = self.request.refresh_token
        return token.family_id

    def granted_resource(self) -> str | None:
        token: RefreshToken = self.request.refresh_token
        return token.resource

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        client: OAuthClient = self.request.client
        token_hash = crypto.keyed_hash(self.server.settings.secret_key, refresh_token)
        # The new pair is written only while this token is not revoked (RFC 9700 §4.14.2).
        self.request.replaces = token_hash
        self.rotation = self.rotate_at_once(token_hash, client)
        if self.rotation is not None:
            return self.rotation.token
        # Not rotated, nothing used up: the steps below, one rule each, say why, or rotate it
        # after all (that statement's conditions are never looser than ``check_before_use``;
        # stricter only for a stored scope not separated by single spaces).
        self.server.check_before_use(
            self.request,
            client,
            f"refresh-peek:{token_hash}",
            lambda conn: grant_repository.peek_refresh_token(conn, token_hash, client.client_id),
            lambda granted: check_refresh(self.request, granted),
        )

        async def consume(conn: Conn) -> RefreshToken | None:
            rotated = await grant_repository.consume_refresh_token(
                conn, token_hash, client.client_id, idle_window(self.server.settings)
            )
            if rotated is not None:
                return rotated
            known = await grant_repository.get_refresh_token(conn, token_hash)
            if known is not None and known.used_at is not None and client.fapi:
                # FAPI 2.0 Security Profile §5.3.2.1: a FAPI client (authenticated by its
                # key, its tokens sender-constrained) that lost the answer may retry with the
                # token it sent, as long as the one that answer carried was never used.
                retried = await grant_repository.retry_rotation(
                    conn, token_hash, client.client_id, idle_window(self.server.settings)
                )
                if retried is not None:
                    return retried
            if known is not None and known.used_at is not None:
                # RFC 9700 §4.14.2: a rotated-out token presented again means one of two
                # parties holds a stolen copy; revoke the whole family.
                await revocation.revoke_family(conn, known.family_id, "refresh_token_reused")
            return None

        return self.server.load(f"refresh:{token_hash}", consume)

    def rotate_at_once(self, token_hash: str, client: OAuthClient) -> RotatedRefreshToken | None:
        """A refresh that its token grants, rotated with its owner read in one load of one
        statement (Authlib then runs twice in all): what ``check_before_use`` checks first
        (the resource, ``check_refresh``) is a condition of the rotation, so that a request
        that fails one of them leaves the token unused. None when it did not rotate: a
        refused request, a reuse, a FAPI retry, an ended session, an unknown token."""
        try:
            resource = requested_resource(self.request, client)
        except InvalidTargetError:
            # Refused only if the token is this client's (else ``invalid_grant``): the long
            # way tells.
            return None
        scope = scope_to_list(self.request.payload.scope) or []
        # RFC 8707 §2.2: the client itself may always be named, another resource only if
        # the grant was authorized for it.
        other = None if resource in (None, client.client_id) else resource
        proof = dpop.proof_of(self.request)
        asked = Rotation(
            token_hash=token_hash,
            client_id=client.client_id,
            scope=tuple(scope),
            resource=other,
            dpop_jkt=None if proof is None else proof.jkt,
        )
        idle = idle_window(self.server.settings)

        async def rotate(conn: Conn) -> RotatedRefreshToken | None:
            (rotated,) = await grant_repository.rotate_refresh_tokens(conn, idle, [asked])
            return rotated

        # On the loop, with the rotations of concurrent refresh grants (``RotationWriter``).
        return self.server.load(
            f"refresh-rotate:{token_hash}",
            rotate,
            grouped=lambda: self.server.rotations.write(asked),
        )

    def authenticate_user(self, refresh_token: RefreshToken) -> GrantUser | None:
        token = refresh_token
        if self.rotation is not None:
            return grant_owner(
                self.request.client,
                self.rotation.owner,
                self.rotation.suspended,
                session_id=token.session_id,
                auth_time=int(token.auth_time.timestamp()),
            )
        return load_grant_user(
            self.server,
            self.request.client,
            token.user_id,
            session_id=token.session_id,
            auth_time=int(token.auth_time.timestamp()),
        )

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        """Already marked used, atomically, when it was authenticated."""
