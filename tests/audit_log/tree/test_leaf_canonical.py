"""The leaf's bytes are written field by field for speed; they must stay, byte for byte, the JSON
document they were defined as (docs/audit-log.md): every stored leaf hash depends on it."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from audit_log.tree.leaf import LEAF_VERSION, Leaf, facets_json, format_time

_REFERENCE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def reference_canonical(leaf: Leaf) -> bytes:
    """The definition: the document with its keys sorted, no whitespace, non-ASCII as itself."""
    document = {
        "v": LEAF_VERSION,
        "index": leaf.index,
        "id": leaf.event_id,
        "topic": leaf.topic,
        "type": leaf.type,
        "source": leaf.source,
        "subject": leaf.subject,
        "actor": leaf.actor,
        "time": leaf.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "data_subject": leaf.data_subject,
        "key_id": leaf.key_id,
        "facets": leaf.facets,
        "data_ct": base64.b64encode(leaf.data_ct).decode(),
    }
    return _REFERENCE.encode(document).encode()


def leaf(**changes: Any) -> Leaf:
    fields: dict[str, Any] = {
        "index": 42,
        "event_id": "0b6f5d1e-5a4c-4d0e-9a57-0f7f4f3c1e2a",
        "topic": "access.events.v1",
        "type": "vigie.access.suspended",
        "source": "/vigie/sso_gateway",
        "subject": "u-1",
        "actor": "system:grace-scheduler",
        "time": datetime(2026, 11, 29, 5, 40, 0, 123456, tzinfo=UTC),
        "data_subject": "u-1",
        "key_id": 7,
        "data_ct": bytes(range(60)),
        "facets": {"debt_ids": ["d-1", "d-2"]},
    }
    fields.update(changes)
    return Leaf(**fields)


AWKWARD = [
    "",
    "Léa Müller",
    "名前",
    "emoji \U0001f600 and \u2028 line separator",
    'quote " backslash \\ slash /',
    "controls \x00 \x01 \x1f \t \n \r \b \f \x7f",
    "\ud7ff\ue000\uffff",
]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"actor": None},
        {"facets": {}},
        {"facets": {"channel": "CPA", "debt_id": "d-9"}},
        {"facets": {"z": "last", "a": "first", "m": ["x", "é"], "nested": {"b": 1, "a": None}}},
        {"index": 0, "key_id": 0},
        {"index": 2**62, "key_id": 2**53 + 1},
        {"data_ct": b""},
        {"data_ct": b"\xff" * 31},
        {"time": datetime(2026, 1, 1, tzinfo=UTC)},
        {"time": datetime(2026, 3, 29, 2, 30, 5, 1, tzinfo=timezone(timedelta(hours=2)))},
        {"time": datetime(2026, 3, 29, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-9)))},
        {"time": datetime(999, 12, 31, 23, 0, tzinfo=UTC)},
        {"time": datetime(1, 1, 1, tzinfo=UTC)},
        {"time": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)},
        *({name: text} for text in AWKWARD for name in ("event_id", "actor", "subject")),
        *({"topic": t, "type": t, "source": t, "data_subject": t} for t in AWKWARD),
        {"facets": {text: text for text in AWKWARD}},
    ],
)
def test_the_leaf_bytes_are_the_sorted_compact_json_document(changes: dict[str, Any]) -> None:
    subject = leaf(**changes)
    assert subject.canonical() == reference_canonical(subject)
    json.loads(subject.canonical())


def test_random_leaves_keep_the_reference_bytes() -> None:
    rng = random.Random(9)
    alphabet = [chr(c) for c in (*range(0x00, 0x80), 0xE9, 0x2028, 0x5B57, 0xFFFD, 0x1F600)]

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 24)))

    for _ in range(2000):
        subject = leaf(
            index=rng.randrange(2**40),
            event_id=text(),
            topic=text(),
            type=text(),
            source=text(),
            subject=text(),
            actor=rng.choice([None, text()]),
            time=datetime(2000, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(10**16)),
            data_subject=text(),
            key_id=rng.randrange(2**31),
            data_ct=rng.randbytes(rng.randrange(0, 300)),
            facets=rng.choice([{}, {text(): text()}, {"debt_ids": [text(), text()]}]),
        )
        assert subject.canonical() == reference_canonical(subject)


def test_the_facets_stored_beside_the_leaf_are_the_leaf_s_own_json() -> None:
    facets = {"debt_id": "d-1", "channel": "card", "debt_ids": ["d-é"]}
    assert json.loads(facets_json(facets)) == facets
    assert facets_json(facets) in leaf(facets=facets).canonical().decode()
    assert facets_json({}) == "{}"


def test_time_is_utc_with_microseconds_and_z() -> None:
    paris = timezone(timedelta(hours=1))
    assert format_time(datetime(2026, 2, 1, 0, 30, tzinfo=paris)) == "2026-01-31T23:30:00.000000Z"
