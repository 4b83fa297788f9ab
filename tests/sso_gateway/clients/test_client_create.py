"""What a registration may say about how a client authenticates and which profile it follows:
every inconsistent combination is refused before anything is stored."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc.jwk import ECKey
from pydantic import ValidationError

from sso_gateway.clients.schemas import ClientCreate

KEY = ECKey.generate_key("P-256", parameters={"kid": "k1"})
PUBLIC_JWKS = {"keys": [KEY.as_dict(private=False)]}


def create(**fields: Any) -> ClientCreate:
    return ClientCreate(client_id="portal", name="Portal", **fields)


def test_a_fapi_client_gets_the_whole_profile() -> None:
    client = create(fapi=True, jwks_uri="https://portal.example/jwks")
    assert client.token_endpoint_auth_method == "private_key_jwt"
    assert client.require_pushed_authorization_requests
    assert client.dpop_bound_access_tokens


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"fapi": True, "public": True}, "confidential"),
        (
            {"fapi": True, "token_endpoint_auth_method": "client_secret_basic"},
            "private_key_jwt",
        ),
        ({"fapi": True, "jwks": PUBLIC_JWKS, "signing_alg": "RS256"}, "ES256"),
        ({"fapi": True}, "jwks or jwks_uri"),
        (
            {
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": PUBLIC_JWKS,
                "jwks_uri": "https://portal.example/jwks",
            },
            "one of them",
        ),
        ({"public": True, "token_endpoint_auth_method": "client_secret_post"}, "public"),
        ({"token_endpoint_auth_method": "none"}, "public clients"),
        ({"jwks_uri": "https://portal.example/jwks"}, "for private_key_jwt"),
        (
            {"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "x"}]}},
            "not a JWK Set",
        ),
        (
            {
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": {"keys": [KEY.as_dict(private=True)]},
            },
            "public keys only",
        ),
    ],
)
def test_inconsistent_registrations_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        create(**fields)


def test_private_key_jwt_with_its_public_keys() -> None:
    client = create(token_endpoint_auth_method="private_key_jwt", jwks=PUBLIC_JWKS)
    assert client.jwks == PUBLIC_JWKS
    assert not client.fapi
