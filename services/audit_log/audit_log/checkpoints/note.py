"""Checkpoints as C2SP signed notes (c2sp.org/signed-note, c2sp.org/tlog-checkpoint), the text
format of Go's sumdb and of transparency-dev tooling, signed with Ed25519 (RFC 8032).

A checkpoint note reads::

    <origin>\\n
    <tree size, decimal>\\n
    <root hash, standard base64>\\n
    issued-at <RFC 3339 UTC time>\\n          (extension line)
    \\n
    \\u2014 <key name> <base64(key hash (4 bytes) || Ed25519 signature (64 bytes))>\\n

The signature covers the body: every line before the blank one, each with its newline. The key
hash is ``SHA-256(key name || 0x0A || 0x01 || public key)[:4]`` and the verifier key, the one
string an outsider needs, is ``<key name>+<key hash, hex>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = b"\x01"
SIGNATURE_PREFIX = "\u2014 "


class BadNote(ValueError):
    pass


def key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    encoded = base64.b64encode(ED25519 + public_key).decode()
    return f"{name}+{key_hash(name, public_key).hex()}+{encoded}"


def parse_verifier_key(vkey: str) -> tuple[str, bytes]:
    name, key_hash_hex, encoded = vkey.split("+", 2)
    raw = base64.b64decode(encoded)
    if raw[:1] != ED25519 or len(raw) != 33 or key_hash(name, raw[1:]).hex() != key_hash_hex:
        raise BadNote("not an Ed25519 verifier key")
    return name, raw[1:]


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    issued_at: datetime

    def body(self) -> str:
        issued = self.issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        root = base64.b64encode(self.root_hash).decode()
        return f"{self.origin}\n{self.tree_size}\n{root}\nissued-at {issued}\n"


def sign(checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    body = checkpoint.body()
    public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    signature = private_key.sign(body.encode())
    encoded = base64.b64encode(key_hash(name, public) + signature).decode()
    return f"{body}\n{SIGNATURE_PREFIX}{name} {encoded}\n"


def open_note(note: str, vkey: str) -> Checkpoint:
    """Check the note's signature by ``vkey`` and parse its checkpoint; raise BadNote."""
    name, public = parse_verifier_key(vkey)
    body, sep, signatures = note.partition("\n\n")
    if not sep:
        raise BadNote("no signature block")
    body += "\n"
    wanted = key_hash(name, public)
    for line in signatures.splitlines():
        if not line.startswith(SIGNATURE_PREFIX):
            raise BadNote("malformed signature line")
        signer, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        raw = base64.b64decode(encoded)
        if signer != name or raw[:4] != wanted:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], body.encode())
        except InvalidSignature as exc:
            raise BadNote("signature does not verify") from exc
        return parse_body(body)
    raise BadNote(f"not signed by {name}")


def parse_body(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise BadNote("a checkpoint has origin, size and root lines")
    origin, size, root = lines[0], lines[1], lines[2]
    issued = next((x[len("issued-at ") :] for x in lines[3:] if x.startswith("issued-at ")), None)
    if not size.isdigit() or issued is None:
        raise BadNote("malformed checkpoint body")
    root_hash = base64.b64decode(root, validate=True)
    if len(root_hash) != 32:
        raise BadNote("root hash is not 32 bytes")
    return Checkpoint(origin, int(size), root_hash, datetime.fromisoformat(issued))
