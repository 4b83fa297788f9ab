"""What the data-rights repository returns: the personal data the gateway holds on a person
(GDPR Art. 15), as stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Profile:
    """An account, erased or restricted ones included (the DPO's tasks concern them too)."""

    id: str
    username: str | None
    email: str
    display_name: str
    roles: list[str]
    created_at: datetime
    updated_at: datetime
    restricted_at: datetime | None
    erased_at: datetime | None


@dataclass(frozen=True, slots=True)
class LoginEntry:
    at: datetime
    ip: str | None
    succeeded: bool


@dataclass(frozen=True, slots=True)
class SessionEntry:
    """A browser session and the platforms it signed into."""

    id: str
    auth_time: datetime
    expires_at: datetime
    revoked_at: datetime | None
    ip: str | None
    platforms: list[str]
