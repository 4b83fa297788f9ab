"""Data keys per (data subject, topic, month): sealing new payloads, opening stored ones, and
destroying keys for erasure (GDPR Art. 17) and retention (GDPR Art. 5(1)(e))."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag

from audit_log.shredding.crypto import KeyWrapper, open_sealed, seal
from audit_log.shredding.repository import KeyName, KeyRepository, key_repository
from vigie_shared.kit.db import Conn

log = logging.getLogger(__name__)


def period_of(time: datetime) -> date:
    return date(time.year, time.month, 1)


def _aad(name: KeyName) -> bytes:
    return "\x00".join((name[0], name[1], name[2].isoformat())).encode()


def _month_start(day: date) -> date:
    return date(day.year, day.month, 1)


class Keys:
    def __init__(self, secret: str, repository: KeyRepository = key_repository) -> None:
        self._wrapper = KeyWrapper(secret)
        self._repository = repository

    async def data_keys(
        self, conn: Conn, names: Iterable[KeyName]
    ) -> dict[KeyName, tuple[int, bytes]]:
        """Key id and clear data key for each name, created when missing (in the caller's
        transaction, which must hold the tree lock so two writers never race here)."""
        wanted = sorted(set(names))
        rows = await self._repository.share_lock(conn, wanted)
        have = {(r["data_subject"], r["topic"], r["period"]) for r in rows}
        missing = [name for name in wanted if name not in have]
        if missing:
            await self._repository.insert(
                conn, [(name, self._wrapper.new_wrapped(_aad(name))[1]) for name in missing]
            )
            rows += await self._repository.share_lock(conn, missing)
        out: dict[KeyName, tuple[int, bytes]] = {}
        for row in rows:
            name = (row["data_subject"], row["topic"], row["period"])
            out[name] = (row["id"], self._wrapper.unwrap(bytes(row["wrapped_key"]), _aad(name)))
        return out

    @staticmethod
    def seal_payload(data_key: bytes, event_id: str, data: Mapping[str, Any]) -> bytes:
        return seal(data_key, json.dumps(data, separators=(",", ":")).encode(), event_id.encode())

    async def open_payloads(
        self, conn: Conn, items: Sequence[tuple[int, str, bytes]]
    ) -> list[dict[str, Any] | None]:
        """Clear payloads of ``(key_id, event_id, data_ct)``; None where the key was shredded."""
        rows = await self._repository.by_ids(conn, sorted({i[0] for i in items}))
        keys: dict[int, bytes] = {}
        for row in rows:
            name = (row["data_subject"], row["topic"], row["period"])
            keys[row["id"]] = self._wrapper.unwrap(bytes(row["wrapped_key"]), _aad(name))
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
