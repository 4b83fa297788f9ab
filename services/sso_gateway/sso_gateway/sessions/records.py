"""What the sessions repository returns: a live browser session with its account, and the
session an end (a revocation or the expiry sweep) ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class BrowserSession:
    """A live session (``sid`` in ID tokens, OIDC Back-Channel Logout 1.0 §2.1) and the
    account it authenticated."""

    id: str
    user_id: str
    auth_time: datetime
    last_used_at: datetime
    """As stored: up to a tenth of ``session_idle_ttl`` behind the last use."""
    email: str
    display_name: str
    username: str | None
    roles: list[str]


@dataclass(frozen=True, slots=True)
class EndedSession:
    """A session ended now (it was live until this call), and why."""

    id: str
    user_id: str
    reason: str
