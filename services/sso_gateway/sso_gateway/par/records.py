"""What the pushed-request repository returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PushedRequest:
    """An authorization request a client pushed (RFC 9126 §2.1), still usable: its
    parameters as they were pushed, in order, client authentication removed, ``client_id``
    apart; ``created_at``: when it was pushed."""

    client_id: str
    parameters: tuple[tuple[str, str], ...]
    created_at: datetime
    expires_at: datetime
