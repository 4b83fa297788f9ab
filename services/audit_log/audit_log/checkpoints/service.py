"""Signed checkpoints (RFC 9162 §4.10 signed tree heads, in the C2SP checkpoint format), issued
periodically when the tree has grown and on demand. Replicas take turns through an advisory
lock, so two never sign at once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit_log.checkpoints.note import Checkpoint, sign, verifier_key
from audit_log.checkpoints.repository import (
    CheckpointRepository,
    StoredCheckpoint,
    checkpoint_repository,
)
from audit_log.tree.service import TreeService
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn
from vigie_shared.kit.secrets import derive_key, open_sealed, seal

log = logging.getLogger(__name__)

SIGNING_KEY_PURPOSE = "vigie audit_log checkpoint signing key v1"
"""HKDF ``info`` of the key that seals the stored signing keys: changing it would leave every
stored key unreadable."""


@dataclass(frozen=True)
class SignedCheckpoint:
    id: int
    tree_size: int
    root_hash: bytes
    issued_at: datetime
    note: str
    verifier_key: str


def _signed(stored: StoredCheckpoint) -> SignedCheckpoint:
    return SignedCheckpoint(
        id=stored.id,
        tree_size=stored.tree_size,
        root_hash=stored.root_hash,
        issued_at=stored.issued_at,
        note=stored.note,
        verifier_key=verifier_key(stored.key_name, stored.public_key),
    )


class CheckpointService:
    def __init__(
        self,
        tree: TreeService,
        *,
        origin: str,
        secret: str,
        repository: CheckpointRepository = checkpoint_repository,
    ) -> None:
        self._tree = tree
        self.origin = origin
        self._key = derive_key(secret, SIGNING_KEY_PURPOSE)
        self._repository = repository

    async def _signing_key(self, conn: Conn) -> tuple[int, str, Ed25519PrivateKey]:
        key = await self._repository.signing_key(conn)
        if key is None:
            private = Ed25519PrivateKey.generate()
            raw = private.private_bytes_raw()
            public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            await self._repository.insert_key(
                conn, self.origin, public, seal(self._key, raw, public)
            )
            key = await self._repository.signing_key(conn)
            assert key is not None
        raw = open_sealed(self._key, key.private_key_ct, key.public_key)
        return key.id, key.name, Ed25519PrivateKey.from_private_bytes(raw)

    async def verifier_keys(self, conn: Conn) -> list[str]:
        async with conn.transaction():
            await self._repository.lock_writers(conn)
            await self._signing_key(conn)
        return [
            verifier_key(k.name, k.public_key) for k in await self._repository.public_keys(conn)
        ]

    async def issue(self, conn: Conn, *, only_if_grown: bool = False) -> SignedCheckpoint | None:
        """Sign the current tree head, or return the checkpoint that already signs it with the
        current key (another replica's periodic signer may have got there between the caller's
        look and this call: one tree head, one checkpoint). With ``only_if_grown``, return None
        instead when another replica holds the turn or nothing was appended since the last
        checkpoint."""
        async with conn.transaction():
            if only_if_grown:
                if not await self._repository.try_lock_writers(conn):
                    return None
            else:
                await self._repository.lock_writers(conn)
            size, root = await self._tree.current(conn)
            latest = await self._repository.latest(conn)
            key_id, name, private = await self._signing_key(conn)
            if latest is not None and latest.tree_size == size and latest.key_id == key_id:
                return None if only_if_grown else _signed(latest)
            checkpoint = Checkpoint(self.origin, size, root, utcnow())
            note = sign(checkpoint, name, private)
            await self._repository.insert(conn, size, root, checkpoint.issued_at, key_id, note)
            stored = await self._repository.latest(conn)
        assert stored is not None
        return _signed(stored)

    async def latest(self, conn: Conn) -> SignedCheckpoint | None:
        stored = await self._repository.latest(conn)
        return None if stored is None else _signed(stored)

    async def all(self, conn: Conn) -> list[SignedCheckpoint]:
        return [_signed(stored) for stored in await self._repository.all(conn)]

    async def publish(self, pool: asyncpg.Pool) -> None:
        """One run of the periodic publisher (every replica runs it; the advisory lock picks
        who signs): a checkpoint if the tree grew since the last one."""
        async with pool.acquire() as conn:
            await self.issue(conn, only_if_grown=True)
