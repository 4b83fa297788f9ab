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

import json
from binascii import b2a_base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from audit_log.merkle import leaf_hash

LEAF_VERSION = 1

MAX_LEAF_BYTES = 0xFFFF
"""The longest leaf the log appends: a tlog-tiles entry bundle (c2sp.org/tlog-tiles) prefixes
each entry with a big-endian uint16 length, so a longer leaf would be in the tree and its hash
tiles but in no entry bundle, and no tlog-tiles client could check it."""

_MAX_BIGINT_DIGITS = len(str(2**63 - 1))
"""Digits of the largest leaf index or key id (both PostgreSQL ``bigint``, non-negative)."""

# One encoder for every leaf: ``json.dumps`` with options builds a new one per call, which cost
# about as much as the encoding itself.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# The string escaper that encoder applies (``ensure_ascii=False``): quotes, backslashes and
# control characters escaped, everything else as itself.
_string = json.encoder.encode_basestring
# The leaf's last member and its closing brace, formatted once.
_VERSION_TAIL = f',"v":{LEAF_VERSION:d}}}'


def format_time(value: datetime) -> str:
    utc = value if value.tzinfo is UTC else value.astimezone(UTC)
    if utc.year < 1000:  # strftime does not pad such a year to four digits
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same text as that strftime (or isoformat), cheaper: this runs once per leaf.
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond,
    )


def facets_json(facets: Mapping[str, Any]) -> str:
    """The facets as canonical JSON (keys sorted, no whitespace), as they appear in the leaf."""
    return _CANONICAL.encode(facets) if facets else "{}"


class LeafFields(Protocol):
    """What a leaf's bytes are made of besides its index, key id and ciphertext: a stored
    ``Leaf`` and an entry about to be appended (``tree.service.NewEntry``) both have it."""

    @property
    def event_id(self) -> str: ...
    @property
    def topic(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def actor(self) -> str | None: ...
    @property
    def time(self) -> datetime: ...
    @property
    def data_subject(self) -> str: ...
    @property
    def facets(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class LeafText:
    """A leaf's canonical bytes but for what only the tree's writer knows (the index, the data
    key's id and the ciphertext), so that the rest is written before the writer's lock is taken.

    Written field by field in sorted key order: the same bytes as ``_CANONICAL.encode`` of the
    document (tests/audit_log/tree/test_leaf_canonical.py holds them equal), for less CPU per leaf.
    """

    head: bytes
    middle: bytes
    tail: bytes

    @classmethod
    def of(cls, e: LeafFields) -> LeafText:
        actor = "null" if e.actor is None else _string(e.actor)
        return cls(
            f'{{"actor":{actor},"data_ct":"'.encode(),
            (
                f'","data_subject":{_string(e.data_subject)},"facets":{facets_json(e.facets)},'
                f'"id":{_string(e.event_id)},"index":'
            ).encode(),
            (
                f',"source":{_string(e.source)},"subject":{_string(e.subject)},'
                f'"time":"{format_time(e.time)}","topic":{_string(e.topic)},"type":{_string(e.type)}'
                f"{_VERSION_TAIL}"
            ).encode(),
        )

    def size_at_most(self, data_ct_size: int) -> int:
        """The longest :meth:`render` can be with a ciphertext of ``data_ct_size`` bytes,
        whatever index and key id the writer gives it."""
        encoded = 4 * -(-data_ct_size // 3)  # base64, padded (RFC 4648 section 4)
        fixed = len(self.head) + len(self.middle) + len(b',"key_id":') + len(self.tail)
        return fixed + encoded + 2 * _MAX_BIGINT_DIGITS

    def render(self, index: int, key_id: int, data_ct: bytes) -> bytes:
        return b"".join(
            (
                self.head,
                b2a_base64(data_ct, newline=False),
                self.middle,
                b"%d" % index,
                b',"key_id":%d' % key_id,
                self.tail,
            )
        )


class EntryTooLarge(ValueError):
    """A leaf longer than :data:`MAX_LEAF_BYTES`."""


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
        text = LeafText.of(self)
        return text.render(self.index, self.key_id, self.data_ct)

    def hash(self) -> bytes:
        return leaf_hash(self.canonical())
