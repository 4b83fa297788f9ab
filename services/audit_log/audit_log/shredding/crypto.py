"""Envelope encryption for crypto-shredding: a data key per (subject, topic, month) seals the
personal payload with AES-256-GCM; the data key is wrapped under a key-encryption key derived
from ``VIGIE_SECRET_KEY`` (HKDF-SHA256, RFC 5869). Destroying a wrapped data key makes every
ciphertext it sealed unreadable, while the ciphertext (and so the Merkle leaf) stays.

The mechanics are the kit's (kit/secrets.py); the purposes are this service's."""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vigie_shared.kit import secrets
from vigie_shared.kit.secrets import open_sealed, seal

SUBJECT_KEYS_PURPOSE = "vigie audit_log subject keys v1"
"""HKDF ``info`` of the key that wraps the data keys: changing it would shred every entry."""

__all__ = ["SUBJECT_KEYS_PURPOSE", "KeyWrapper"]


class KeyWrapper:
    """Wraps data keys under the key-encryption key; ``aad`` binds a wrapped key to its owner so
    a row copied onto another subject does not decrypt."""

    def __init__(self, secret: str, purpose: str = SUBJECT_KEYS_PURPOSE) -> None:
        self._kek = AESGCM(secrets.derive_key(secret, purpose))

    def new_wrapped(self, aad: bytes) -> tuple[bytes, bytes]:
        data_key = AESGCM.generate_key(bit_length=256)
        return data_key, seal(self._kek, data_key, aad)

    def wrap(self, data: bytes, aad: bytes) -> bytes:
        return seal(self._kek, data, aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        return open_sealed(self._kek, wrapped, aad)
