"""The canonical bytes of a log entry: what RFC 6962 §2.1 calls ``d(m)``, the input of the leaf
hash ``SHA-256(0x00 || d(m))``.

A leaf is the UTF-8 JSON object below, keys sorted, no insignificant whitespace, non-ASCII
characters as themselves (the same bytes as RFC 8785 JCS for these value types: strings,
integers, null, and objects/arrays of strings)::

    {"actor": "user:u-1" | null, "data_ct": "<base64 of nonce||AES-GCM ciphertext>",
     "data_subject": "u-1", "facets": {...}, "id": "<ce_id>", "index": 42, "key_id": 7,
     "source": "/vigie/sso_gateway", "subject": "u-1",
     "time": "2026-11-29T05:40:00.123456Z", "topic": "access.events.v1",
     "type": "vigie.access.suspended", "v": 1}

The leaf index is inside the leaf, so moving a row to another position changes its hash; the
payload is inside only as ciphertext, so shredding its key never changes the leaf.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from audit_log.merkle import leaf_hash

LEAF_VERSION = 1

# One encoder for every leaf: ``json.dumps`` with options builds a new one per call, which cost
# about as much as the encoding itself. Same options, so the same bytes.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Leaf:
    index: int
    event_id: str
    topic: str
    type: str
    source: str
    subject: str
    actor: str | None
    time: datetime
    data_subject: str
    key_id: int
    data_ct: bytes
    facets: dict[str, Any] = field(default_factory=dict)

    def canonical(self) -> bytes:
        document = {
            "v": LEAF_VERSION,
            "index": self.index,
            "id": self.event_id,
            "topic": self.topic,
            "type": self.type,
            "source": self.source,
            "subject": self.subject,
            "actor": self.actor,
            "time": format_time(self.time),
            "data_subject": self.data_subject,
            "key_id": self.key_id,
            "facets": self.facets,
            "data_ct": base64.b64encode(self.data_ct).decode(),
        }
        return _CANONICAL.encode(document).encode()

    def hash(self) -> bytes:
        return leaf_hash(self.canonical())
