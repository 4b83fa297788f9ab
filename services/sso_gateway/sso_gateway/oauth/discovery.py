"""Provider metadata (OIDC Discovery 1.0 §3, RFC 8414 §2): what this provider supports, and
only that; a relying party configures itself from it."""

from __future__ import annotations

import functools
import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sso_gateway.deps import provider_of
from sso_gateway.oauth.client_auth import (
    ASSERTION_ALGORITHMS,
    CONFIDENTIAL_METHODS,
    PUBLIC_METHOD,
)
from sso_gateway.oauth.http import JSON_SCHEMA
from sso_gateway.oauth.models import SCOPES
from sso_gateway.signals.resource import SCOPES as SIGNAL_SCOPES
from vigie_shared.kit.dpop import DPOP_SIGNING_ALG_VALUES_SUPPORTED

router = APIRouter(tags=["oidc"])


@router.get(
    "/.well-known/openid-configuration",
    summary="OIDC Discovery 1.0 §3",
    response_class=Response,
    responses={200: {"description": "Provider metadata", **JSON_SCHEMA}},
)
async def discovery(request: Request) -> Response:
    # Fixed for the life of the process: encoded once, not at every relying party's start.
    settings = provider_of(request).settings
    body = _discovery_document(
        settings.issuer.rstrip("/"), settings.require_pushed_authorization_requests
    )
    return Response(body, media_type="application/json")


@functools.cache
def _discovery_document(issuer: str, require_pushed_authorization_requests: bool) -> bytes:
    metadata = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "end_session_endpoint": f"{issuer}/logout",
        # RFC 9126 §5.
        "pushed_authorization_request_endpoint": f"{issuer}/par",
        "require_pushed_authorization_requests": require_pushed_authorization_requests,
        "scopes_supported": [*SCOPES, *SIGNAL_SCOPES],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "userinfo_signing_alg_values_supported": ["none"],
        # RFC 8414 §2: each endpoint's client authentication, and the algorithms a
        # private_key_jwt assertion may be signed with (RFC 7523 §2.2).
        "token_endpoint_auth_methods_supported": [*CONFIDENTIAL_METHODS, PUBLIC_METHOD],
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": list(CONFIDENTIAL_METHODS),
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": [*CONFIDENTIAL_METHODS, PUBLIC_METHOD],
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "code_challenge_methods_supported": ["S256"],
        # RFC 9449 §5.1.
        "dpop_signing_alg_values_supported": list(DPOP_SIGNING_ALG_VALUES_SUPPORTED),
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
            "sid",
            "name",
            "preferred_username",
            "email",
            "email_verified",
        ],
        "ui_locales_supported": ["fr", "en"],
        "request_parameter_supported": False,
        # OIDC Discovery §3: request_uri here means a request object fetched by reference
        # (OIDC Core §6.2), which the gateway never does; PAR's request_uri is advertised by
        # pushed_authorization_request_endpoint above.
        "request_uri_parameter_supported": False,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        # RFC 9207 §3: every authorization response carries iss (``endpoints._to_client``).
        "authorization_response_iss_parameter_supported": True,
    }
    return json.dumps(metadata).encode()
