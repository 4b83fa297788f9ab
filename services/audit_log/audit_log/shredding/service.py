"""Data keys per (data subject, topic, month): sealing new payloads, opening stored ones, and
destroying keys for erasure (GDPR Art. 17) and retention (GDPR Art. 5(1)(e))."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from audit_log.shredding.crypto import KeyWrapper
from audit_log.shredding.repository import KeyName, KeyRepository, key_repository
from vigie_shared.kit.db import Conn
from vigie_shared.kit.secrets import NONCE_SIZE, open_sealed, seal

log = logging.getLogger(__name__)


# The payload's plaintext: compact JSON (one encoder, not one per payload).
_PAYLOAD_JSON = json.JSONEncoder(separators=(",", ":"))
_GCM_TAG_SIZE = 16
"""AESGCM's tag, appended to the ciphertext (NIST SP 800-38D, the 128-bit tag)."""


@dataclass(frozen=True)
class SealingKeys:
    """The keys of one batch: a subject's live key, or a throwaway one for an entry dated before
    the subject's erasure."""

    erased: dict[str, datetime]
    live: dict[KeyName, tuple[int, AESGCM]]
    throwaway: dict[KeyName, tuple[int, AESGCM]]

    def for_entry(self, name: KeyName, time: datetime) -> tuple[int, AESGCM]:
        erased_at = self.erased.get(name[0])
        if erased_at is not None and time < erased_at:
            return self.throwaway[name]
        return self.live[name]


def period_of(time: datetime) -> date:
    return date(time.year, time.month, 1)


def payload_plaintext(data: Mapping[str, Any]) -> bytes:
    """What :meth:`Keys.seal_payload` seals: the payload as compact JSON."""
    return _PAYLOAD_JSON.encode(data).encode()


def _aad(name: KeyName) -> bytes:
    return "\x00".join((name[0], name[1], name[2].isoformat())).encode()


def _month_start(day: date) -> date:
    return date(day.year, day.month, 1)


class Keys:
    def __init__(self, secret: str, repository: KeyRepository = key_repository) -> None:
        self._wrapper = KeyWrapper(secret)
        self._repository = repository

    async def sealing_keys(
        self, conn: Conn, wanted: Iterable[tuple[KeyName, datetime]]
    ) -> SealingKeys:
        """The keys to seal entries ``(key name, event time)`` with, one lookup per batch. The
        caller's transaction must hold the tree's writer lock: two writers never race to create
        a key, and an erasure (which takes the same lock) is wholly before or after this batch.

        An entry about a subject erased *after* its event time (it reached the log late) is
        sealed under a throwaway key that is never stored, so the erasure covers it too (GDPR
        Art. 17). Entries dated after the erasure get the subject's live key, created anew: an
        erasure destroys what was known then, it does not forbid recording later facts (the
        erasure's own accountability events, GDPR Art. 5(2), or a new account with that id).
        """
        times: dict[KeyName, list[datetime]] = {}
        for name, time in wanted:
            times.setdefault(name, []).append(time)
        erased = await self._repository.erased_at(conn, sorted({name[0] for name in times}))
        live: list[KeyName] = []
        late: list[KeyName] = []
        for name, name_times in sorted(times.items()):
            erased_at = erased.get(name[0])
            if erased_at is None or max(name_times) >= erased_at:
                live.append(name)
            if erased_at is not None and min(name_times) < erased_at:
                late.append(name)
        keys = SealingKeys(erased, await self._live_keys(conn, live), {})
        if late:
            for key in await self._repository.throwaway_ids(
                conn, late, "erased before this entry was recorded: throwaway key, never stored"
            ):
                keys.throwaway[key.name] = (key.id, AESGCM(AESGCM.generate_key(256)))
        return keys

    async def _live_keys(
        self, conn: Conn, names: Sequence[KeyName]
    ) -> dict[KeyName, tuple[int, AESGCM]]:
        """Key id and cipher of each name, created when missing. A key created here is used in
        clear as generated (no unwrap); an existing one is unwrapped once for the batch."""
        if not names:
            return {}
        out: dict[KeyName, tuple[int, AESGCM]] = {}
        for key in await self._repository.share_lock(conn, names):
            out[key.name] = (key.id, AESGCM(self._wrapper.unwrap(key.wrapped, _aad(key.name))))
        missing = [name for name in names if name not in out]
        if missing:
            generated = {name: self._wrapper.new_wrapped(_aad(name)) for name in missing}
            inserted = await self._repository.insert(
                conn, [(name, wrapped) for name, (_, wrapped) in generated.items()]
            )
            for new in inserted:
                out[new.name] = (new.id, AESGCM(generated[new.name][0]))
            raced = [name for name in missing if name not in out]
            if raced:  # created meanwhile by a writer not holding the tree lock: use theirs
                for key in await self._repository.share_lock(conn, raced):
                    clear = self._wrapper.unwrap(key.wrapped, _aad(key.name))
                    out[key.name] = (key.id, AESGCM(clear))
        return out

    @staticmethod
    def sealed_size(plaintext_size: int) -> int:
        """The length of :meth:`seal_payload`'s blob: nonce, ciphertext, 128-bit GCM tag."""
        return NONCE_SIZE + plaintext_size + _GCM_TAG_SIZE

    @staticmethod
    def seal_payload(key: AESGCM, event_id: str, plaintext: bytes) -> bytes:
        """Seal a payload's :func:`payload_plaintext`, bound to its event id."""
        return seal(key, plaintext, event_id.encode())

    async def open_payloads(
        self, conn: Conn, items: Sequence[tuple[int, str, bytes]]
    ) -> list[dict[str, Any] | None]:
        """Clear payloads of ``(key_id, event_id, data_ct)``; None where the key was shredded."""
        stored = await self._repository.by_ids(conn, sorted({i[0] for i in items}))
        keys: dict[int, AESGCM] = {
            key.id: AESGCM(self._wrapper.unwrap(key.wrapped, _aad(key.name))) for key in stored
        }
        out: list[dict[str, Any] | None] = []
        for key_id, event_id, sealed in items:
            key = keys.get(key_id)
            if key is None:
                out.append(None)
                continue
            try:
                out.append(json.loads(open_sealed(key, sealed, event_id.encode())))
            except InvalidTag:
                log.error("payload of %s does not decrypt: altered ciphertext", event_id)
                out.append(None)
        return out

    async def erase(self, conn: Conn, data_subject: str, reason: str) -> int:
        """Destroy the subject's data keys and record the erasure, so entries about the subject
        dated before now that reach the log later are sealed unreadable (``sealing_keys``). The
        caller's transaction must hold the tree's writer lock (``TreeService.lock_writer``):
        otherwise a batch being ingested could create a key this erasure does not see.
        ``reason`` names the request: a replay keeps the first run's erasure time."""
        await self._repository.record_erasure(conn, data_subject, reason)
        return await self._repository.destroy_subject(conn, data_subject, reason)

    async def sweep(
        self, conn: Conn, now: datetime, default_days: int, by_topic: Mapping[str, int]
    ) -> int:
        """Destroy the keys of months wholly older than the retention period (an entry is
        shredded at most one month after it expires)."""
        shredded = await self._repository.destroy_before(
            conn,
            _month_start((now - timedelta(days=default_days)).date()),
            f"retention {default_days} days",
            topics=list(by_topic),
            exclude=True,
        )
        for topic, days in by_topic.items():
            shredded += await self._repository.destroy_before(
                conn,
                _month_start((now - timedelta(days=days)).date()),
                f"retention {days} days",
                topics=[topic],
                exclude=False,
            )
        return shredded
