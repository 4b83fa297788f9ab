"""How a client authenticates (RFC 6749 §2.3): the methods each endpoint accepts, and which
clients a token request may name before any of them is verified (so that they are loaded
before Authlib runs on the event loop)."""

from __future__ import annotations

import json

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from joserfc import jws
from joserfc.errors import JoseError

from sso_gateway.oauth.requests import Request

CONFIDENTIAL_METHODS = ["client_secret_basic", "client_secret_post"]
"""What a confidential client may use at the token, introspection and revocation endpoints;
each client is held to its own registered method (``OAuthClient.check_endpoint_auth_method``)."""
PUBLIC_METHOD = "none"
"""A public client has no credentials (RFC 6749 §2.1); it proves possession by PKCE."""

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
"""RFC 7523 §2.2 ``client_assertion_type``."""


def basic_client_id(request: Request) -> str | None:
    client_id: str | None = extract_basic_authorization(request.headers)[0]
    return client_id


def assertion_subject(request: Request) -> str | None:
    """The client a ``client_assertion`` claims to be (RFC 7523 §3: ``sub`` is its client_id),
    read *without* verifying it: only to know which registration to load; the assertion is
    verified against that client's keys afterwards."""
    if request.form.get("client_assertion_type") != ASSERTION_TYPE:
        return None
    assertion = request.form.get("client_assertion")
    if not assertion:
        return None
    try:
        claims = json.loads(jws.extract_compact(assertion.encode()).payload)
    except (JoseError, ValueError, UnicodeDecodeError):
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return sub if isinstance(sub, str) else None


def candidate_client_ids(request: Request) -> set[str]:
    """Every client a request names, by whichever means (Basic, body, assertion)."""
    named = (basic_client_id(request), request.form.get("client_id"), assertion_subject(request))
    return {c for c in named if c}
