from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class EntryFilter(BaseModel):
    subject: str | None = Field(None, description="CloudEvent subject (learner id, request id).")
    data_subject: str | None = Field(None, description="The person the payload is about.")
    actor: str | None = Field(None, examples=["user:u-1234", "service:accounting"])
    type: str | None = Field(None, examples=["vigie.access.suspended"])
    source: str | None = Field(None, examples=["/vigie/sso_gateway"])
    since: datetime | None = Field(None, description="Event time, inclusive.")
    until: datetime | None = Field(None, description="Event time, exclusive.")


class EntryPublic(BaseModel):
    index: int = Field(description="Leaf index in the Merkle tree (0-based, contiguous).")
    event_id: str
    topic: str
    type: str
    source: str
    subject: str
    actor: str | None
    time: datetime
    data_subject: str
    facets: dict[str, Any]
    data: dict[str, Any] | None = Field(description="The payload; null once crypto-shredded.")
    shredded: bool
    leaf_hash: str = Field(description="base64 of SHA-256(0x00 || leaf), RFC 6962 §2.1.")
    leaf: str = Field(description="base64 of the canonical leaf bytes (docs/audit-log.md).")


class EntryPage(BaseModel):
    entries: list[EntryPublic]
    next_after: int | None = Field(
        None, description="Pass as `after` for the next page; null on the last page."
    )
