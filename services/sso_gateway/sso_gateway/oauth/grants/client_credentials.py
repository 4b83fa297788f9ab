"""The client credentials grant (RFC 6749 §4.4): a service's own token."""

from __future__ import annotations

from typing import ClassVar

from authlib.oauth2.rfc6749 import grants

from sso_gateway.oauth.client_auth import CONFIDENTIAL_METHODS
from sso_gateway.oauth.grants.base import Issuing


class ClientCredentialsGrant(Issuing, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = CONFIDENTIAL_METHODS
