"""Signing keys: ES256 by default, RS256 for older platforms; private halves encrypted at rest.

Rotation keeps an overlap on both sides (RFC 7517 §4.5, OIDC Core §10.1.1): the new key is
published in the JWKS ``key_publish_delay`` seconds before it signs, so relying parties' caches
hold it by the time they meet it; the old key stops signing then but stays published until
every token it signed has expired.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from joserfc.jwk import ECKey, KeyParameters, KeySet, RSAKey

from sso_gateway import crypto
from sso_gateway.keys.records import PublishedKey
from sso_gateway.keys.repository import KeyRepository, key_repository
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn

ALGORITHMS = ("ES256", "RS256")
Key = ECKey | RSAKey


def _generate(alg: str, kid: str) -> Key:
    params: KeyParameters = {"kid": kid, "alg": alg, "use": "sig"}
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=params, private=True)
    return RSAKey.generate_key(2048, parameters=params, private=True)


@dataclass(frozen=True)
class StoredKey:
    kid: str
    alg: str
    key: Key
    public_jwk: dict[str, Any]
    activates_at: datetime
    retires_at: datetime | None


class KeyRing:
    """The published keys, decrypted once and cached in memory; signing never waits on the
    database. ``refresh`` re-reads the key table at most every ``max_age`` seconds (or when
    forced) but decrypts and imports only keys it has not seen: an RSA private key import costs
    milliseconds of CPU, on the event loop, which every request would otherwise pay for in
    turn."""

    def __init__(self, secret_key: str, *, max_age: float = 5.0) -> None:
        self._secret_key = secret_key
        self._max_age = max_age
        self._keys: list[StoredKey] = []
        self._imported: dict[str, Key] = {}
        self._jwks_json = b'{"keys":[]}'
        self._key_set = KeySet([])
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def refresh(self, pool: asyncpg.Pool, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._loaded_at < self._max_age:
            return
        async with self._lock:
            if not force and time.monotonic() - self._loaded_at < self._max_age:
                return
            async with pool.acquire() as conn:
                published = await key_repository.published(conn)
            self._keys = [self._load(stored) for stored in published]
            self._imported = {k.kid: k.key for k in self._keys}
            self._jwks_json = json.dumps(self.jwks(), separators=(",", ":")).encode()
            self._key_set = KeySet([k.key for k in self._keys])
            self._loaded_at = time.monotonic()

    def _load(self, stored: PublishedKey) -> StoredKey:
        key = self._imported.get(stored.kid)
        if key is None:
            private = json.loads(
                crypto.decrypt(self._secret_key, stored.private_enc, context=stored.kid)
            )
            key = ECKey.import_key(private) if stored.alg == "ES256" else RSAKey.import_key(private)
        return StoredKey(
            kid=stored.kid,
            alg=stored.alg,
            key=key,
            public_jwk=dict(stored.public_jwk),
            activates_at=stored.activates_at,
            retires_at=stored.retires_at,
        )

    def signing_key(self, alg: str) -> StoredKey:
        now = utcnow()
        active = [
            k
            for k in self._keys
            if k.alg == alg
            and k.activates_at <= now
            and (k.retires_at is None or k.retires_at > now)
        ]
        if not active:
            raise LookupError(f"no active {alg} signing key")
        return max(active, key=lambda k: k.activates_at)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk for k in self._keys]}

    def jwks_json(self) -> bytes:
        """The JWK Set as served, encoded once per reload rather than once per request."""
        return self._jwks_json

    def verification_keys(self) -> KeySet:
        return self._key_set


class KeyService:
    def __init__(self, repository: KeyRepository) -> None:
        self._repository = repository

    async def _create(self, conn: Conn, secret_key: str, alg: str, activates_at: datetime) -> str:
        kid = f"{alg.lower()}-{utcnow():%Y%m%d}-{uuid.uuid4().hex[:8]}"
        # RSA generation takes tens of milliseconds: off the event loop.
        key = await asyncio.to_thread(_generate, alg, kid)
        private = json.dumps(key.as_dict(private=True)).encode()
        await self._repository.insert(
            conn,
            kid=kid,
            alg=alg,
            private_enc=crypto.encrypt(secret_key, private, context=kid),
            public_jwk=key.as_dict(private=False),
            activates_at=activates_at,
        )
        return kid

    async def ensure(self, conn: Conn, secret_key: str) -> None:
        """Create a first key per algorithm, active at once, when there is none."""
        async with conn.transaction():
            await self._repository.lock(conn)
            for alg in ALGORITHMS:
                if await self._repository.count(conn, alg) == 0:
                    await self._create(conn, secret_key, alg, utcnow())

    async def rotate(
        self, conn: Conn, secret_key: str, *, publish_delay: int, token_ttl: int
    ) -> list[str]:
        """Publish a new key per algorithm now; it signs after ``publish_delay`` seconds, when
        the current one retires; the retired one is dropped after ``token_ttl`` more (plus a
        minute of clock leeway)."""
        activates_at = utcnow() + timedelta(seconds=publish_delay)
        drop_after = activates_at + timedelta(seconds=token_ttl + 60)
        kids = []
        async with conn.transaction():
            await self._repository.lock(conn)
            for alg in ALGORITHMS:
                await self._repository.retire_current(
                    conn, alg=alg, retires_at=activates_at, drop_after=drop_after
                )
                kids.append(await self._create(conn, secret_key, alg, activates_at))
        return kids


keys = KeyService(key_repository)
