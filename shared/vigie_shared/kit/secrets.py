"""The one home of the services' secret mechanics: random secrets, key derivation, keyed hashes,
CSRF tokens, authenticated encryption and signed, expiring tokens.

Every key a service uses is derived from its ``VIGIE_SECRET_KEY`` for one purpose by HKDF-SHA256
(RFC 5869), so one secret never keys two algorithms or two uses (RFC 5869 §3.2, "info").
Each caller names its purpose in a constant beside the use.

What is persisted keeps its format: keyed hashes (HMAC-SHA256 keyed by the secret itself, as the
gateway has always stored them), the HKDF-derived keys that decrypt stored signing keys and
wrapped data keys, and the ``nonce || ciphertext`` layout of sealed blobs.
Short-lived tokens were moved onto these functions and changed format once: CSRF tokens,
erasure-confirmation tokens, login-state and demo-portal cookies, and package download links.
One issued before the change is refused like any forged one (an invalid link, an expired page),
never accepted and never an error.

Every comparison of a secret is constant-time (``hmac.compare_digest``, or itsdangerous', which
uses it): a timing difference must not tell a guesser how many characters were right.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets as _random
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import BadData, Signer, URLSafeTimedSerializer

NONCE_SIZE = 12
"""96-bit GCM nonces, the length NIST SP 800-38D §8.2 recommends for random nonces."""

_CSRF_INFO = "vigie csrf {purpose}"
_SIGNER_INFO = "vigie signed token {purpose}"


class InvalidToken(Exception):
    """A token or sealed blob that is forged, tampered with, for another purpose, or expired."""


def random_token(nbytes: int = 32) -> str:
    """``nbytes`` random bytes, base64url: CSRF seeds, nonces, session tokens."""
    return _random.token_urlsafe(nbytes)


def new_secret(prefix: str) -> str:
    """A 256-bit random secret prefixed with what it is (``vigie_rt_``): a leaked one says what
    it opens, and secret scanners can find it."""
    return f"{prefix}{random_token(32)}"


def derive_key(secret_key: str | bytes, purpose: str, length: int = 32) -> bytes:
    """A key for one purpose: HKDF-SHA256 (RFC 5869) without salt, ``purpose`` as ``info``."""
    ikm = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode()).derive(
        ikm
    )


def _key_bytes(key_or_secret: str | bytes) -> bytes:
    return key_or_secret.encode() if isinstance(key_or_secret, str) else key_or_secret


def keyed_hash(key_or_secret: str | bytes, value: str) -> str:
    """HMAC-SHA256 of ``value``, hex: how high-entropy secrets are stored. They need no slow
    password hash, so verifying one costs microseconds. A ``str`` is the secret itself as the
    key (the gateway's stored hashes), ``bytes`` a key from :func:`derive_key`."""
    return hmac.new(_key_bytes(key_or_secret), value.encode(), hashlib.sha256).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two submitted or stored strings; a missing one never matches.
    Compared as UTF-8 bytes: ``compare_digest`` refuses non-ASCII ``str``, and a form field is
    whatever a client sends."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())


def matches(key_or_secret: str | bytes, value: str, stored_hash: str | None) -> bool:
    """Whether ``value`` is the secret whose keyed hash is ``stored_hash``."""
    if not stored_hash:
        return False
    return same(keyed_hash(key_or_secret, value), stored_hash)


def csrf_token(secret_key: str, binding: str, purpose: str) -> str:
    """A CSRF token bound to ``binding`` (a random seed in the session or its cookie): an HMAC
    of it under a key for ``purpose`` (OWASP CSRF Prevention Cheat Sheet, synchronizer token and
    signed double-submit cookie). Without the service's secret nobody can make one."""
    return keyed_hash(derive_key(secret_key, _CSRF_INFO.format(purpose=purpose)), binding)


def csrf_valid(secret_key: str, binding: str | None, submitted: str | None, purpose: str) -> bool:
    if not binding:
        return False
    return same(csrf_token(secret_key, binding, purpose), submitted)


def _aead(key: bytes | AESGCM) -> AESGCM:
    return key if isinstance(key, AESGCM) else AESGCM(key)


def seal(key: bytes | AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    """``nonce || AES-256-GCM(key, nonce, plaintext, aad)`` with a random 96-bit nonce (NIST
    SP 800-38D). ``aad`` binds the blob to its owner (a key id, a subject) so that a blob copied
    onto another row does not open. Pass an ``AESGCM`` built once to seal many payloads under
    one key: building it is what costs."""
    nonce = os.urandom(NONCE_SIZE)
    return nonce + _aead(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes | AESGCM, blob: bytes, aad: bytes) -> bytes:
    """The plaintext of :func:`seal`'s ``blob``; ``InvalidTag`` for another key, another
    ``aad`` or a changed byte."""
    return _aead(key).decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], aad)


def _itsdangerous_kwargs() -> dict[str, Any]:
    # The key is already HKDF-derived for the purpose; HMAC-SHA256 rather than the library's
    # default SHA-1, like every other MAC here.
    return {"key_derivation": "none", "digest_method": hashlib.sha256}


def _serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    key = derive_key(secret_key, _SIGNER_INFO.format(purpose=purpose))
    return URLSafeTimedSerializer(key, salt=purpose.encode(), signer_kwargs=_itsdangerous_kwargs())


def sign_token(secret_key: str, purpose: str, payload: Any) -> str:
    """``payload`` (JSON) signed and timestamped for ``purpose`` (itsdangerous'
    ``URLSafeTimedSerializer``). Readable by whoever holds it: sign, never hide, with it."""
    return _serializer(secret_key, purpose).dumps(payload)


def read_token(secret_key: str, purpose: str, token: str, *, max_age: int) -> Any:
    """The payload of a token signed for ``purpose`` less than ``max_age`` seconds ago;
    :class:`InvalidToken` otherwise (forged, tampered, for another purpose, expired)."""
    try:
        return _serializer(secret_key, purpose).loads(token, max_age=max_age)
    except BadData as exc:
        raise InvalidToken(str(exc)) from exc


def _signer(secret_key: str, purpose: str) -> Signer:
    key = derive_key(secret_key, _SIGNER_INFO.format(purpose=purpose))
    return Signer(key, salt=purpose.encode(), **_itsdangerous_kwargs())


def sign_value(secret_key: str, purpose: str, value: str) -> str:
    """``value.<signature>``: ``value`` stays readable, for links whose expiry is part of the
    value (an absolute date) rather than an age."""
    return _signer(secret_key, purpose).sign(value).decode()


def signed_value(secret_key: str, purpose: str, token: str) -> str:
    """The value of :func:`sign_value`'s token; :class:`InvalidToken` if it was not signed so."""
    try:
        return _signer(secret_key, purpose).unsign(token).decode()
    except BadData as exc:
        raise InvalidToken(str(exc)) from exc


__all__ = [
    "NONCE_SIZE",
    "InvalidTag",
    "InvalidToken",
    "csrf_token",
    "csrf_valid",
    "derive_key",
    "keyed_hash",
    "matches",
    "new_secret",
    "open_sealed",
    "random_token",
    "read_token",
    "same",
    "seal",
    "sign_token",
    "sign_value",
    "signed_value",
]
