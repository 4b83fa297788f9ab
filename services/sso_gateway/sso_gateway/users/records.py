"""What the users repository returns besides the public view of an account (``UserPublic``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LoginAccount:
    """A live, unrestricted account a login form names, with what checks its password."""

    id: str
    password_hash: str = field(repr=False)
