"""How a client authenticates (RFC 6749 §2.3): the methods each endpoint accepts, which
clients a token request may name before any of them is verified (so that they are loaded
before Authlib runs on the event loop), and ``private_key_jwt`` (RFC 7523 §2.2, OIDC Core §9):
a JWT the client signs with its own key, verified against the keys it registered."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import GuestProtocol, Key, KeySet

from sso_gateway.clients.schemas import PRIVATE_KEY_JWT
from sso_gateway.oauth.assertion_repository import client_assertion_repository
from sso_gateway.oauth.client_cache import FetchedKeys, JwksCache
from sso_gateway.oauth.hooks import ProviderHooks
from sso_gateway.oauth.models import SECRET_METHODS, OAuthClient
from sso_gateway.oauth.requests import Request
from vigie_shared.kit.db import Conn

CONFIDENTIAL_METHODS = [PRIVATE_KEY_JWT, *SECRET_METHODS]
"""What a confidential client may use at the token, introspection and revocation endpoints;
each client is held to its own registered method (``OAuthClient.check_endpoint_auth_method``).
``private_key_jwt`` first: a request carrying an assertion is judged by it, and refused if it
carries a secret too (``PrivateKeyJWT``)."""
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


ASSERTION_ALGORITHMS = ("ES256", "PS256", "RS256", "EdDSA")
"""What a client may sign its assertion with: asymmetric only. Never ``none``, never HS*: an
HMAC would need a secret shared with the gateway, which a private_key_jwt client has not, and
would let anyone who knows the client's public key material (or its id) forge one."""
FAPI_ASSERTION_ALGORITHMS = ("ES256", "PS256", "EdDSA")
"""FAPI 2.0 Security Profile §5.4.1: PS256, ES256 or EdDSA (Ed25519), not RS256 (PKCS#1 v1.5)."""
ASSERTION_LEEWAY_SECONDS = 60
"""Clock skew allowed on ``exp``, ``nbf`` and ``iat`` (RFC 7519 §4.1.4: "a few minutes")."""
MAX_LIFETIME = 3600
"""How far ahead an assertion's ``exp`` may be: one hour, what Authlib's own client signs by
default (``private_key_jwt_sign``); most others sign for a minute. It bounds how long a jti
row is kept (``client_assertions``)."""
MAX_JTI_LENGTH = 256


class PrivateKeyJWT(JWTBearerClientAssertion):
    """RFC 7523 §2.2 client authentication, on Authlib's ``JWTBearerClientAssertion`` (which
    reads the assertion, finds the client by ``sub``, checks ``iss`` = ``sub``, ``aud``,
    ``exp``, ``nbf`` and ``iat`` and asks for the jti's novelty), held to the rules of
    RFC 7523 §3, OIDC Core §9 and FAPI 2.0 §5.3.2.1 and §5.4.1 (see ``verify_claims``).

    Its keys: ``jwks`` registered by value, or ``jwks_uri`` (``JwksCache``, fetched again
    when an assertion names a ``kid`` it lacks). Whatever it reads or writes (a JWK Set from
    the client's host, the jti's row) goes through ``ProviderHooks.load``: awaited on the
    event loop at the token endpoint, from the worker thread elsewhere. Every failure is
    RFC 6749 §5.2 ``invalid_client`` with status 401, its description naming the rule broken.
    """

    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self, server: ProviderHooks, keys: JwksCache | None = None) -> None:
        super().__init__(leeway=ASSERTION_LEEWAY_SECONDS)
        self.server = server
        self.keys = keys or JwksCache()

    def __call__(
        self, query_client: Callable[[str], OAuthClient | None], request: Request
    ) -> OAuthClient | None:
        if request.form.get("client_assertion_type") != ASSERTION_TYPE:
            return None
        if "client_secret" in request.form or request.headers.get("Authorization"):
            # RFC 6749 §2.3: "MUST NOT use more than one authentication method in each request."
            raise InvalidRequestError("Use one client authentication method per request.")
        try:
            client: OAuthClient | None = super().__call__(query_client, request)
            named = request.form.get("client_id")
            if client is not None and named is not None and named != client.client_id:
                # RFC 7521 §4.2: a client_id sent beside the assertion must be its subject.
                raise InvalidClientError(description="client_id is not the assertion's sub.")
        except InvalidClientError as error:
            # RFC 6749 §5.2: a client that tried to authenticate and failed gets a 401.
            error.status_code = 401
            raise
        return client

    def get_audiences(self) -> list[str]:
        """FAPI 2.0 §5.3.2.1 wants the issuer identifier; RFC 7523 §3 allows the token
        endpoint URL, and RFC 9126 §2 requires the pushed authorization request endpoint's
        URL to be taken too. Nothing else: an assertion made for another endpoint or server
        (the audience-confusion attacks on private_key_jwt) is refused."""
        issuer = self.server.settings.issuer
        return [issuer, f"{issuer}/token", f"{issuer}/par"]

    def extract_assertion(self, assertion: str) -> tuple[Mapping[str, Any], dict[str, Any]]:
        headers, claims = super().extract_assertion(assertion)
        if headers.get("alg") not in ASSERTION_ALGORITHMS:
            raise InvalidClientError(
                description="The assertion's alg is not allowed: ES256, PS256, RS256 or EdDSA "
                "(never none nor HS*)."
            )
        return headers, claims

    def resolve_client_public_key(self, client: OAuthClient) -> Callable[[GuestProtocol], Key]:
        """The key the assertion names (``kid``) among the client's, resolved once its header
        is read (Authlib hands only the client here; joserfc calls back with the token)."""
        allowed = FAPI_ASSERTION_ALGORITHMS if client.fapi else ASSERTION_ALGORITHMS

        def resolve(token: GuestProtocol) -> Key:
            headers = token.headers()
            if headers.get("alg") not in allowed:
                raise InvalidClientError(
                    description="A FAPI client signs its assertion with ES256, PS256 or EdDSA "
                    "(FAPI 2.0 Security Profile 5.4.1), not RS256."
                )
            kid = headers.get("kid")
            if kid is not None and not isinstance(kid, str):
                raise InvalidClientError(description="The assertion's kid is not a string.")
            keys = self._client_keys(client, kid)
            try:
                return keys.get_by_kid(kid)
            except (JoseError, ValueError):
                raise InvalidClientError(
                    description="The assertion names no kid and the client has several keys."
                    if kid is None
                    else "Unknown kid: none of the client's keys has it."
                ) from None

        return resolve

    def _client_keys(self, client: OAuthClient, kid: str | None) -> KeySet:
        uri = client.jwks_uri
        if uri is None:
            try:
                registered = client.public_keys
            except (JoseError, ValueError, TypeError, KeyError):
                # Checked at registration (``ClientCreate``): only a row edited by hand.
                registered = None
            if registered is None:
                raise InvalidClientError(description="The client registered no usable keys.")
            return registered
        fetched = self.keys.cached(uri) or self._fetch("jwks", uri)
        if (
            fetched.keys is not None
            and kid is not None
            and kid not in {key.kid for key in fetched.keys.keys}
            and self.keys.may_refetch(uri)
        ):
            # RFC 7517 §4.5: a new kid may be a rotated key, published since the last fetch.
            fetched = self._fetch("jwks-rotated", uri)
        if fetched.keys is None:
            raise InvalidClientError(
                description=f"The client's jwks_uri could not be fetched ({fetched.error})."
            )
        return fetched.keys

    def _fetch(self, purpose: str, uri: str) -> FetchedKeys:
        keys = self.keys

        async def fetch(conn: Conn) -> FetchedKeys:
            return await keys.fetch(uri)

        return self.server.load(f"{purpose}:{uri}", fetch)

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        """Authlib's, with the algorithms allowed said to joserfc (by default it would take
        only those it recommends, which leaves out PS256 and EdDSA)."""
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGORITHMS)
        except BadSignatureError:
            raise InvalidClientError(
                description="Bad signature: the assertion does not verify with the client's key."
            ) from None
        except JoseError as error:
            raise InvalidClientError(description=f"Invalid assertion ({error.error}).") from None
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims: dict[str, Any]) -> None:
        """Before Authlib's checks (``iss``, ``sub``, ``aud``, ``exp``, ``nbf``, ``iat``,
        then the jti consumed): every ``aud`` value ours, and ``exp`` within
        ``MAX_LIFETIME`` (so that the jti consumed need not be kept longer)."""
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if not audiences or any(a not in self.get_audiences() for a in audiences):
            raise InvalidClientError(
                description="Wrong aud: the assertion must name this server (its issuer, token "
                "endpoint or PAR endpoint URL), and nothing else."
            )
        exp = claims.get("exp")
        numeric = float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else 0.0
        # NaN or infinity (Python's JSON reads them) would pass every comparison after this.
        if not (math.isfinite(numeric) and numeric <= time.time() + MAX_LIFETIME):
            raise InvalidClientError(
                description=f"exp too far ahead: an assertion lives at most {MAX_LIFETIME} s."
            )
        super().verify_claims(claims)

    def validate_jti(self, claims: dict[str, Any], jti: Any) -> bool:
        """RFC 7523 §3 item 7: each jti once per client, across replicas (``client_assertions``),
        kept until the assertion expires."""
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
            raise InvalidClientError(
                description=f"jti must be a string of 1 to {MAX_JTI_LENGTH} characters."
            )
        client_id = str(claims["sub"])
        until = datetime.fromtimestamp(float(claims["exp"]) + ASSERTION_LEEWAY_SECONDS, tz=UTC)

        async def use(conn: Conn) -> bool:
            return await client_assertion_repository.use(conn, client_id, jti, until)

        if not self.server.load(f"jti:{client_id}:{jti}", use):
            raise InvalidClientError(description="Replayed assertion: its jti was used already.")
        return True
