"""Envelope encryption for crypto-shredding: a data key per (subject, topic, month) seals the
personal payload with AES-256-GCM; the data key is wrapped under a key-encryption key derived
from ``VIGIE_SECRET_KEY`` (HKDF-SHA256, RFC 5869). Destroying a wrapped data key makes every
ciphertext it sealed unreadable, while the ciphertext (and so the Merkle leaf) stays."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_SIZE = 12


def derive_key(secret: str, purpose: bytes) -> bytes:
    """A 256-bit key for one purpose, so one secret never keys two algorithms (RFC 5869 §3.2)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode()
    )


def seal(key: bytes | AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    """``nonce || AES-GCM(key, nonce, plaintext, aad)`` with a random 96-bit nonce. Pass an
    ``AESGCM`` built once to seal many payloads under one key (it is what costs, not the key)."""
    aead = key if isinstance(key, AESGCM) else AESGCM(key)
    nonce = os.urandom(NONCE_SIZE)
    return nonce + aead.encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes | AESGCM, sealed: bytes, aad: bytes) -> bytes:
    aead = key if isinstance(key, AESGCM) else AESGCM(key)
    return aead.decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], aad)


class KeyWrapper:
    """Wraps data keys under the key-encryption key; ``aad`` binds a wrapped key to its owner so
    a row copied onto another subject does not decrypt."""

    def __init__(self, secret: str, purpose: bytes = b"vigie audit_log subject keys v1") -> None:
        self._kek = AESGCM(derive_key(secret, purpose))

    def new_wrapped(self, aad: bytes) -> tuple[bytes, bytes]:
        data_key = AESGCM.generate_key(bit_length=256)
        return data_key, seal(self._kek, data_key, aad)

    def wrap(self, data: bytes, aad: bytes) -> bytes:
        return seal(self._kek, data, aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        return open_sealed(self._kek, wrapped, aad)
