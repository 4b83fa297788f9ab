"""Pushed authorization requests (RFC 9126): a client sends its authorization request to the
PAR endpoint first, authenticated as at the token endpoint, and gets a ``request_uri`` that the
browser then takes to /authorize. The request's parameters thus travel from the client to the
server directly, authenticated and unseen by the browser (§1).

Checks are Authlib's and the grant's, as at /authorize (``validate_pushed_request``); they run
in a worker thread like every other Authlib call that waits on the database
(``oauth.server``)."""

from __future__ import annotations

from dataclasses import dataclass

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, UnsupportedResponseTypeError

from sso_gateway import crypto
from sso_gateway.config import Settings
from sso_gateway.oauth.client_auth import CONFIDENTIAL_METHODS, PUBLIC_METHOD
from sso_gateway.oauth.grants.authorization_code import (
    AuthorizationCodeGrant,
    InvalidRequestUriError,
    RequestNotSupportedError,
)
from sso_gateway.oauth.models import OAuthClient
from sso_gateway.oauth.requests import Request
from sso_gateway.oauth.server import Provider
from sso_gateway.par.records import PushedRequest
from sso_gateway.par.repository import pushed_request_repository
from vigie_shared.kit.db import Conn

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
"""RFC 9126 §2.2: the request_uri is a URN of this namespace followed by a random value."""
PAR_ENDPOINT = "pushed_authorization_request"
"""The endpoint name client authentication is told (Authlib's ``authenticate_client``)."""
AUTH_METHODS = [*CONFIDENTIAL_METHODS, PUBLIC_METHOD]
"""RFC 9126 §2: the client authenticates as at the token endpoint, each client with its own
registered method; a public client (``none``) identifies itself by client_id."""
CLIENT_AUTHENTICATION = frozenset(
    {"client_id", "client_secret", "client_assertion", "client_assertion_type"}
)
"""Parameters of client authentication (RFC 6749 §2.3.1, RFC 7521 §4.2), not of the request."""
PROMPTS_ANSWERED_BY_LOGIN = ("prompt", "max_age")


@dataclass(frozen=True, slots=True)
class Pushed:
    """A pushed request that passed the checks, not yet stored."""

    client_id: str
    parameters: tuple[tuple[str, str], ...]


class PushedAuthorizations:
    async def check(self, provider: Provider, request: Request) -> Pushed:
        """The client authenticated and its request checked as /authorize would check it;
        an ``OAuth2Error`` otherwise, never a redirect (§2.3: token endpoint errors)."""
        try:
            return await provider.run(self._check, provider, request)
        except OAuth2Error as error:
            error.redirect_uri = None
            error.state = None
            raise

    def _check(self, provider: Provider, request: Request) -> Pushed:
        if request.args:
            raise InvalidRequestError("The pushed parameters go in the request body.")
        client: OAuthClient = provider.authenticate_client(request, AUTH_METHODS, PAR_ENDPOINT)
        datalist = request.payload.datalist
        if "request_uri" in datalist:
            # §2.1: a request_uri is what this endpoint hands out, never what it takes.
            raise InvalidRequestError("request_uri is not allowed in a pushed request.")
        if "request" in datalist:
            raise RequestNotSupportedError("Request objects are not supported.")
        if datalist.get("client_id", [client.client_id]) != [client.client_id]:
            raise InvalidRequestError("client_id is not the authenticated client.")
        parameters = tuple(
            (name, value)
            for name, values in datalist.items()
            if name not in CLIENT_AUTHENTICATION
            for value in values
        )
        # The request as /authorize will see it (``authorization_request``), checked now.
        authorization = Request(
            "GET",
            provider.settings.issuer.rstrip("/") + "/authorize",
            request.headers,
            [("client_id", client.client_id), *parameters],
            [],
        )
        grant = provider.get_authorization_grant(authorization)
        if not isinstance(grant, AuthorizationCodeGrant):
            raise UnsupportedResponseTypeError("Only response_type=code is supported.")
        grant.validate_no_multiple_request_parameter(authorization)
        grant.validate_pushed_request()
        return Pushed(client.client_id, parameters)

    async def store(self, conn: Conn, settings: Settings, pushed: Pushed) -> str:
        """The request_uri of the stored request; only its keyed hash is kept."""
        request_uri = crypto.new_secret(REQUEST_URI_PREFIX)
        await pushed_request_repository.purge_expired(conn)
        await pushed_request_repository.insert(
            conn,
            uri_hash=crypto.keyed_hash(settings.secret_key, request_uri),
            client_id=pushed.client_id,
            parameters=pushed.parameters,
            ttl_seconds=settings.par_request_uri_ttl,
        )
        return request_uri

    async def resolve(self, conn: Conn, settings: Settings, request: Request) -> PushedRequest:
        """The pushed request an /authorize request refers to (RFC 9126 §4): it must exist, be
        unused and unexpired, and belong to the client named beside it."""
        datalist = request.payload.datalist
        if len(datalist["request_uri"]) > 1 or len(datalist.get("client_id", [])) > 1:
            raise InvalidRequestError("request_uri and client_id are given once.")
        client_id = request.payload.client_id
        if not client_id:
            raise InvalidRequestError("client_id is required beside request_uri.")
        request_uri = datalist["request_uri"][0]
        found = None
        if request_uri.startswith(REQUEST_URI_PREFIX):
            uri_hash = crypto.keyed_hash(settings.secret_key, request_uri)
            found = await pushed_request_repository.get_live(conn, uri_hash)
        if found is None or found.client_id != client_id:
            raise InvalidRequestUriError("The request_uri is unknown, used or expired.")
        return found

    def authorization_request(self, request: Request, pushed: PushedRequest) -> Request:
        """The /authorize request as pushed. RFC 9126 §4: the server treats the request as if
        it held the pushed parameters; those given beside request_uri, other than client_id,
        are ignored rather than refused: OIDC Core §6.2 has clients repeat ``scope`` and
        ``response_type`` in the query, which must not make them fail, and ignoring them is
        what keeps the pushed request whole (FAPI 2.0: nothing the browser carries changes
        it).

        The ``request_uri`` stays in the payload: the grant reads it as "this request was
        pushed". ``prompt`` and ``max_age`` are answered once the person has signed in after
        the push (the login page sends the browser back here), as the continuation of a
        request that was not pushed drops them, so that login is not asked for again."""
        parameters = list(pushed.parameters)
        session = request.browser_session
        if session is not None and session.auth_time >= pushed.created_at:
            parameters = [(n, v) for n, v in parameters if n not in PROMPTS_ANSWERED_BY_LOGIN]
        request_uri = request.payload.data["request_uri"]
        query = [("client_id", pushed.client_id), ("request_uri", request_uri), *parameters]
        return Request("GET", request.uri, request.headers, query, [], browser_session=session)

    async def consume(self, conn: Conn, settings: Settings, request: Request) -> bool:
        """Use the pushed request up: when the authorization response (a code, or an error sent
        back to the client) is made, not when it is first shown: §4 lets the browser reload
        it, and the login page sends it back to /authorize."""
        uri_hash = crypto.keyed_hash(settings.secret_key, request.payload.data["request_uri"])
        return await pushed_request_repository.consume(
            conn, uri_hash, request.payload.client_id or ""
        )


pushed_authorizations = PushedAuthorizations()
