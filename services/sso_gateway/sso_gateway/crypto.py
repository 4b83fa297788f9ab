"""Secrets the gateway hands out (client secrets, refresh tokens, session cookies) and the
encryption of its private signing keys at rest.

Secrets are 256-bit random values with a prefix saying what they are (``vigie_cs_`` client
secret, ``vigie_rt_`` refresh token, ``vigie_st_`` session token, STYLE.md rule 8). Only an
HMAC-SHA256 of each, keyed with the service secret, is stored: high-entropy secrets need no slow
password hash, so verifying one on the token path costs microseconds, and the comparison is done
in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def new_secret(prefix: str) -> str:
    return f"{prefix}{secrets.token_urlsafe(32)}"


def keyed_hash(secret_key: str, value: str) -> str:
    return hmac.new(secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()


def matches(secret_key: str, value: str, stored_hash: str | None) -> bool:
    if not stored_hash:
        return False
    return hmac.compare_digest(keyed_hash(secret_key, value), stored_hash)


def _aead(secret_key: str) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"vigie sso signing keys v1"
    ).derive(secret_key.encode())
    return AESGCM(key)


def encrypt(secret_key: str, plaintext: bytes, *, context: str) -> bytes:
    """AES-256-GCM; ``context`` (the key id) is bound as associated data so that a ciphertext
    cannot be swapped onto another row."""
    nonce = os.urandom(12)
    return nonce + _aead(secret_key).encrypt(nonce, plaintext, context.encode())


def decrypt(secret_key: str, blob: bytes, *, context: str) -> bytes:
    return _aead(secret_key).decrypt(blob[:12], blob[12:], context.encode())
