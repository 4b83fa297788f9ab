"""What the sessions repository returns: a live browser session with its account, and the
session a revocation ended."""

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
    email: str
    display_name: str
    username: str | None
    roles: list[str]


@dataclass(frozen=True, slots=True)
class EndedSession:
    """A session revoked now (it was live until this call)."""

    id: str
    user_id: str
