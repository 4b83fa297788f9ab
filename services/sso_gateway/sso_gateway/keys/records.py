"""What the signing-keys repository returns: a published key as stored, its private half
still encrypted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class PublishedKey:
    """A key in the JWKS (RFC 7517): not dropped yet, whether it signs now or not."""

    kid: str
    alg: str
    private_enc: bytes = field(repr=False)
    public_jwk: dict[str, Any]
    created_at: datetime
    activates_at: datetime
    retires_at: datetime | None
    drop_after: datetime | None
