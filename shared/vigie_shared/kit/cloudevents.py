"""CloudEvents 1.0 Kafka protocol binding, binary content mode (cloudevents/spec kafka-protocol-
binding.md, section 3.2): attributes as ``ce_*`` headers, ``content-type`` header, value = data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from vigie_shared.events import (
    EVENT_TYPES,
    SPECVERSION,
    CloudEvent,
    DpoTaskCompleted,
    EventData,
    source_allowed,
)

CONTENT_TYPE = "application/json"
Headers = list[tuple[str, bytes]]

MAX_EVENT_BYTES = 256 * 1024
"""The largest value a consumer accepts. Vigie's events are a few hundred bytes; one far larger
is a faulty or hostile producer's, and would otherwise be stored for ever (the audit log keeps
every event): it goes to the dead-letter topic instead."""

MAX_EXPORT_EVENT_BYTES = 1024 * 1024
"""The bound for a data system's answer, which carries the subject's exported data inline
(``DpoTaskCompleted.data``: a login history, audit entries; GDPR Art. 15(3)) and grows with the
person's history. It is the producers' own record limit (Kafka's ``message.max.bytes`` and the
client's ``max_request_size``, 1 MiB by default): an answer that could be published is never
refused here; a larger export must travel by ``data_ref``."""

_MAX_BYTES: dict[str, int] = {DpoTaskCompleted.event_type: MAX_EXPORT_EVENT_BYTES}


class MalformedEvent(Exception):
    """A record that is not a Vigie CloudEvent: it goes to the dead-letter topic, unchanged."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class KafkaRecord:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)


def encode(event: CloudEvent[Any]) -> KafkaRecord:
    data: EventData = event.data
    headers: Headers = [
        ("ce_specversion", SPECVERSION.encode()),
        ("ce_id", event.id.encode()),
        ("ce_source", event.source.encode()),
        ("ce_type", event.type.encode()),
        ("ce_time", event.time.isoformat().encode()),
        ("ce_subject", event.subject.encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]
    return KafkaRecord(
        topic=data.topic,
        key=event.subject.encode(),
        value=data.model_dump_json().encode(),
        headers=headers,
    )


def header_map(headers: Sequence[tuple[str, bytes | None]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, raw in headers or ():
        if raw is None:
            continue
        try:
            out[name] = raw.decode()
        except UnicodeDecodeError as exc:
            raise MalformedEvent(f"header {name!r} is not UTF-8") from exc
    return out


# Parametrised once: ``CloudEvent[EventData]`` looks the class up in pydantic's generic cache on
# every use.
_ENVELOPE = CloudEvent[EventData]

_REQUIRED = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject")


def decode(
    headers: Sequence[tuple[str, bytes | None]] | None, value: bytes | None
) -> CloudEvent[EventData]:
    """Parse a record into its typed event or raise :class:`MalformedEvent` saying why."""
    attrs = header_map(headers)
    missing = [name for name in _REQUIRED if not attrs.get(name)]
    if missing:
        raise MalformedEvent(f"missing header(s): {', '.join(missing)}")
    if attrs["ce_specversion"] != SPECVERSION:
        raise MalformedEvent(f"unsupported specversion {attrs['ce_specversion']!r}")
    content_type = attrs.get("content-type", CONTENT_TYPE).split(";")[0].strip()
    if content_type != CONTENT_TYPE:
        raise MalformedEvent(f"unsupported content-type {content_type!r}")
    event_type = attrs["ce_type"]
    data_cls = EVENT_TYPES.get(event_type)
    if data_cls is None:
        raise MalformedEvent(f"unknown event type {event_type!r}")
    # Checked before parsing, so an oversized value costs no parse.
    size, bound = len(value or b""), _MAX_BYTES.get(event_type, MAX_EVENT_BYTES)
    if size > bound:
        raise MalformedEvent(f"{event_type} of {size} bytes exceeds {bound} bytes")
    if not source_allowed(event_type, attrs["ce_source"]):
        # docs/architecture.md, Events: each type has one producer; another source is a misrouted or
        # misconfigured producer, not a fact to act on (events.ALLOWED_SOURCES).
        raise MalformedEvent(f"source {attrs['ce_source']!r} may not emit {event_type}")
    try:
        # Parsed and validated in one pass by pydantic-core (no json.loads into Python objects
        # first): decoding is a good part of a consumer's cost per event.
        data = data_cls.model_validate_json(value or b"")
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise MalformedEvent(f"body is not JSON: {exc}") from exc
        raise MalformedEvent(f"invalid {event_type}: {exc}") from exc
    try:
        time = datetime.fromisoformat(attrs["ce_time"])
    except ValueError as exc:
        raise MalformedEvent(f"invalid {event_type}: {exc}") from exc
    return _ENVELOPE(
        id=attrs["ce_id"],
        source=attrs["ce_source"],
        type=event_type,
        time=time,
        subject=attrs["ce_subject"],
        data=data,
    )
