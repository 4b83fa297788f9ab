"""The Authlib authorization server, wired to PostgreSQL without blocking the event loop.

Authlib's server API is synchronous. A call into it that reads or consumes state as it goes
(authorize, introspection, revocation, end session) runs in a worker
thread (a pool of ``oauth_threads``); its storage hooks call back into asyncpg on the event loop
with ``asyncio.run_coroutine_threadsafe`` and wait in that thread. The loop therefore keeps
serving other requests while a grant waits on the database.

At the token endpoint (``Provider.token_response``) Authlib runs on the loop instead: the
client comes from a short-lived cache (``client_cache.ClientCache``), what a grant reads or
consumes is loaded on the loop when a hook asks for it, Authlib then running again (``Load``),
and the new tokens' rows are written after it returns, before the response leaves. The
client-credentials grant, the hot path of service-to-service calls, has nothing to wait for:
its row goes with those of concurrent grants (``access_tokens.AccessTokenWriter``). Signing
keys are preloaded (``KeyRing``), so no hook waits on them. A DPoP proof (RFC 9449 §5) is
checked and its jti recorded before Authlib runs, with the proofs of concurrent grants
(``dpop.ProofWriter``); a request without one costs nothing more.

The rest is laid out as Authlib is, by specification: ``requests`` (what Authlib reads of an
HTTP request), ``bridge`` (the synchronous/asynchronous seam), ``grants/`` (one grant per
module, PKCE and OpenID Connect beside them), and the token endpoints ``introspection``
(RFC 7662), ``revocation`` (RFC 7009) and ``end_session`` (RP-Initiated Logout). Those call
back on the provider only through ``hooks.ProviderHooks``, so none of them imports this module.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
from authlib.oauth2.rfc6749 import AuthorizationServer as _AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError
from joserfc import jwt
from joserfc.errors import JoseError

from sso_gateway import crypto
from sso_gateway.clients.repository import client_repository
from sso_gateway.config import Settings
from sso_gateway.keys.service import KeyRing
from sso_gateway.metrics import token_issued
from sso_gateway.oauth import dpop
from sso_gateway.oauth.access_tokens import (
    AccessTokenRow,
    AccessTokenWriter,
    RotationWriter,
    TokenPairWriter,
)
from sso_gateway.oauth.bridge import MAX_PASSES, Load, inline_request, on_loop
from sso_gateway.oauth.client_auth import (
    FAPI_ASSERTION_ALGORITHMS,
    PrivateKeyJWT,
    basic_client_id,
    candidate_client_ids,
)
from sso_gateway.oauth.client_cache import ClientCache
from sso_gateway.oauth.end_session import EndSession
from sso_gateway.oauth.grants.authorization_code import AuthorizationCodeGrant
from sso_gateway.oauth.grants.base import (
    ALGORITHMS,
    REFRESH_TOKEN_PREFIX,
    InvalidTargetError,
    as_datetime,
    names_a_resource,
    requested_resource,
)
from sso_gateway.oauth.grants.client_credentials import ClientCredentialsGrant
from sso_gateway.oauth.grants.openid import OpenIDCodeExtension
from sso_gateway.oauth.grants.pkce import S256Challenge
from sso_gateway.oauth.grants.refresh_token import RefreshTokenGrant
from sso_gateway.oauth.introspection import Introspection
from sso_gateway.oauth.models import (
    SCOPES,
    AccessTokenInfo,
    GrantUser,
    OAuthClient,
)
from sso_gateway.oauth.records import Granted, TokenPair
from sso_gateway.oauth.repository import grant_repository
from sso_gateway.oauth.requests import Request
from sso_gateway.oauth.revocation import Revocation
from sso_gateway.sessions.service import idle_window
from sso_gateway.signals.resource import SCOPES as SIGNAL_SCOPES
from sso_gateway.signals.resource import asks_for_signals, ssf_resource
from vigie_shared.kit.db import Conn
from vigie_shared.kit.dpop import NONCE_HEADER, InvalidProof

__all__ = ["REFRESH_TOKEN_PREFIX", "Provider"]
"""``REFRESH_TOKEN_PREFIX`` is read by ``bench/bench_sso.py`` from here."""

T = TypeVar("T")


def replaced_token_revoked() -> InvalidGrantError:
    """A grant whose refresh token or code was presented again while it was served, which
    revoked the grant (RFC 9700 §4.14.2, RFC 6749 §4.1.2)."""
    return InvalidGrantError("The grant was revoked.")


class Provider(_AuthorizationServer):
    def __init__(self, settings: Settings) -> None:
        super().__init__(scopes_supported=[*SCOPES, *SIGNAL_SCOPES])
        self.settings = settings
        self.keyring = KeyRing(settings.secret_key)
        self._pool: asyncpg.Pool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=settings.oauth_threads, thread_name_prefix="vigie-authlib"
        )
        self.clients = ClientCache(settings.secret_key, settings.client_cache_seconds)
        self.access_tokens = AccessTokenWriter()
        self.token_pairs = TokenPairWriter()
        self.rotations = RotationWriter(idle_window(settings))
        self.dpop_proofs = dpop.ProofWriter()
        self.client_assertions = PrivateKeyJWT(self)
        self.register_client_auth_method(PrivateKeyJWT.CLIENT_AUTH_METHOD, self.client_assertions)
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
        self.token_pairs.start(pool)
        self.rotations.start(pool)
        self.dpop_proofs.start(pool)

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("provider not started")
        return self._pool

    def call(self, work: Callable[[Conn], Coroutine[Any, Any, T]]) -> T:
        """From a worker thread: run ``work`` with a pooled connection on the event loop and
        wait for its result (this thread blocks, the loop does not)."""
        assert self._loop is not None
        if on_loop(self._loop):
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
        suspension) is loaded when Authlib asks for it (``Load``), and the new tokens' rows are
        written after it returns, before the response leaves. A client-credentials grant (§4.4)
        needs nothing but the client: Authlib runs once (a signature's worth of CPU). A refresh
        grant runs it twice around one statement that rotates the token and reads its owner
        (``RefreshTokenGrant.rotate_at_once``). A DPoP proof (RFC 9449 §5) is checked first;
        the tokens are then bound to its key."""
        await self.keyring.refresh(self.pool)
        try:
            proof = await dpop.token_request_proof(self.dpop_proofs, self.settings, request)
        except InvalidProof as refused:
            return dpop.token_error(self.settings, refused)
        if proof is not None:
            request.loaded[dpop.PROOF] = proof
        candidates = candidate_client_ids(request)
        request.clients = {c: await self.clients.get(self.pool, c) for c in candidates}
        inline = inline_request.set(request)
        try:
            status, body, headers = await self._run_inline(
                request, lambda: self.create_token_response(request)
            )
        finally:
            inline_request.reset(inline)
        # The new tokens' rows, written on the loop before the response leaves: the worker
        # thread does not wait on a round trip for them.
        written = [await write() for write in request.deferred]
        if not all(written):
            # RFC 9700 §4.14.2, RFC 6749 §4.1.2: the refresh token or code was presented again
            # meanwhile and the grant revoked; the tokens signed for this request never leave.
            revoked: tuple[int, Any, list[tuple[str, str]]] = self.handle_error_response(
                request, replaced_token_revoked()
            )
            return revoked
        if request.deferred:
            token_issued(request.payload.grant_type, request.client.client_id)
        nonce = dpop.fresh_nonce(self.settings, proof)
        if nonce is not None:
            headers = [*headers, (NONCE_HEADER, nonce)]
        return status, body, headers

    async def introspection_response(
        self, request: Request
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        """RFC 7662 on the event loop, as grants are (``token_response``): the client from the
        cache, the token's state (a refresh token's row, an access token's revocation) loaded
        when Authlib asks for it. No worker thread: a resource server asks at every call."""
        await self.keyring.refresh(self.pool)
        candidates = candidate_client_ids(request)
        request.clients = {c: await self.clients.get(self.pool, c) for c in candidates}
        inline = inline_request.set(request)
        try:
            return await self._run_inline(
                request, lambda: self.create_endpoint_response("introspection", request)
            )
        finally:
            inline_request.reset(inline)

    async def _run_inline(
        self, request: Request, respond: Callable[[], tuple[int, Any, list[tuple[str, str]]]]
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        for _ in range(MAX_PASSES):
            try:
                result = respond()
                return result
            except Load as needed:
                if needed.grouped is not None:
                    request.loaded[needed.key] = await needed.grouped()
                    continue
                async with self.pool.acquire() as conn:
                    request.loaded[needed.key] = await needed.work(conn)
        raise RuntimeError(f"a grant still needed data after {MAX_PASSES} loads")

    def load(
        self,
        key: str,
        work: Callable[[Conn], Coroutine[Any, Any, T]],
        grouped: Callable[[], Coroutine[Any, Any, T]] | None = None,
    ) -> T:
        """What a storage hook reads or consumes: loaded by ``token_response`` on the loop when
        Authlib runs there (see ``Load``; ``grouped``, the same work with other requests'),
        else fetched from the worker thread (``call``)."""
        request = inline_request.get()
        if request is None or request.clients is None:
            return self.call(work)
        if key in request.loaded:
            loaded: T = request.loaded[key]
            return loaded
        raise Load(key, work, grouped)

    async def close(self) -> None:
        """Write the token and proof rows still queued, then stop the worker threads."""
        await self.access_tokens.close()
        await self.token_pairs.close()
        await self.rotations.close()
        await self.dpop_proofs.close()
        self.stop()

    def stop(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # Authlib storage hooks (in worker threads; inline, preloaded, for client credentials).

    def query_client(self, client_id: str) -> OAuthClient | None:
        request = inline_request.get()
        if request is not None and request.clients is not None:
            if client_id not in request.clients:
                raise RuntimeError("client not preloaded")
            return request.clients[client_id]
        stored = self.call(lambda conn: client_repository.get(conn, client_id))
        return None if stored is None else OAuthClient.of(stored, self.settings.secret_key)

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
            expires_at=as_datetime(issued["exp"]),
        )
        # RFC 9449 §5.0, §5.8: a public client's refresh token is bound to the proof's key (a
        # refresh checked it against the previous token's binding: it is kept on rotation);
        # a confidential client's is not, since it authenticates to use it.
        proof = dpop.proof_of(request)
        refresh_jkt = proof.jkt if proof is not None and request.client.public else None

        pair = (
            None
            if not refresh
            else TokenPair(
                jti=access.jti,
                access_expires_at=access.expires_at,
                token_hash=crypto.keyed_hash(settings.secret_key, refresh),
                family_id=issued["family_id"],
                client_id=access.client_id,
                user_id=issued["user_id"],
                session_id=issued["session_id"],
                scope=token.get("scope", ""),
                auth_time=as_datetime(issued["auth_time"]),
                expires_at=datetime.now(UTC) + timedelta(seconds=settings.refresh_token_ttl),
                resource=issued.get("resource"),
                dpop_jkt=refresh_jkt,
                replaces=request.replaces,
            )
        )

        async def save(conn: Conn) -> bool:
            # One statement either way: atomic by itself, no BEGIN/COMMIT round trips around it.
            if pair is None:
                await grant_repository.insert_access_tokens(conn, [access.values()])
                return True
            (written,) = await grant_repository.insert_token_pairs(conn, [pair])
            return written

        async def write_access() -> bool:
            await self.access_tokens.write(access)
            return True

        if request.clients is not None and pair is not None:
            # A token pair (refresh and code grants): written with the pairs of concurrent
            # grants (``TokenPairWriter``) after Authlib returns, before the response leaves.
            request.deferred.append(lambda: self.token_pairs.write(pair))
            return
        if request.clients is not None:
            # An access token alone (client credentials): written with the rows of concurrent
            # grants (``AccessTokenWriter``) after Authlib returns, before the response leaves.
            request.deferred.append(write_access)
            return
        if not self.call(save):
            raise replaced_token_revoked()
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
            basic_id = basic_client_id(request)
            if "client_secret" in request.form or (body_id is not None and body_id != basic_id):
                raise InvalidRequestError("Use one client authentication method per request.")
        client: OAuthClient = super().authenticate_client(request, methods, endpoint)
        # RFC 9449 §5.2 dpop_bound_access_tokens (and FAPI 2.0 Security Profile §5.3.2.1:
        # sender-constrained tokens only): such a client's request without a proof is refused
        # before any grant is used up.
        bound = client.dpop_bound or client.fapi
        proof = dpop.proof_of(request)
        if endpoint == "token" and bound and proof is None:
            raise dpop.InvalidDPoPProofError("This client must send a DPoP proof.")
        if client.fapi and proof is not None and proof.alg not in FAPI_ASSERTION_ALGORITHMS:
            # FAPI 2.0 Security Profile §5.4.1: PS256, ES256 or EdDSA for every signature.
            raise dpop.InvalidDPoPProofError(
                "A FAPI client signs its DPoP proofs with ES256, PS256 or EdDSA, not RS256."
            )
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
        proof = dpop.proof_of(request)
        if proof is not None:
            # RFC 9449 §6.1: the token is bound to the proof's key by its thumbprint.
            claims["cnf"] = {"jkt": proof.jkt}
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
            claims.update(sub=client.client_id, aud=self._audience(request, scope), roles=[])
        access_token = jwt.encode(
            {"alg": key.alg, "typ": "at+jwt", "kid": key.kid}, claims, key.key
        )
        token: dict[str, Any] = {
            # RFC 9449 §5.1: a bound token's type is DPoP.
            "token_type": "Bearer" if proof is None else "DPoP",
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

    def _audience(self, request: Request, scope: str) -> str:
        """A client's own token (client credentials): the resource it names, else the Shared
        Signals API when it was granted a scope of that API, else itself."""
        client: OAuthClient = request.client
        named = requested_resource(request)
        if named:
            return named
        if asks_for_signals(scope):
            return ssf_resource(self.settings.issuer)
        return client.client_id

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

    def _claims_once(self, token: str) -> dict[str, Any] | None:
        """``decode_access_token``, once per request: when Authlib runs again after a load
        (``Load``), the signature it checked is not checked a second time."""
        request = inline_request.get()
        if request is None:
            return self.decode_access_token(token)
        key = f"access-token-claims:{token}"
        if key not in request.loaded:
            request.loaded[key] = self.decode_access_token(token)
        claims: dict[str, Any] | None = request.loaded[key]
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
            return self.load(
                f"refresh-token:{token_hash}",
                lambda conn: grant_repository.get_refresh_token(conn, token_hash),
            )
        claims = self._claims_once(token_string)
        if claims is None:
            return None
        jti = str(claims.get("jti", ""))
        revoked = self.load(
            f"revoked:{jti}", lambda conn: grant_repository.access_token_revoked(conn, jti)
        )
        return AccessTokenInfo(claims=claims, revoked=revoked)
