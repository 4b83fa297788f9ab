from __future__ import annotations

from pydantic import BaseModel, Field


class SignedOut(BaseModel):
    """What an administrator's sign-out of an account ended."""

    user_id: str
    sessions_ended: int = Field(
        description="Live sessions ended; each platform they signed into is told by back-channel "
        "logout (OIDC Back-Channel Logout 1.0), each Shared Signals receiver by a SET."
    )
