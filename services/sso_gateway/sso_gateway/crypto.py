"""Secrets the gateway hands out (client secrets, refresh tokens, session cookies) and the
encryption of its private signing keys at rest, through the kit (kit/secrets.py).

Secrets are 256-bit random values with a prefix saying what they are (``vigie_cs_`` client
secret, ``vigie_rt_`` refresh token, ``vigie_st_`` session token). Only an
HMAC-SHA256 of each, keyed with the service secret, is stored, and compared in constant time.
"""

from __future__ import annotations

from vigie_shared.kit.secrets import derive_key, keyed_hash, matches, new_secret, open_sealed, seal

SIGNING_KEYS_PURPOSE = "vigie sso signing keys v1"
"""HKDF ``info`` of the key that encrypts the stored signing keys: changing it would make every
stored private key undecryptable."""

__all__ = ["decrypt", "encrypt", "keyed_hash", "matches", "new_secret"]


def encrypt(secret_key: str, plaintext: bytes, *, context: str) -> bytes:
    """AES-256-GCM; ``context`` (the key id) is bound as associated data so that a ciphertext
    cannot be swapped onto another row."""
    return seal(derive_key(secret_key, SIGNING_KEYS_PURPOSE), plaintext, context.encode())


def decrypt(secret_key: str, blob: bytes, *, context: str) -> bytes:
    return open_sealed(derive_key(secret_key, SIGNING_KEYS_PURPOSE), blob, context.encode())
