from __future__ import annotations

import json
from decimal import Decimal

import pytest

from vigie_shared.events import (
    EVENT_TYPES,
    SERVICE_SOURCES,
    Actor,
    DebtReminded,
    DpoTaskCompleted,
    PaymentChannel,
    TaskAction,
    UserCreated,
    new_event,
)
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.cloudevents import (
    MAX_EVENT_BYTES,
    MAX_EXPORT_EVENT_BYTES,
    MalformedEvent,
    decode,
    encode,
)


def _reminder() -> DebtReminded:
    return DebtReminded(
        debt_id="d-1",
        learner_id="u-1",
        channel=PaymentChannel.CPA,
        amount=Decimal("120.50"),
        reminded_at=utcnow(),
    )


def test_encode_uses_binary_mode_headers_json_body_and_subject_key() -> None:
    event = new_event(_reminder(), subject="u-1", source="/accounting/test")
    record = encode(event)
    headers = dict(record.headers)
    assert record.topic == "billing.events.v1"
    assert record.key == b"u-1"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"vigie.billing.debt.reminded"
    assert headers["ce_id"] == event.id.encode()
    assert headers["ce_subject"] == b"u-1"
    assert headers["content-type"] == b"application/json"
    assert json.loads(record.value or b"")["amount"] == "120.50"


def test_decode_round_trips_every_field() -> None:
    event = new_event(_reminder(), subject="u-1", source="/accounting/test")
    record = encode(event)
    decoded = decode(record.headers, record.value)
    assert decoded == event
    assert isinstance(decoded.data, DebtReminded)
    assert decoded.data.grace_days == 8


def test_every_catalog_type_is_vigie_prefixed_and_on_a_catalog_topic() -> None:
    from vigie_shared import topics

    assert len(EVENT_TYPES) == 30
    for event_type, cls in EVENT_TYPES.items():
        assert event_type.startswith("vigie.")
        assert cls.topic in topics.ALL


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h, v: (h, b"{not json"), "not JSON"),
        (lambda h, v: ([(k, b"vigie.nope" if k == "ce_type" else x) for k, x in h], v), "unknown"),
        (lambda h, v: ([(k, x) for k, x in h if k != "ce_id"], v), "missing header"),
        (lambda h, v: (h, b'{"user_id": 3}'), "invalid"),
        (lambda h, v: ([(k, b"0.3" if k == "ce_specversion" else x) for k, x in h], v), "spec"),
        (lambda h, v: ([(k, b"\xff" if k == "ce_source" else x) for k, x in h], v), "UTF-8"),
        (lambda h, v: ([(k, b"/moodle" if k == "ce_source" else x) for k, x in h], v), "source"),
        (lambda h, v: (h, v[:-1] + b', "pad": "' + b"x" * MAX_EVENT_BYTES + b'"}'), "exceeds"),
    ],
    ids=[
        "bad-json",
        "unknown-type",
        "missing-id",
        "bad-data",
        "old-spec",
        "bad-utf8",
        "foreign-source",
        "oversized",
    ],
)
def test_malformed_records_are_refused_with_a_reason(mutate: object, reason: str) -> None:
    event = new_event(
        UserCreated(user_id="u-1", email="a@b.fr", display_name="A"),
        subject="u-1",
        source=SERVICE_SOURCES["sso_gateway"],
    )
    record = encode(event)
    headers, value = mutate(list(record.headers), record.value)  # type: ignore[operator]
    with pytest.raises(MalformedEvent) as caught:
        decode(headers, value)
    assert reason in caught.value.reason


def test_actor_is_part_of_access_events() -> None:
    from vigie_shared.events import AccessSuspended

    data = AccessSuspended(
        learner_id="u-1", debt_ids=["d-1"], reason="unpaid", actor=Actor(kind="system", id="grace")
    )
    assert json.loads(data.model_dump_json())["actor"] == {"kind": "system", "id": "grace"}


def _export(source: str, size: int) -> tuple[list[tuple[str, bytes]], bytes | None]:
    answer = DpoTaskCompleted(
        task_id="t-1",
        request_id="r-1",
        system="moodle",
        action=TaskAction.EXPORT,
        data={"login_history": "x" * size},
    )
    record = encode(new_event(answer, subject="r-1", source=source))
    return record.headers, record.value


def test_a_data_systems_export_may_exceed_the_ordinary_bound_up_to_the_record_limit() -> None:
    # Any data system answers tasks, under its own source; an export grows with a person's
    # history, so it is bounded by what the broker takes, not by the ordinary bound.
    headers, value = _export("/platforms/moodle", MAX_EVENT_BYTES + 1024)
    decoded = decode(headers, value)
    assert isinstance(decoded.data, DpoTaskCompleted)
    headers, value = _export("/platforms/moodle", MAX_EXPORT_EVENT_BYTES)
    with pytest.raises(MalformedEvent, match="exceeds"):
        decode(headers, value)


@pytest.mark.parametrize("source", ["/moodle", "/vigie/sso_gateway", "/accountingx", "/"])
def test_billing_facts_from_anyone_but_the_accounting_system_are_refused(source: str) -> None:
    """A forged ``debt.reminded`` would suspend a learner, a forged ``debt.settled`` restore
    one: a consumer refuses them unless they come from the accounting system."""
    record = encode(new_event(_reminder(), subject="u-1", source=source))
    with pytest.raises(MalformedEvent, match="may not emit"):
        decode(record.headers, record.value)


def test_billing_facts_from_the_accounting_system_are_taken() -> None:
    for source in ("/accounting", "/accounting/simulator", "/accounting/sifac"):
        record = encode(new_event(_reminder(), subject="u-1", source=source))
        assert decode(record.headers, record.value).source == source
