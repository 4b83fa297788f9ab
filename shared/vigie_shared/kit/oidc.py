"""Resource-server side of the SSO: verify the gateway's JWT access tokens (RFC 9068) against
its published keys, and turn them into a principal with roles for FastAPI endpoints.

Every resource server of the project (the gateway's admin API, dpo_requests, audit_log) admits a
caller through :func:`admit`: the token must name that server in ``aud`` (RFC 9068 §4, RFC 8707
resource indicators) before its roles are even looked at, so a person's token issued to one
platform opens nothing elsewhere, whatever roles it carries. Logging a person in at the gateway
(the relying-party side) is ``kit.oidc_rp``.

A token bound to a key (RFC 9449 §6, ``cnf.jkt``) is admitted only under the ``DPoP`` scheme
with a proof of that key for this very request and token (§7.1, ``kit.dpop``); a token without
``cnf`` keeps working under ``Bearer``, as before."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from fastapi import Request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from vigie_shared.kit import dpop
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

    @classmethod
    def of(cls, claims: Mapping[str, Any]) -> Principal:
        """The caller named by a verified access token's claims (RFC 9068 §2.2)."""
        return cls(
            subject=str(claims["sub"]),
            roles=frozenset(claims.get("roles") or ()),
            client_id=claims.get("client_id"),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            claims=dict(claims),
        )


def audiences_of(claims: Mapping[str, Any]) -> list[str]:
    """``aud`` as a list: RFC 7519 §4.1.3 allows one string or an array of them."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []


def check_audience(claims: Mapping[str, Any], audience: str) -> None:
    """RFC 9068 §4: the resource server MUST check that ``aud`` names it, and reject the token
    otherwise. ``audience`` is this server's resource indicator (RFC 8707 §2), which a client
    obtains only by asking for it (``resource=``) and being registered for it."""
    if audience not in audiences_of(claims):
        raise InvalidToken(f"the token is not meant for this resource server ({audience})")


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
        public_url: str | None = None,
        proof_max_age: int = 300,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.public_url = public_url
        self.proof_max_age = proof_max_age
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
        """The principal of a token valid here: :meth:`decode`, then the audience."""
        claims = await self.decode(token)
        check_audience(claims, self.audience)
        return Principal.of(claims)

    async def decode(self, token: str) -> dict[str, Any]:
        """The claims of an access token of our issuer: its type, algorithm, signature, issuer,
        expiry and subject checked; its audience is :func:`check_audience`'s business."""
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
                exp={"essential": True},
                sub={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise InvalidToken(str(exc) or type(exc).__name__) from exc
        return dict(decoded.claims)


def unauthorized(detail: str, *, denial: str = "invalid_token") -> Problem:
    """401 with an RFC 6750 §3 ``invalid_token`` challenge (a token expired, revoked, malformed,
    or meant for another resource server)."""
    # The description is a quoted-string (RFC 9110 §5.6.4): no quote or backslash from the
    # token may break it.
    safe = detail.replace("\\", "").replace('"', "'")
    return Problem(
        401,
        "Unauthorized",
        detail,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{safe}"'},
        denial=denial,
    )


def dpop_unauthorized(error: str, detail: str, *, denial: str) -> Problem:
    """401 with an RFC 9449 §7.1 challenge of the DPoP scheme (``algs`` included)."""
    return Problem(
        401,
        "Unauthorized",
        detail,
        headers={"WWW-Authenticate": dpop.challenge(error, detail)},
        denial=denial,
    )


def request_url(request: Request, public_url: str | None) -> str:
    """The URL a client called, for a proof's ``htu`` (RFC 9449 §4.3 point 9): behind a proxy
    the service's public base URL (``public_url``, or ``app.state.public_url``) and the path
    the app received, else the URL as the app sees it."""
    base = public_url or getattr(request.app.state, "public_url", None)
    if not base:
        return str(request.url)
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else request.url.path
    return base.rstrip("/") + path.split("?", 1)[0]


def check_binding(
    request: Request,
    claims: Mapping[str, Any],
    *,
    public_url: str | None = None,
    proof_max_age: int = 300,
    replays: dpop.ReplayCache = dpop.REPLAYS,
) -> None:
    """RFC 9449 §7: a bound token (``cnf.jkt``) comes under the DPoP scheme with a proof of
    its key for this request (method, URL) and this token (``ath``), seen once; a token that is
    not bound never comes under DPoP. 401 otherwise."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    jkt = dpop.bound_key(claims)
    if jkt is None:
        if scheme.lower() == "dpop":
            raise dpop_unauthorized(
                "invalid_token", "The token is not DPoP-bound.", denial="invalid_token"
            )
        return
    if scheme.lower() != "dpop":
        # §7.2: a bound token presented as a bearer token is refused (a downgrade).
        raise dpop_unauthorized(
            "invalid_token", "A DPoP-bound token needs the DPoP scheme.", denial="dpop_downgrade"
        )
    try:
        value = dpop.proof_header(request.headers)
        if value is None:
            raise dpop.InvalidProof("A DPoP proof is required with this token.")
        proof = dpop.verify_proof(
            value,
            method=request.method,
            url=request_url(request, public_url),
            max_age=proof_max_age,
            access_token=token.strip(),
        )
        # §7.1: the proof's key is the one the token is bound to.
        if not secrets.compare_digest(proof.jkt, jkt):
            raise dpop.InvalidProof("The proof is signed by another key than the token's.")
        # §11.1: a proof is used once.
        if not replays.first_use(proof, proof_max_age):
            raise dpop.InvalidProof("The DPoP proof was already used.")
    except dpop.InvalidProof as exc:
        raise dpop_unauthorized(exc.error, str(exc), denial="invalid_dpop_proof") from exc


def admit(
    request: Request,
    claims: Mapping[str, Any],
    *,
    audience: str,
    roles: Iterable[str] = (),
    public_url: str | None = None,
    proof_max_age: int = 300,
) -> Principal:
    """The one gate of every resource server, for a token already verified (signature, issuer,
    expiry): 401 unless ``aud`` names ``audience`` (RFC 9068 §4; RFC 6750 §3.1
    ``invalid_token``), 401 unless a bound token comes with its proof (:func:`check_binding`,
    ``public_url`` the service's public base URL), then 403 without one of ``roles`` (when
    given). The principal is kept on ``request.state`` first, so that either refusal says who
    was refused (``kit.denials``): the token is authentic, only meant for someone else."""
    principal = Principal.of(claims)
    request.state.principal = principal
    try:
        check_audience(claims, audience)
    except InvalidToken as exc:
        raise unauthorized(str(exc), denial="wrong_audience") from exc
    check_binding(request, claims, public_url=public_url, proof_max_age=proof_max_age)
    wanted = tuple(roles)
    if wanted and not principal.has_any_role(wanted):
        raise Problem(
            403,
            "Forbidden",
            f"One of the roles {', '.join(wanted)} is required.",
            denial="missing_role",
        )
    return principal


def app_verifier(request: Request) -> TokenVerifier:
    """The verifier a service keeps on ``app.state.token_verifier`` (its issuer and audience)."""
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


class DenyCheck(Protocol):
    """Whether the issuer revoked a token (``kit.deny_list.DenyList``)."""

    async def denies(self, claims: Mapping[str, Any]) -> bool: ...


def app_deny_list(request: Request) -> DenyCheck | None:
    """The deny-list a resource server keeps on ``app.state.deny_list``, if it keeps one."""
    deny_list: DenyCheck | None = getattr(request.app.state, "deny_list", None)
    return deny_list


def bearer(
    verifier: Callable[[Request], TokenVerifier],
    *roles: str,
    denied: Callable[[Request], DenyCheck | None] = app_deny_list,
) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the caller's principal, refused with 401 without a valid token for
    the verifier's audience, 403 without one of ``roles`` (when given; see :func:`admit`), and
    401 when the issuer revoked the token (``denied``: RFC 7009 §2 says a revoked token is no
    longer to be honoured; a signature checked locally cannot show it, the deny-list does).
    Each refusal is recorded (``kit.denials``)."""

    async def dependency(request: Request) -> Principal:
        token = bearer_token(request)
        checker = verifier(request)
        try:
            claims = await checker.decode(token)
        except InvalidToken as exc:
            raise unauthorized(str(exc)) from exc
        principal = admit(
            request,
            claims,
            audience=checker.audience,
            roles=roles,
            public_url=checker.public_url,
            proof_max_age=checker.proof_max_age,
        )
        deny_list = denied(request)
        if deny_list is not None and await deny_list.denies(claims):
            raise unauthorized("The token was revoked.", denial="revoked_token")
        return principal

    return dependency


def bearer_token(request: Request) -> str:
    """The token of an ``Authorization: Bearer`` (RFC 6750 §2.1) or ``DPoP`` (RFC 9449 §7.1)
    header, else 401; whether the scheme fits the token is :func:`check_binding`'s business."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() not in ("bearer", "dpop") or not token.strip():
        raise Problem(
            401,
            "Unauthorized",
            "A bearer token is required.",
            headers={"WWW-Authenticate": "Bearer"},
            denial="missing_token",
        )
    return token.strip()
