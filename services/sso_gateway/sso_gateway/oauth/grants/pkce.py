"""PKCE (RFC 7636), S256 only and required of every client (RFC 9700 §2.1.1)."""

from __future__ import annotations

from typing import ClassVar

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import (
    CODE_VERIFIER_PATTERN,
    compare_s256_code_challenge,
)

from sso_gateway.oauth.grants.base import Issuing
from sso_gateway.oauth.models import AuthorizationCode
from sso_gateway.oauth.records import Granted
from sso_gateway.oauth.requests import Request


def check_code_verifier(request: Request, granted: Granted) -> None:
    """RFC 7636 §4.6, before the code is used up: a wrong or missing ``code_verifier`` fails
    and the code stays good for the client that holds the right one (Authlib checks it again
    after, on the consumed code). The same errors as Authlib's own check."""
    verifier = request.form.get("code_verifier")
    if not granted.code_challenge:
        if verifier:
            # RFC 9700 §4.8: a verifier for a code issued without a challenge is refused.
            raise InvalidRequestError("A code_verifier was sent for a code without challenge.")
        return
    if not verifier:
        raise InvalidRequestError("Missing 'code_verifier'")
    if not CODE_VERIFIER_PATTERN.match(verifier):
        raise InvalidRequestError("Invalid 'code_verifier'")
    if not compare_s256_code_challenge(verifier, granted.code_challenge):
        raise InvalidGrantError("Code challenge failed.")


class S256Challenge(CodeChallenge):
    """PKCE with S256 only (RFC 9700 §2.1.1: ``plain`` SHOULD NOT be used; we refuse it), and
    required of every client: FAPI 2.0 Security Profile §5.3.2.2 asks no more of a FAPI
    client. A pushed request is checked here when it is pushed (RFC 9126 §2.1)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Issuing, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            # RFC 7636 §4.3: a missing method means "plain", which we do not support.
            raise InvalidRequestError("Only code_challenge_method=S256 is supported.")
        if not data.get("code_challenge"):
            # RFC 9700 §2.1.1: PKCE for every client, confidential ones too, as the defence
            # against code injection (a stolen code replayed in another session).
            raise InvalidRequestError("PKCE (code_challenge with S256) is required.")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: AuthorizationCode) -> str | None:
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(
        self, authorization_code: AuthorizationCode
    ) -> str | None:
        return authorization_code.code_challenge_method
