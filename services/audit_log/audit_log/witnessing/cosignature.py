"""Witness cosignatures (c2sp.org/tlog-cosignature, ``cosignature/v1``): a note signature line
``— <witness name> <base64(key hash[4] || timestamp[8] || Ed25519 signature[64])>`` whose
signature covers ``cosignature/v1\\ntime <timestamp>\\n`` followed by the checkpoint body. The
witness's vkey is ``<name>+<key hash hex>+<base64(0x04 || public key)>``, key hash
``SHA-256(name || 0x0A || 0x04 || public key)[:4]`` (c2sp.org/signed-note)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit_log.checkpoints.note import SIGNATURE_PREFIX

COSIGNATURE_V1 = b"\x04"


class BadCosignature(ValueError):
    pass


@dataclass(frozen=True)
class WitnessKey:
    name: str
    key_hash: bytes
    public_key: bytes

    @classmethod
    def parse(cls, vkey: str) -> WitnessKey:
        try:
            name, key_hash_hex, encoded = vkey.split("+", 2)
            raw = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise BadCosignature("not a verifier key") from exc
        digest = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
        if raw[:1] != COSIGNATURE_V1 or len(raw) != 33 or digest.hex() != key_hash_hex:
            raise BadCosignature("not a cosignature/v1 verifier key")
        return cls(name, digest, raw[1:])


def verify(line: str, body: str, key: WitnessKey) -> int:
    """The cosignature's timestamp (UNIX seconds) if ``line`` is ``key``'s cosignature of the
    checkpoint ``body`` (its lines before the blank one, each with its newline)."""
    signer, _, encoded = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise BadCosignature("not base64") from exc
    if not line.startswith(SIGNATURE_PREFIX) or signer != key.name or raw[:4] != key.key_hash:
        raise BadCosignature(f"not a cosignature by {key.name}")
    if len(raw) != 4 + 8 + 64:
        raise BadCosignature("a cosignature/v1 is 76 bytes")
    (timestamp,) = struct.unpack(">Q", raw[4:12])
    message = b"cosignature/v1\ntime %d\n" % timestamp + body.encode()
    try:
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(raw[12:], message)
    except InvalidSignature as exc:
        raise BadCosignature(f"{key.name}'s cosignature does not verify") from exc
    return int(timestamp)
