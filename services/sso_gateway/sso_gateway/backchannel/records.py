"""What the deliveries repository returns: deliveries leased to a worker, and those not
delivered yet that the admin API shows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery leased to this worker until its lease expires."""

    id: int
    claim_id: uuid.UUID
    client_id: str
    uri: str
    claims: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class Undelivered:
    """A logout token tried and not delivered yet (``failed_at``: given up on)."""

    id: int
    client_id: str
    uri: str
    attempts: int
    last_error: str | None
    next_at: datetime
    failed_at: datetime | None
    created_at: datetime
