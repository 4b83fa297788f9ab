"""The Authlib authorization server, wired to PostgreSQL without blocking the event loop.

Authlib's server API is synchronous. A call into it that reads or consumes state as it goes
(authorize, introspection, revocation, end session) runs in a worker
thread (a pool of ``oauth_threads``); its storage hooks call back into asyncpg on the event loop
with ``asyncio.run_coroutine_threadsafe`` and wait in that thread. The loop therefore keeps
serving other requests while a grant waits on the database.

At the token endpoint (``Provider.token_response``) Authlib runs on the loop instead: the
client comes from a short-lived cache (``hot_path.ClientCache``), what a grant reads or consumes
is loaded on the loop when a hook asks for it, Authlib then running again (``_Load``), and the
new tokens' rows are written after it returns, before the response leaves. The
client-credentials grant, the hot path of service-to-service calls, has nothing to wait for:
its row goes with those of concurrent grants (``hot_path.AccessTokenWriter``). Signing keys are
preloaded (``KeyRing``), so no hook waits on them.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

import asyncpg
from authlib.oauth2 import OAuth2Error  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    AuthorizationServer as _AuthorizationServer,
)
from authlib.oauth2.rfc6749 import (
    InvalidRequestError,
    OAuth2Payload,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.errors import (  # type: ignore[import-untyped]
    AccessDeniedError,
    InvalidGrantError,
    InvalidScopeError,
)
from authlib.oauth2.rfc6749.util import (  # type: ignore[import-untyped]
    extract_basic_authorization,
    scope_to_list,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import CodeChallenge  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636.challenge import (  # type: ignore[import-untyped]
    CODE_VERIFIER_PATTERN,
    compare_s256_code_challenge,
)
from authlib.oauth2.rfc7662 import IntrospectionEndpoint  # type: ignore[import-untyped]
from authlib.oidc.core import UserInfo  # type: ignore[import-untyped]
from authlib.oidc.core.grants import OpenIDCode  # type: ignore[import-untyped]
from authlib.oidc.core.util import create_half_hash  # type: ignore[import-untyped]
from authlib.oidc.rpinitiated import EndSessionEndpoint  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from sso_gateway import crypto
from sso_gateway.access.repository import access_repository
from sso_gateway.clients.repository import client_repository
from sso_gateway.config import Settings
from sso_gateway.keys.service import KeyRing
from sso_gateway.metrics import token_issued
from sso_gateway.oauth import revocation
from sso_gateway.oauth.hot_path import AccessTokenRow, AccessTokenWriter, ClientCache
from sso_gateway.oauth.models import (
    SCOPES,
    AccessTokenInfo,
    AuthorizationCode,
    GrantUser,
    OAuthClient,
    RefreshToken,
)
from sso_gateway.oauth.repository import Granted, grant_repository
from sso_gateway.sessions.service import BrowserSession, sessions
from sso_gateway.users.repository import user_repository
from vigie_shared.kit.db import Conn

T = TypeVar("T")
SECRET_METHODS = ["client_secret_basic", "client_secret_post"]
REFRESH_TOKEN_PREFIX = "vigie_rt_"  # noqa: S105 (a prefix, not a secret)
ALGORITHMS = ["ES256", "RS256"]


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8707 §2: the requested resource is not one this client may get tokens for."""

    error = "invalid_target"


class Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, values: list[tuple[str, str]]) -> None:
        self._data: dict[str, str] = {}
        self._datalist: dict[str, list[str]] = {}
        for name, value in values:
            self._data.setdefault(name, value)
            self._datalist.setdefault(name, []).append(value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class Request(OAuth2Request):  # type: ignore[misc]
    """An HTTP request already read on the event loop (query, form body, headers)."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
        *,
        browser_session: BrowserSession | None = None,
    ) -> None:
        # Authlib refuses http URIs other than loopback (its InsecureTransportError). TLS is
        # terminated in front of the gateway (the issuer URL is what clients see, https in
        # production), so the request URI the app sees says nothing about the transport.
        super().__init__(method, "https://" + uri.split("://", 1)[-1], headers=headers)
        self.uri = uri
        self.payload = Payload(query + form)
        self._args = dict(query)
        self._form = dict(form)
        self.browser_session = browser_session
        self.issued: dict[str, Any] = {}
        # Set when Authlib runs on the event loop (``Provider.token_response``): what its hooks
        # would read was loaded before, and what they write is queued here and awaited after.
        self.clients: dict[str, OAuthClient | None] | None = None
        self.deferred: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self.loaded: dict[str, Any] = {}

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


_inline_request: ContextVar[Request | None] = ContextVar("vigie_inline_request", default=None)
_MAX_PASSES = 6


class _Load(Exception):
    """Raised by a storage hook while Authlib runs on the event loop (``token_response``) when
    what it needs is not loaded yet: the loop loads it, then runs Authlib again, which then
    finds it in ``Request.loaded``. Authlib's steps before a hook are pure (parsing, client
    authentication against the preloaded client), so running them again changes nothing, and
    each load runs once per request: a consumed code or refresh token is consumed once."""

    def __init__(self, key: str, work: Callable[[Conn], Coroutine[Any, Any, Any]]) -> None:
        super().__init__(key)
        self.key = key
        self.work = work


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _basic_client_id(request: Request) -> str | None:
    client_id: str | None = extract_basic_authorization(request.headers)[0]
    return client_id


def _ts(value: int) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


class Provider(_AuthorizationServer):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.settings = settings
        self.keyring = KeyRing(settings.secret_key)
        self._pool: asyncpg.Pool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=settings.oauth_threads, thread_name_prefix="vigie-authlib"
        )
        self.clients = ClientCache(settings.secret_key, settings.client_cache_seconds)
        self.access_tokens = AccessTokenWriter()
        self.register_token_generator("default", self._generate_token)
        self.register_grant(AuthorizationCodeGrant, [S256Challenge(), OpenIDCodeExtension(self)])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_endpoint(Introspection)
        self.register_endpoint(Revocation)
        self.register_endpoint(EndSession)

    def start(self, pool: asyncpg.Pool, loop: asyncio.AbstractEventLoop) -> None:
        self._pool = pool
        self._loop = loop
        self.access_tokens.start(pool)

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("provider not started")
        return self._pool

    def call(self, work: Callable[[Conn], Coroutine[Any, Any, T]]) -> T:
        """From a worker thread: run ``work`` with a pooled connection on the event loop and
        wait for its result (this thread blocks, the loop does not)."""
        assert self._loop is not None
        if _on_loop(self._loop):
            raise RuntimeError("a storage hook waited on the database from the event loop")

        async def run() -> T:
            async with self.pool.acquire() as conn:
                return await work(conn)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run Authlib's synchronous ``fn`` off the event loop, keys preloaded. A pool of its
        own, so that grants waiting on the database never starve argon2id (default pool)."""
        await self.keyring.refresh(self.pool)
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(fn, *args)
        )

    async def token_response(self, request: Request) -> tuple[int, Any, list[tuple[str, str]]]:
        """RFC 6749 §3.2, every grant on the event loop, no worker thread: the client comes from
        the cache, what the grant reads or consumes (a code, a refresh token, the user and their
        suspension) is loaded when Authlib asks for it (``_Load``), and the new tokens' rows are
        written after it returns, before the response leaves. A client-credentials grant (§4.4)
        needs nothing but the client: Authlib runs once (a signature's worth of CPU). A refresh
        grant runs it three times around two round trips, where it used to wait in a worker
        thread on five, each a hop to the loop and back."""
        await self.keyring.refresh(self.pool)
        candidates = {c for c in (_basic_client_id(request), request.form.get("client_id")) if c}
        request.clients = {c: await self.clients.get(self.pool, c) for c in candidates}
        inline = _inline_request.set(request)
        try:
            result = await self._run_inline(request)
        finally:
            _inline_request.reset(inline)
        # The new tokens' rows, written on the loop before the response leaves: the worker
        # thread does not wait on a round trip for them.
        for write in request.deferred:
            await write()
        if request.deferred:
            token_issued(request.payload.grant_type, request.client.client_id)
        return result

    async def _run_inline(self, request: Request) -> tuple[int, Any, list[tuple[str, str]]]:
        for _ in range(_MAX_PASSES):
            try:
                result: tuple[int, Any, list[tuple[str, str]]] = self.create_token_response(request)
                return result
            except _Load as needed:
                async with self.pool.acquire() as conn:
                    request.loaded[needed.key] = await needed.work(conn)
        raise RuntimeError(f"a grant still needed data after {_MAX_PASSES} loads")

    def load(self, key: str, work: Callable[[Conn], Coroutine[Any, Any, T]]) -> T:
        """What a storage hook reads or consumes: loaded by ``token_response`` on the loop when
        Authlib runs there (see ``_Load``), else fetched from the worker thread (``call``)."""
        request = _inline_request.get()
        if request is None or request.clients is None:
            return self.call(work)
        if key in request.loaded:
            loaded: T = request.loaded[key]
            return loaded
        raise _Load(key, work)

    async def close(self) -> None:
        """Write the token rows still queued, then stop the worker threads."""
        await self.access_tokens.close()
        self.stop()

    def stop(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # Authlib storage hooks (in worker threads; inline, preloaded, for client credentials).

    def query_client(self, client_id: str) -> OAuthClient | None:
        request = _inline_request.get()
        if request is not None and request.clients is not None:
            if client_id not in request.clients:
                raise RuntimeError("client not preloaded")
            return request.clients[client_id]
        row = self.call(lambda conn: client_repository.get(conn, client_id))
        return None if row is None else OAuthClient.from_row(row, self.settings.secret_key)

    def save_token(self, token: dict[str, Any], request: Request) -> None:
        issued = request.issued
        refresh = token.get("refresh_token")
        settings = self.settings
        access = AccessTokenRow(
            jti=issued["jti"],
            client_id=request.client.client_id,
            user_id=issued.get("user_id"),
            session_id=issued.get("session_id"),
            family_id=issued.get("family_id"),
            expires_at=_ts(issued["exp"]),
        )

        async def save(conn: Conn) -> None:
            # One statement either way: atomic by itself, no BEGIN/COMMIT round trips around it.
            if not refresh:
                await grant_repository.insert_access_tokens(conn, [access.values()])
                return
            await grant_repository.insert_token_pair(
                conn,
                jti=access.jti,
                access_expires_at=access.expires_at,
                token_hash=crypto.keyed_hash(settings.secret_key, refresh),
                family_id=issued["family_id"],
                client_id=access.client_id,
                user_id=issued["user_id"],
                session_id=issued["session_id"],
                scope=token.get("scope", ""),
                auth_time=_ts(issued["auth_time"]),
                expires_at=datetime.now(UTC) + timedelta(seconds=settings.refresh_token_ttl),
                resource=issued.get("resource"),
            )

        if request.clients is not None and refresh:
            pool = self.pool

            async def save_later() -> None:
                async with pool.acquire() as conn:
                    await save(conn)

            request.deferred.append(save_later)
            return
        if request.clients is not None:
            # An access token alone (client credentials): written with the rows of concurrent
            # grants (``AccessTokenWriter``) after Authlib returns, before the response leaves.
            request.deferred.append(lambda: self.access_tokens.write(access))
            return
        self.call(save)
        token_issued(request.payload.grant_type or "", request.client.client_id)

    def authenticate_client(
        self, request: Request, methods: list[str], endpoint: str = "token"
    ) -> OAuthClient:
        """RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each
        request." Authlib tries the allowed methods in turn, so a wrong Basic secret next to
        another client's correct ``client_secret_post`` would authenticate as that other
        client: such a request, or one whose Basic and body name different clients, is
        refused outright (§5.2 ``invalid_request``) before any method is tried."""
        scheme = request.headers.get("Authorization", "").split(" ", 1)[0]
        if scheme.lower() == "basic":
            body_id = request.form.get("client_id")
            basic_id = _basic_client_id(request)
            if "client_secret" in request.form or (body_id is not None and body_id != basic_id):
                raise InvalidRequestError("Use one client authentication method per request.")
        client: OAuthClient = super().authenticate_client(request, methods, endpoint)
        return client

    def create_oauth2_request(self, request: Request) -> Request:
        return request

    def create_json_request(self, request: Request) -> Request:
        return request

    def handle_response(
        self, status: int, body: Any, headers: list[tuple[str, str]]
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    # Tokens.

    def _generate_token(
        self,
        grant_type: str,
        client: OAuthClient,
        user: GrantUser | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        raise RuntimeError("tokens are issued through Provider.issue (grants pass the request)")

    def issue(
        self,
        request: Request,
        grant_type: str,
        user: GrantUser | None,
        scope: str,
        include_refresh_token: bool,
        family_id: str | None,
        granted_resource: str | None = None,
    ) -> dict[str, Any]:
        """An RFC 9068 JWT access token (and a rotated opaque refresh token). A person's token
        names in ``aud`` the platform (the client), or the resource their grant was authorized
        for when the request names it (``resource_of_grant``)."""
        client: OAuthClient = request.client
        key = self.keyring.signing_key(client.signing_alg)
        now = int(time.time())
        ttl = self.settings.access_token_ttl
        jti = uuid.uuid4().hex
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "exp": now + ttl,
            "iat": now,
            "jti": jti,
            "client_id": client.client_id,
            "scope": scope,
        }
        if user is not None:
            # RFC 9068 §2.2: the resource owner is the subject; the platform the audience.
            claims.update(
                sub=user.id,
                aud=self.resource_of_grant(request, granted_resource),
                roles=list(user.roles),
                auth_time=user.auth_time,
                sid=user.session_id,
            )
            if "email" in scope.split():
                # RFC 9068 §2.2.3.1: identity claims the client was granted may ride in the
                # token, so that a resource server (dpo_requests) can write to the person
                # (GDPR Art. 12(3), 12(4) notices) without a userinfo round trip.
                claims["email"] = user.email
        else:
            claims.update(sub=client.client_id, aud=self._audience(request), roles=[])
        access_token = jwt.encode(
            {"alg": key.alg, "typ": "at+jwt", "kid": key.kid}, claims, key.key
        )
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": access_token,
            "expires_in": ttl,
            "scope": scope,
        }
        request.issued = {
            "jti": jti,
            "exp": now + ttl,
            "family_id": family_id,
            "resource": granted_resource,
        }
        if user is not None:
            request.issued.update(
                user_id=user.id, session_id=user.session_id, auth_time=user.auth_time
            )
            if include_refresh_token:
                token["refresh_token"] = crypto.new_secret(REFRESH_TOKEN_PREFIX)
        return token

    def _audience(self, request: Request) -> str:
        """A client's own token (client credentials): the resource it names, else itself."""
        client: OAuthClient = request.client
        return requested_resource(request) or client.client_id

    def resource_of_grant(
        self, request: Request, granted: str | None, client: OAuthClient | None = None
    ) -> str:
        """RFC 8707 §2.2: a person's grant yields tokens for the resource it was authorized
        for at /authorize (``granted``), or for the client itself, never another one; the
        token request may name either (``resource``), and gets the grant's by default. So a
        token for the admin API exists only when it was asked for at authorization, by a
        client registered for it."""
        client = client or request.client
        wanted = requested_resource(request, client)
        if wanted is None:
            return granted or client.client_id
        if wanted not in (granted, client.client_id):
            raise InvalidTargetError("That resource was not requested at authorization.")
        return wanted

    def check_before_use(
        self,
        request: Request,
        client: OAuthClient,
        key: str,
        peek: Callable[[Conn], Coroutine[Any, Any, Granted | None]],
        check: Callable[[Granted], None],
    ) -> None:
        """What a token request asks of a code or refresh token, checked before it is used up
        (``peek`` reads the grant without consuming it), so that a refused request leaves the
        grant as it was: the resource (RFC 8707 §2.2, ``invalid_target``), then the grant's own
        ``check`` (a code's PKCE verifier, a refresh's scope). A grant already used, revoked
        or expired is not checked here: consuming it is what detects a replay and revokes
        its family (RFC 6749 §4.1.2, RFC 9700 §4.14.2)."""
        granted = self.load(key, peek)
        if granted is None:
            return
        if names_a_resource(request):
            self.resource_of_grant(request, granted.resource, client)
        if granted.usable:
            check(granted)

    def decode_access_token(self, token: str) -> dict[str, Any] | None:
        """Claims of a well-signed access token from us (expiry not checked, only present),
        else None."""
        try:
            decoded = jwt.decode(token, self.keyring.verification_keys(), algorithms=ALGORITHMS)
        except (JoseError, ValueError):
            return None
        if str(decoded.header.get("typ", "")).lower() != "at+jwt":
            return None
        claims = dict(decoded.claims)
        if claims.get("iss") != self.settings.issuer:
            return None
        # Every token we issue carries integer ``exp`` and ``iat`` (RFC 9068 §2.2): one without
        # them, however signed, is not one of ours, and RFC 7662 §2.2 calls it inactive.
        if not all(type(claims.get(name)) is int for name in ("exp", "iat")):
            return None
        return claims

    def id_token_hint_claims(self, hint: str) -> dict[str, Any] | None:
        """Claims of an ID token we signed (RP-Initiated Logout 1.0 §2: an expired one is still
        a valid hint), else None."""
        try:
            decoded = jwt.decode(hint, self.keyring.verification_keys(), algorithms=ALGORITHMS)
        except (JoseError, ValueError):
            return None
        if decoded.claims.get("iss") != self.settings.issuer:
            return None
        return dict(decoded.claims)

    def query_token(self, token_string: str, hint: str | None) -> Any:
        if token_string.startswith(REFRESH_TOKEN_PREFIX):
            token_hash = crypto.keyed_hash(self.settings.secret_key, token_string)
            row = self.call(lambda conn: grant_repository.get_refresh_token(conn, token_hash))
            return None if row is None else RefreshToken.from_row(row)
        claims = self.decode_access_token(token_string)
        if claims is None:
            return None
        jti = str(claims.get("jti", ""))
        revoked = self.call(lambda conn: grant_repository.access_token_revoked(conn, jti))
        return AccessTokenInfo(claims=claims, revoked=revoked)


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


class _Issuing:
    """Grants pass their request to the provider, which needs it (audience, family)."""

    request: Request
    server: Provider
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
        return self.server.issue(
            self.request,
            grant_type or self.GRANT_TYPE,
            user,
            scope or "",
            include_refresh_token,
            self.family_id(),
            self.granted_resource(),
        )


class AuthorizationCodeGrant(_Issuing, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    # "none" is for public clients, which prove possession with PKCE instead (RFC 7636).
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [*SECRET_METHODS, "none"]

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

    def save_authorization_code(self, code: str, request: Request) -> None:
        user: GrantUser = request.user
        client: OAuthClient = request.client
        settings = self.server.settings
        data = request.payload.data
        resource = requested_resource(request)

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
                    auth_time=_ts(user.auth_time),
                    expires_at=datetime.now(UTC) + timedelta(seconds=settings.code_ttl),
                    resource=resource,
                )
                await sessions.signed_into(conn, user.session_id, client.client_id)

        self.server.call(save)

    def query_authorization_code(self, code: str, client: OAuthClient) -> AuthorizationCode | None:
        code_hash = crypto.keyed_hash(self.server.settings.secret_key, code)
        self.server.check_before_use(
            self.request,
            client,
            f"code-peek:{code_hash}",
            lambda conn: grant_repository.peek_code(conn, code_hash, client.client_id),
            lambda granted: check_code_verifier(self.request, granted),
        )

        async def consume(conn: Conn) -> AuthorizationCode | None:
            row = await grant_repository.consume_code(conn, code_hash, client.client_id)
            if row is not None:
                return AuthorizationCode.from_row(row)
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


def check_refresh_scope(request: Request, granted: Granted) -> None:
    """RFC 6749 §6: a refresh may ask for the granted scope or less, never more
    (``invalid_scope``), refused before the refresh token is rotated."""
    wanted = scope_to_list(request.payload.scope) or []
    if wanted and not set(scope_to_list(granted.scope) or []).issuperset(wanted):
        raise InvalidScopeError()


def load_grant_user(
    server: Provider,
    client: OAuthClient | None,
    user_id: str,
    *,
    session_id: str,
    auth_time: int,
) -> GrantUser | None:
    """The resource owner of a code or refresh token: None if the account is gone (erased),
    refused if their access to this platform is suspended."""
    training = client is not None and client.training_platform

    async def load(conn: Conn) -> tuple[asyncpg.Record | None, bool]:
        # One round trip from the worker thread for both (a refresh grant's hot path).
        row = await user_repository.get(conn, user_id)
        suspended = (
            row is not None and training and await access_repository.is_suspended(conn, user_id)
        )
        return row, suspended

    row, suspended = server.load(f"user:{user_id}:{training}", load)
    if row is None:
        return None
    if suspended:
        raise _suspended()
    return GrantUser(
        id=row["id"],
        email=row["email"],
        display_name=row["display_name"],
        username=row["username"],
        roles=list(row["roles"]),
        session_id=session_id,
        auth_time=auth_time,
    )


def refuse_if_suspended(server: Provider, user_id: str, client: OAuthClient | None) -> None:
    """A learner whose access is suspended (unpaid debt, or an accountant's decision) gets no
    token for a training platform; other platforms (payment, GDPR requests) stay reachable so
    that they can still pay and exercise their rights. RFC 6749 §4.1.2.1 ``access_denied``."""
    if client is None or not client.training_platform:
        return
    if server.call(lambda conn: access_repository.is_suspended(conn, user_id)):
        raise _suspended()


def _suspended() -> AccessDeniedError:
    return AccessDeniedError(description="Access to training platforms is suspended (unpaid debt).")


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only (RFC 9700 §2.1.1: ``plain`` SHOULD NOT be used; we refuse it), and
    required of every client."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: AuthorizationCodeGrant, redirect_uri: str) -> None:
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


class OpenIDCodeExtension(OpenIDCode):  # type: ignore[misc]
    """ID tokens (OIDC Core §2, §3.1.3.6): nonce, auth_time, sid, at_hash, signed with the
    client's algorithm by the current key."""

    def __init__(self, provider: Provider) -> None:
        super().__init__(require_nonce=False)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: Request) -> bool:
        client_id = request.payload.client_id
        return self.provider.call(lambda conn: grant_repository.nonce_used(conn, client_id, nonce))

    def generate_user_info(self, user: GrantUser, scope: str) -> UserInfo:
        return user_info(user.id, user.email, user.display_name, user.username, scope)

    def encode_id_token(self, token: dict[str, Any], request: Request) -> str:
        provider = self.provider
        client: OAuthClient = request.client
        user: GrantUser = request.user
        key = provider.keyring.signing_key(client.signing_alg)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": provider.settings.issuer,
            "aud": client.client_id,
            "iat": now,
            "exp": now + provider.settings.access_token_ttl,
            "sid": user.session_id,
        }
        claims.update(self.get_authorization_code_claims(request.authorization_code))
        at_hash = create_half_hash(token["access_token"], key.alg)
        if at_hash is not None:
            claims["at_hash"] = at_hash.decode()
        claims.update(self.generate_user_info(user, token["scope"]))
        return jwt.encode({"alg": key.alg, "kid": key.kid, "typ": "JWT"}, claims, key.key)


def user_info(
    user_id: str, email: str, display_name: str, username: str | None, scope: str
) -> UserInfo:
    """Claims released per scope (OIDC Core §5.4)."""
    scopes = set(scope.split())
    info = UserInfo(sub=user_id)
    if "profile" in scopes:
        info["name"] = display_name
        info["preferred_username"] = username or email
    if "email" in scopes:
        info["email"] = email
        info["email_verified"] = True
    return info


class RefreshTokenGrant(_Issuing, grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [*SECRET_METHODS, "none"]
    # RFC 9700 §4.14.2: refresh tokens rotate; each is good for one use.
    INCLUDE_NEW_REFRESH_TOKEN = True

    def family_id(self) -> str | None:
        token: RefreshToken = self.request.refresh_token
        return token.family_id

    def granted_resource(self) -> str | None:
        token: RefreshToken = self.request.refresh_token
        return token.resource

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        client: OAuthClient = self.request.client
        token_hash = crypto.keyed_hash(self.server.settings.secret_key, refresh_token)
        self.server.check_before_use(
            self.request,
            client,
            f"refresh-peek:{token_hash}",
            lambda conn: grant_repository.peek_refresh_token(conn, token_hash, client.client_id),
            lambda granted: check_refresh_scope(self.request, granted),
        )

        async def consume(conn: Conn) -> RefreshToken | None:
            row = await grant_repository.consume_refresh_token(conn, token_hash, client.client_id)
            if row is not None:
                return RefreshToken.from_row(row)
            known = await grant_repository.get_refresh_token(conn, token_hash)
            if known is not None and known["used_at"] is not None:
                # RFC 9700 §4.14.2: a rotated-out token presented again means one of two
                # parties holds a stolen copy; revoke the whole family.
                await revocation.revoke_family(conn, known["family_id"], "refresh_token_reused")
            return None

        return self.server.load(f"refresh:{token_hash}", consume)

    def authenticate_user(self, refresh_token: RefreshToken) -> GrantUser | None:
        token = refresh_token
        return load_grant_user(
            self.server,
            self.request.client,
            token.user_id,
            session_id=token.session_id,
            auth_time=int(token.auth_time.timestamp()),
        )

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        """Already marked used, atomically, when it was authenticated."""


class ClientCredentialsGrant(_Issuing, grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return self.server.query_token(token_string, token_type_hint)

    def check_permission(self, token: Any, client: OAuthClient, request: Request) -> bool:
        # RFC 7662 §4: only the client the token was issued to, or the resource server it is
        # meant for, may learn about it.
        if isinstance(token, AccessTokenInfo):
            aud = token.claims.get("aud")
            auds = aud if isinstance(aud, list) else [aud]
            return token.check_client(client) or client.client_id in auds
        return bool(token.check_client(client))

    def introspect_token(self, token: Any) -> dict[str, Any]:
        if isinstance(token, AccessTokenInfo):
            c = token.claims
            payload: dict[str, Any] = {
                "active": True,
                "token_type": "Bearer",
                **{
                    k: c[k]
                    for k in (
                        "scope",
                        "client_id",
                        "sub",
                        "aud",
                        "iss",
                        "exp",
                        "iat",
                        "jti",
                        "sid",
                        "roles",
                    )
                    if k in c
                },
            }
            return payload
        assert isinstance(token, RefreshToken)
        return {
            "active": True,
            "token_type": "refresh_token",
            "scope": token.scope,
            "client_id": token.client_id,
            "sub": token.user_id,
            "sid": token.session_id,
            "exp": int(token.expires_at.timestamp()),
            "iat": int(token.issued_at.timestamp()),
            "iss": self.server.settings.issuer,
        }


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return self.server.query_token(token_string, token_type_hint)

    def revoke_token(self, token: Any, request: Request) -> None:
        provider: Provider = self.server
        if isinstance(token, RefreshToken):
            # RFC 7009 §2.1: revoking a refresh token also invalidates the access tokens of
            # the same grant.
            family = token.family_id
            provider.call(lambda conn: revocation.revoke_family(conn, family, "revoked"))
        else:
            jti = str(token.claims.get("jti", ""))
            provider.call(lambda conn: revocation.revoke_access_token(conn, jti, "revoked"))


class EndSession(EndSessionEndpoint):  # type: ignore[misc]
    """OIDC RP-Initiated Logout 1.0. The post-logout redirect is checked by Authlib against the
    client's registration (§3); ending the session is ours."""

    def get_server_jwks(self) -> KeySet:
        provider: Provider = self.server
        return provider.keyring.verification_keys()

    def get_algorithms(self) -> list[str]:
        return ALGORITHMS

    def end_session(self, end_session_request: Any) -> None:
        request: Request = end_session_request.request
        provider: Provider = self.server
        session = request.browser_session
        if session is None:
            # The session ended is this browser's (its cookie), never one an ``id_token_hint``
            # names by itself: anyone holding a copy of someone's ID token could otherwise end
            # their session from anywhere (§2: the hint identifies, the End-User decides).
            return
        sid = session.id

        async def end(conn: Conn) -> None:
            async with conn.transaction():
                await sessions.revoke(conn, provider.settings, sid, "logout")

        provider.call(end)
