"""What the signals repository returns: receivers' streams, the SETs leased to a push worker
or waiting for a poll, and each stream's delivery state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Stream:
    """A receiver's event stream (SSF §8.1.1) as stored."""

    id: str
    client_id: str
    audience: str
    events_requested: list[str]
    events_delivered: list[str]
    delivery_method: str
    endpoint_url: str | None
    authorization_enc: bytes | None = field(repr=False)
    """The push ``Authorization`` header the receiver asked for, sealed (``kit.secrets``)."""
    description: str | None
    subject_format: str
    status: str
    status_reason: str | None
    dropped: int
    """Events discarded because the stream was paused with its queue full."""
    created_at: datetime
    updated_at: datetime
    verification_requested_at: datetime | None = None
    """When the receiver last asked for a verification event (SSF §8.1.4.2)."""


@dataclass(frozen=True, slots=True)
class Subject:
    """The account an event is about, as its subject identifiers need it (SSF §3)."""

    id: str
    email: str


@dataclass(frozen=True, slots=True)
class ClaimedPush:
    """A SET leased to this worker for a push (RFC 8935) until the lease expires."""

    id: int
    claim_id: uuid.UUID
    stream_id: str
    client_id: str
    endpoint_url: str
    authorization_enc: bytes | None = field(repr=False)
    signing_alg: str
    claims: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class QueuedSet:
    """A SET waiting for the receiver to poll and acknowledge it (RFC 8936)."""

    id: int
    jti: str
    signing_alg: str
    claims: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """How a stream's SETs stand: what waits, what arrived, what was given up on."""

    stream_id: str
    client_id: str
    delivery_method: str
    status: str
    pending: int
    delivered: int
    failed: int
    dropped: int
    last_error: str | None
    last_delivered_at: datetime | None
