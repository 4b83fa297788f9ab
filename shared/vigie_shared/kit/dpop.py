"""DPoP proofs (RFC 9449): the one check of a proof, shared by the gateway's token and UserInfo
endpoints and by every resource server (``kit.oidc``).

A proof is a JWT the client signs with a key of its own, whose public half rides in the header;
the key's thumbprint (RFC 7638, ``jkt``) is what an access token is bound to (``cnf.jkt``,
RFC 9449 §6). What is checked here is RFC 9449 §4.3 in full, except that the ``jti`` was not
seen before: where that is remembered differs (PostgreSQL at the gateway, which has two
replicas; :class:`ReplayCache` per process at the stateless resource servers).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, JWKRegistry, OKPKey, RSAKey

DPOP_SIGNING_ALG_VALUES_SUPPORTED = ("ES256", "PS256", "RS256", "EdDSA")
"""RFC 9449 §5.1 ``dpop_signing_alg_values_supported``: asymmetric algorithms only (§4.3
point 5: never ``none``, never a MAC, which would need a secret the server does not have)."""

PROOF_TYP = "dpop+jwt"
HEADER = "DPoP"
NONCE_HEADER = "DPoP-Nonce"

_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
"""RFC 7518 §6.2.2, §6.3.2 and §6.4, RFC 8037 §2: members a public JWK never has (``k``: a
symmetric key is all secret)."""


class _ProofRegistry(jws.JWSRegistry):
    # The public key rides in the header (§4.2): an RSA one of 4096 bits is some 1 KiB there,
    # past joserfc's default limit for headers.
    max_header_length = 2048


_REGISTRY = _ProofRegistry(algorithms=list(DPOP_SIGNING_ALG_VALUES_SUPPORTED))
# RFC 9864 prefers "Ed25519" to "EdDSA"; RFC 9449 clients and discovery still say "EdDSA".
warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)


class InvalidProof(Exception):
    """RFC 9449 §5 ``invalid_dpop_proof`` (§7.1: ``invalid_dpop_proof`` at a resource server)."""

    error = "invalid_dpop_proof"


class NonceRequired(InvalidProof):
    """RFC 9449 §8: the server requires a nonce of its own in the proof (``use_dpop_nonce``);
    the answer carries a fresh one in ``DPoP-Nonce``."""

    error = "use_dpop_nonce"


@dataclass(frozen=True, slots=True)
class Proof:
    """A proof that passed :func:`verify_proof`: ``jkt`` the RFC 7638 thumbprint of its key,
    ``jti`` and ``iat`` what the replay check keeps, ``nonce`` the server nonce it carried,
    ``alg`` what it was signed with (a profile may allow fewer)."""

    jkt: str
    jti: str
    iat: int
    nonce: str | None
    alg: str = "ES256"


def b64url_sha256(value: str) -> str:
    """base64url (no padding) of SHA-256: the ``ath`` of an access token (RFC 9449 §4.2)."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _normal_percent(match: re.Match[str]) -> str:
    char = chr(int(match.group(0)[1:], 16))
    return char if char in _UNRESERVED else match.group(0).upper()


def normalise_htu(url: str) -> str:
    """A URI as RFC 9449 §4.3 point 9 compares ``htu``: without query and fragment, normalised
    per RFC 3986 §6.2.2 and §6.2.3 (scheme and host in lower case, percent-encodings in upper
    case and unreserved ones decoded, the scheme's default port and an empty path made
    explicit)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    path = _PERCENT.sub(_normal_percent, parts.path) or "/"
    return urlunsplit((scheme, netloc, path, "", ""))


def proof_header(headers: Mapping[str, str]) -> str | None:
    """The request's DPoP proof, None without one; RFC 9449 §4.3 point 1: one header field at
    most (a request with two is refused, whichever would have been read)."""
    getlist: Callable[[str], list[str]] | None = getattr(headers, "getlist", None)
    values = getlist(HEADER) if getlist is not None else None
    if values is not None and len(values) > 1:
        raise InvalidProof("Send one DPoP header.")
    value = headers.get(HEADER)
    if value is None:
        return None
    # §4.3 point 2: one well-formed JWT (compact serialisation, three parts).
    if "," in value or value.count(".") != 2:
        raise InvalidProof("The DPoP header holds one JWT.")
    return value.strip()


def _public_key(header: Mapping[str, Any]) -> ECKey | RSAKey | OKPKey:
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise InvalidProof("The proof's header names no public key (jwk).")
    # §4.3 point 7: "the jwk JOSE Header Parameter does not contain a private key".
    if _PRIVATE_MEMBERS.intersection(jwk):
        raise InvalidProof("The proof's jwk is a private or symmetric key.")
    try:
        key = JWKRegistry.import_key(jwk)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise InvalidProof("The proof's jwk is not a usable public key.") from exc
    if not isinstance(key, ECKey | RSAKey | OKPKey):
        raise InvalidProof("The proof's jwk is not an asymmetric key.")
    return key


def verify_proof(
    proof: str,
    *,
    method: str,
    url: str,
    max_age: int,
    access_token: str | None = None,
    nonce: Callable[[str | None], None] | None = None,
    now: float | None = None,
) -> Proof:
    """The checks of RFC 9449 §4.3 on ``proof`` for a ``method`` request to ``url``, except
    the ``jti``'s first use (the caller's store). ``access_token``: the token presented with
    it, whose hash ``ath`` must carry (§4.3 point 11, §7); ``nonce``: the server's nonce
    check, raising :class:`NonceRequired` (§8, §4.3 point 10). :class:`InvalidProof` names
    the rule broken."""
    try:
        header = jws.extract_compact(proof.encode(), registry=_REGISTRY).protected
    except (JoseError, ValueError, UnicodeError) as exc:
        raise InvalidProof("The DPoP proof is not a JWT.") from exc
    # §4.3 point 4: typ dpop+jwt; point 5: an asymmetric algorithm this server supports.
    if str(header.get("typ", "")).lower() != PROOF_TYP:
        raise InvalidProof("The proof's typ must be dpop+jwt.")
    if header.get("alg") not in DPOP_SIGNING_ALG_VALUES_SUPPORTED:
        raise InvalidProof("The proof's algorithm is not supported.")
    key = _public_key(header)
    # §4.3 point 6: the signature verifies with the key in the header.
    try:
        signed = jws.deserialize_compact(
            proof, key, algorithms=DPOP_SIGNING_ALG_VALUES_SUPPORTED, registry=_REGISTRY
        )
        claims = json.loads(signed.payload)
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidProof("The proof's signature does not verify with its jwk.") from exc
    if not isinstance(claims, dict):
        raise InvalidProof("The proof's payload is not a JSON object.")
    _check_claims(claims, method=method, url=url, max_age=max_age, now=now)
    # §4.3 point 11, §7: the proof is for this very token.
    if access_token is not None and claims.get("ath") != b64url_sha256(access_token):
        raise InvalidProof("The proof's ath is not the hash of the access token.")
    if nonce is not None:
        nonce(claims.get("nonce") if isinstance(claims.get("nonce"), str) else None)
    return Proof(
        jkt=key.thumbprint(),
        jti=str(claims["jti"]),
        iat=int(claims["iat"]),
        nonce=claims.get("nonce") if isinstance(claims.get("nonce"), str) else None,
        alg=str(header["alg"]),
    )


def _check_claims(
    claims: Mapping[str, Any], *, method: str, url: str, max_age: int, now: float | None
) -> None:
    # §4.2: jti is required, "a unique identifier for the DPoP proof JWT".
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise InvalidProof("The proof has no jti.")
    # §4.3 point 8: htm matches the request's method (case-sensitive, RFC 9110 §9.1).
    if claims.get("htm") != method:
        raise InvalidProof("The proof's htm is not this request's method.")
    # §4.3 point 9: htu matches the request's URI, without query and fragment, normalised.
    htu = claims.get("htu")
    if not isinstance(htu, str) or normalise_htu(htu) != normalise_htu(url):
        raise InvalidProof("The proof's htu is not this request's URI.")
    # §4.3 point 11 (iat within an acceptable window) and §11.1: as far ahead as behind,
    # which bounds how long a jti must be remembered.
    iat = claims.get("iat")
    if type(iat) is not int:
        raise InvalidProof("The proof has no integer iat.")
    current = time.time() if now is None else now
    if abs(current - iat) > max_age:
        raise InvalidProof("The proof's iat is outside the accepted window.")


def bound_key(claims: Mapping[str, Any]) -> str | None:
    """The ``cnf.jkt`` an access token is bound to (RFC 9449 §6.1), None when it is not."""
    cnf = claims.get("cnf")
    if isinstance(cnf, dict) and isinstance(cnf.get("jkt"), str):
        jkt: str = cnf["jkt"]
        return jkt
    return None


def challenge(error: str | None = None, description: str | None = None) -> str:
    """A ``WWW-Authenticate`` challenge of the DPoP scheme (RFC 9449 §7.1), with the
    algorithms accepted (``algs``)."""
    params = []
    if error:
        params.append(f'error="{error}"')
    if description:
        safe = description.replace("\\", "").replace('"', "'")
        params.append(f'error_description="{safe}"')
    params.append(f'algs="{" ".join(DPOP_SIGNING_ALG_VALUES_SUPPORTED)}"')
    return "DPoP " + ", ".join(params)


class ReplayCache:
    """The ``jti``s of proofs accepted by this process, each kept as long as its proof could
    be accepted (RFC 9449 §11.1): twice the window, since ``iat`` may be as far ahead as behind.

    For resource servers, which are stateless and have many replicas: a process refuses a
    proof it has seen, but another replica could accept it once. That is acceptable because a
    proof is good for one method, one URI and one access token (``ath``), for a few minutes,
    and only to someone who captured it from inside TLS; the token alone is useless without
    the key (§11.1 expects exactly this trade-off from servers that cannot share state).

    ``max_entries`` bounds memory (about 150 bytes an entry, so some 30 MB at the default):
    only a caller with a valid bound token reaches the cache, and when it is full of proofs
    still in their window a new proof is refused (fails closed) rather than an old one
    forgotten, which would reopen its replay.
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self._max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, proof: Proof, max_age: int, now: float | None = None) -> bool:
        """True, and remembered, when this (key, jti) was not seen within the window."""
        current = time.monotonic() if now is None else now
        key = f"{proof.jkt}:{proof.jti}"
        with self._lock:
            while self._seen:
                oldest, expires = next(iter(self._seen.items()))
                if expires > current:
                    break
                del self._seen[oldest]
            if key in self._seen:
                return False
            if len(self._seen) >= self._max_entries:
                raise InvalidProof("Too many DPoP proofs in the window; try again shortly.")
            self._seen[key] = current + 2 * max_age
            return True

    def __len__(self) -> int:
        return len(self._seen)


REPLAYS = ReplayCache()
"""This process's replay cache (resource servers)."""

__all__ = [
    "DPOP_SIGNING_ALG_VALUES_SUPPORTED",
    "HEADER",
    "NONCE_HEADER",
    "REPLAYS",
    "InvalidProof",
    "NonceRequired",
    "Proof",
    "ReplayCache",
    "b64url_sha256",
    "bound_key",
    "challenge",
    "normalise_htu",
    "proof_header",
    "verify_proof",
]
