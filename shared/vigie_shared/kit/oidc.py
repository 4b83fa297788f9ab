"""Resource-server side of the SSO: verify the gateway's JWT access tokens (RFC 9068) against
its published keys, and turn them into a principal with roles for FastAPI endpoints."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import Request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from vigie_shared.kit.http import Problem

ALGORITHMS = ("ES256", "RS256")


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class Principal:
    """Who calls: a person (``sub`` = user id) or a service (client credentials)."""

    subject: str
    roles: frozenset[str] = frozenset()
    client_id: str | None = None
    scopes: frozenset[str] = frozenset()
    claims: dict[str, Any] = field(default_factory=dict)

    def has_any_role(self, roles: Iterable[str]) -> bool:
        return bool(self.roles.intersection(roles))


class TokenVerifier:
    """Verifies access tokens issued by ``issuer`` for ``audience``.

    Keys come from the issuer's discovery document (OIDC Discovery 1.0 §4) and are cached; a
    token signed with a key id not yet seen triggers one refresh, at most every
    ``min_refresh`` seconds, which is how a rotated-in key is picked up (RFC 7517 §4.5).
    """

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        http: httpx.AsyncClient | None = None,
        cache_ttl: float = 300.0,
        min_refresh: float = 10.0,
        leeway: int = 30,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self._http = http
        self._cache_ttl = cache_ttl
        self._min_refresh = min_refresh
        self._leeway = leeway
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def _fetch_keys(self) -> KeySet:
        client = self._http or httpx.AsyncClient(timeout=5.0)
        try:
            discovery = (await client.get(f"{self.issuer}/.well-known/openid-configuration")).json()
            if discovery.get("issuer", "").rstrip("/") != self.issuer:
                raise InvalidToken("discovery document names another issuer")
            jwks = (await client.get(discovery["jwks_uri"])).json()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise InvalidToken(f"cannot fetch the issuer's keys: {exc}") from exc
        finally:
            if self._http is None:
                await client.aclose()
        return KeySet.import_key_set(jwks)

    async def keys(self, *, kid: str | None = None) -> KeySet:
        async with self._lock:
            now = time.monotonic()
            stale = self._keys is None or now - self._fetched_at > self._cache_ttl
            unknown_kid = (
                kid is not None
                and self._keys is not None
                and all(k.kid != kid for k in self._keys.keys)
                and now - self._fetched_at > self._min_refresh
            )
            if stale or unknown_kid:
                self._keys = await self._fetch_keys()
                self._fetched_at = now
            assert self._keys is not None
            return self._keys

    async def verify(self, token: str) -> Principal:
        try:
            header = jws.extract_compact(token.encode()).protected
        except (JoseError, ValueError) as exc:
            raise InvalidToken("malformed token") from exc
        # RFC 9068 §4: resource servers MUST check typ, so an ID token is never taken for an
        # access token; RFC 8725 §3.1: only the algorithms we issue, never "none" or HMAC.
        if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
            raise InvalidToken("not an access token (typ must be at+jwt)")
        if header.get("alg") not in ALGORITHMS:
            raise InvalidToken("algorithm not allowed")
        keys = await self.keys(kid=header.get("kid"))
        try:
            decoded = jwt.decode(token, keys, algorithms=list(ALGORITHMS))
            jwt.JWTClaimsRegistry(
                leeway=self._leeway,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience},
                exp={"essential": True},
                sub={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise InvalidToken(str(exc) or type(exc).__name__) from exc
        claims = decoded.claims
        return Principal(
            subject=str(claims["sub"]),
            roles=frozenset(claims.get("roles") or ()),
            client_id=claims.get("client_id"),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            claims=dict(claims),
        )


def _unauthorized(detail: str, error: str = "invalid_token") -> Problem:
    # RFC 6750 §3: a 401 carries a Bearer challenge saying what was wrong. The description is
    # a quoted-string (RFC 9110 §5.6.4): no quote or backslash from the token may break it.
    safe = detail.replace("\\", "").replace('"', "'")
    return Problem(
        401,
        "Unauthorized",
        detail,
        headers={"WWW-Authenticate": f'Bearer error="{error}", error_description="{safe}"'},
        denial="invalid_token",
    )


def bearer(
    verifier: Callable[[Request], TokenVerifier], *roles: str
) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the caller's principal, refused with 401 without a valid token and
    403 without one of ``roles`` (when given). Each refusal is recorded (``kit.denials``); the
    principal is kept on ``request.state`` so that a later refusal can say who was refused."""

    async def dependency(request: Request) -> Principal:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Problem(
                401,
                "Unauthorized",
                "A bearer token is required.",
                headers={"WWW-Authenticate": "Bearer"},
                denial="missing_token",
            )
        try:
            principal = await verifier(request).verify(token.strip())
        except InvalidToken as exc:
            raise _unauthorized(str(exc)) from exc
        request.state.principal = principal
        if roles and not principal.has_any_role(roles):
            raise Problem(
                403,
                "Forbidden",
                f"One of the roles {', '.join(roles)} is required.",
                denial="missing_role",
            )
        return principal

    return dependency
